// Command ocrbtemplates builds the glyph classifiers embedded in
// internal/scan/ocr: ocrb.model (MRZ, OCR-B of Debian's fonts-ocr-b) and,
// with -kind plate, din.model (plates, DIN 1451 of fonts-opendin). It
// renders synthetic documents or car photos (through internal/scan/synth)
// under every distortion level, cuts the glyph cells with the same code
// the reader uses, adds jittered re-cuts, and trains a small softmax
// network on them. The plate model has a junk class as well (merged pairs,
// parts of glyphs), which the reader's segmentation relies on. The seeds
// differ from those of the accuracy tests.
//
//	go run ./tools/ocrbtemplates -docs 800 -out internal/scan/ocr/ocrb.model
//	go run ./tools/ocrbtemplates -kind plate -docs 800 -hidden 96 -jitter 3 -epochs 15 -min-agree 0.5 -out internal/scan/ocr/din.model
package main

import (
	"bytes"
	"encoding/gob"
	"flag"
	"image/jpeg"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/wache/wache/internal/scan/ocr"
	"github.com/wache/wache/internal/scan/synth"
)

// sample is one labelled glyph cell; features are kept as bytes (ink
// density × 255) so that many renders fit in memory and in the cache.
type sample struct {
	Q     []uint8
	Label int
	Doc   int // rendered document (held-out split by document)
}

func quantise(f []float32) []uint8 {
	q := make([]uint8, len(f))
	for i, v := range f {
		q[i] = uint8(math.Round(float64(min(max(v, 0), 1)) * 255))
	}
	return q
}

// features returns the cell as the classifier sees it.
func (s sample) features(buf []float32) []float32 {
	for i, v := range s.Q {
		buf[i] = float32(v) / 255
	}
	return buf[:len(s.Q)]
}

func main() {
	docs := flag.Int("docs", 800, "synthetic documents to render")
	out := flag.String("out", "internal/scan/ocr/ocrb.model", "model file to write")
	seed := flag.Uint64("seed", 900001, "random seed (tests use other seeds)")
	epochs := flag.Int("epochs", 20, "training epochs")
	workers := flag.Int("workers", 2, "rendering goroutines")
	kind := flag.String("kind", "mrz", "mrz (OCR-B, ocrb.model) or plate (DIN, din.model)")
	cache := flag.String("cache", "", "file to keep the rendered samples in (reused if present)")
	lr := flag.Float64("lr", 0.005, "initial SGD step")
	hidden := flag.Int("hidden", 96, "hidden ReLU units (0: linear model)")
	minAgree := flag.Float64("min-agree", 0.6, "drop documents whose cells the embedded model reads right less often than this")
	jitter := flag.Int("jitter", 3, "extra cuts per glyph with moved centre, pitch and band")
	first := flag.Int("first", 0, "index of the first document to render; with -cache and first > 0 the new samples are added to the cached ones")
	flag.Parse()
	classes := ocr.Classes
	if *kind == "plate" {
		classes = plateClasses
	}
	fonts, err := synth.LoadFonts()
	if err != nil {
		log.Fatal(err)
	}
	var mu sync.Mutex
	var dropped atomic.Int64
	var samples []sample
	if *cache != "" {
		if b, err := os.ReadFile(*cache); err == nil {
			if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&samples); err != nil {
				log.Fatal(err)
			}
			if *first == 0 {
				*docs = 0
			}
		}
	}
	var wg sync.WaitGroup
	jobs := make(chan int)
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				rng := rand.New(rand.NewPCG(*seed, uint64(i)))
				if *kind == "plate" {
					local := plateSamples(fonts, rng, i, *jitter, *minAgree)
					mu.Lock()
					samples = append(samples, local...)
					mu.Unlock()
					continue
				}
				doc := synth.RandomDoc(rng)
				lvl := synth.Levels[i%len(synth.Levels)]
				wd, ht := 1600, 1200
				if i%3 == 0 {
					wd, ht = 1280, 960
				}
				ph, err := synth.RenderDocument(fonts, doc, lvl, wd, ht, rng)
				if err != nil {
					log.Fatal(err)
				}
				img, err := jpeg.Decode(bytes.NewReader(ph.JPEG))
				if err != nil {
					log.Fatal(err)
				}
				ex := ocr.ExtractMRZ(img, 1)
				if len(ex) == 0 || len(ex[0].Lines) != len(doc.Lines) || len(ex[0].Lines[0]) != len(doc.Lines[0]) {
					continue
				}
				// A grid off by a cell would teach the neighbour's glyph:
				// drop documents the current model mostly disagrees with.
				if agree(ex[0].Lines, doc.Lines) < *minAgree {
					dropped.Add(1)
					continue
				}
				var local []sample
				cuts := [][][][]float32{ex[0].Lines}
				for j := 0; j < *jitter; j++ {
					cuts = append(cuts, ex[0].Jitter(rng))
				}
				for _, cut := range cuts {
					for li, line := range doc.Lines {
						for ci := 0; ci < len(line); ci++ {
							local = append(local, sample{Q: quantise(cut[li][ci]), Label: strings.IndexByte(ocr.Classes, line[ci]), Doc: i})
						}
					}
				}
				mu.Lock()
				samples = append(samples, local...)
				mu.Unlock()
			}
		}()
	}
	for i := *first; i < *first+*docs; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	log.Printf("%d glyph samples (%d documents dropped for disagreement)", len(samples), dropped.Load())
	if *kind == "plate" {
		perClass := make([]int, len(classes))
		for _, x := range samples {
			perClass[x.Label]++
		}
		log.Printf("samples per class %s: %v", classes, perClass)
	}
	if *cache != "" && *docs > 0 {
		var buf bytes.Buffer
		if err := gob.NewEncoder(&buf).Encode(samples); err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(*cache, buf.Bytes(), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(*seed, 1))
	rng.Shuffle(len(samples), func(i, j int) { samples[i], samples[j] = samples[j], samples[i] })
	// Every tenth document is held out (its jittered cuts with it).
	var test, train []sample
	for _, x := range samples {
		if x.Doc%10 == 9 {
			test = append(test, x)
		} else {
			train = append(train, x)
		}
	}
	var m *ocr.Model
	if *hidden > 0 {
		m = trainMLP(train, classes, *hidden, *epochs, *lr, rng)
	} else {
		m = trainSoftmax(train, classes, *epochs, *lr, rng)
	}
	log.Printf("train accuracy %.4f, held-out accuracy %.4f", accuracy(m, train), accuracy(m, test))
	b, _ := m.MarshalBinary()
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		log.Fatal(err)
	}
	log.Printf("wrote %s (%d bytes)", *out, len(b))
}

// agree returns the share of cells the embedded model reads as labelled.
func agree(cells [][][]float32, lines []string) float64 {
	m, err := ocr.EmbeddedModel()
	if err != nil {
		return 1
	}
	ok, n := 0, 0
	for li, line := range lines {
		for ci := 0; ci < len(line); ci++ {
			sc := m.Scores(cells[li][ci])
			best := 0
			for c := range sc {
				if sc[c] > sc[best] {
					best = c
				}
			}
			n++
			if m.Classes[best] == line[ci] {
				ok++
			}
		}
	}
	return float64(ok) / float64(max(n, 1))
}

func accuracy(m *ocr.Model, s []sample) float64 {
	ok := 0
	for _, x := range s {
		sc := m.Scores(x.features(make([]float32, len(x.Q))))
		best := 0
		for c := range sc {
			if sc[c] > sc[best] {
				best = c
			}
		}
		if best == x.Label {
			ok++
		}
	}
	return float64(ok) / float64(len(s))
}

// trainSoftmax fits multinomial logistic regression by SGD with a decaying
// step and a little L2 weight decay.
func trainSoftmax(s []sample, classes string, epochs int, lr0 float64, rng *rand.Rand) *ocr.Model {
	nc, nf := len(classes), ocr.NumFeatures
	w := make([]float64, nc*(nf+1))
	p := make([]float64, nc)
	buf := make([]float32, nf)
	for e := 0; e < epochs; e++ {
		lr := lr0 / (1 + 0.3*float64(e))
		rng.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
		for _, x := range s {
			xf := x.features(buf)
			maxv := math.Inf(-1)
			for c := 0; c < nc; c++ {
				row := w[c*(nf+1):]
				v := row[nf]
				for i, f := range xf {
					v += row[i] * float64(f)
				}
				p[c] = v
				maxv = math.Max(maxv, v)
			}
			sum := 0.0
			for c := range p {
				p[c] = math.Exp(p[c] - maxv)
				sum += p[c]
			}
			for c := 0; c < nc; c++ {
				g := p[c] / sum
				if c == x.Label {
					g -= 1
				}
				row := w[c*(nf+1):]
				for i, f := range xf {
					row[i] -= lr * (g*float64(f) + 1e-5*row[i])
				}
				row[nf] -= lr * g
			}
		}
	}
	m := &ocr.Model{Classes: classes, W: make([]float32, len(w))}
	for i, v := range w {
		m.W[i] = float32(v)
	}
	return m
}

// plateTrainLevel is the distortion of training plate i: the accuracy
// levels in turn, and every fourth plate a mix with wider ranges (more
// blur, noise and JPEG loss than the hard level at its worst), so that the
// model has seen worse cuts than it will be measured on.
func plateTrainLevel(i int, rng *rand.Rand) synth.Distortion {
	if i%4 < 3 {
		return synth.PlateLevels[i%4]
	}
	return synth.Distortion{Name: "mixed", MaxRotate: 12, Perspective: 0.07,
		Blur: [2]float64{0.2, 2.4}, Noise: 2 + 10*rng.Float64(), GlareProb: 0.4, GlareMax: 0.6,
		JPEG: [2]int{45, 90}, DocFill: [2]float64{0.45, 0.9}}
}

// plateSamples renders one synthetic plate photo and labels the glyph
// cells the reader's own segmentation cuts (when it finds as many glyphs
// as the plate has and the current model mostly agrees), with jitter
// re-cuts of every cell and junk cells (merged pairs, parts of glyphs)
// labelled as the junk class. Umlauts are labelled as their vowel (the
// decoder reads Ü with U's score).
func plateSamples(fonts *synth.Fonts, rng *rand.Rand, i, jitter int, minAgree float64) []sample {
	p := synth.RandomPlate(rng)
	text := strings.NewReplacer("Ä", "A", "Ö", "O", "Ü", "U").Replace(p.District + p.Letters + p.Digits + p.Suffix)
	lvl := plateTrainLevel(i, rng)
	ph, err := synth.RenderPlate(fonts, p, lvl, 1280, 960, rng)
	if err != nil {
		log.Fatal(err)
	}
	img, err := jpeg.Decode(bytes.NewReader(ph.JPEG))
	if err != nil {
		log.Fatal(err)
	}
	m, _ := ocr.PlateModel()
	var line *ocr.PlateGlyphs
	bestAgree := minAgree
	for _, g := range ocr.ExtractPlates(img, 4) {
		if len(g.Features) != len(text) {
			continue
		}
		ok := 0
		for k, f := range g.Features {
			sc := m.Scores(f)
			best := 0
			for c := range sc {
				if sc[c] > sc[best] {
					best = c
				}
			}
			if m.Classes[best] == text[k] {
				ok++
			}
		}
		if a := float64(ok) / float64(len(text)); a >= bestAgree {
			g := g
			line, bestAgree = &g, a
		}
	}
	if line == nil {
		return nil
	}
	junk := strings.IndexByte(plateClasses, '#')
	var out []sample
	cuts := [][][]float32{line.Features}
	for j := 0; j < jitter; j++ {
		cuts = append(cuts, line.Jitter(rng))
	}
	for _, cut := range cuts {
		for k := 0; k < len(text); k++ {
			out = append(out, sample{Q: quantise(cut[k]), Label: strings.IndexByte(plateClasses, text[k]), Doc: i})
		}
	}
	for _, f := range line.JunkCells(rng) {
		out = append(out, sample{Q: quantise(f), Label: junk, Doc: i})
	}
	return out
}

// plateClasses are the plate model's classes: the characters and a junk
// class for cells that are not one glyph.
const plateClasses = ocr.PlateClasses + "#"

// trainMLP fits a one-hidden-layer ReLU network with softmax output by
// plain SGD.
func trainMLP(s []sample, classes string, nh, epochs int, lr0 float64, rng *rand.Rand) *ocr.Model {
	nc, nf := len(classes), ocr.NumFeatures
	w1 := make([]float64, nh*(nf+1))
	w2 := make([]float64, nc*(nh+1))
	for i := range w1 {
		w1[i] = rng.NormFloat64() * math.Sqrt(2/float64(nf))
	}
	for i := range w2 {
		w2[i] = rng.NormFloat64() * math.Sqrt(1/float64(nh))
	}
	h := make([]float64, nh)
	gh := make([]float64, nh)
	buf := make([]float32, nf)
	p := make([]float64, nc)
	for e := 0; e < epochs; e++ {
		lr := lr0 / (1 + 0.25*float64(e))
		rng.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
		for _, x := range s {
			xf := x.features(buf)
			for j := 0; j < nh; j++ {
				row := w1[j*(nf+1):]
				v := row[nf]
				for i, f := range xf {
					v += row[i] * float64(f)
				}
				h[j] = math.Max(v, 0)
			}
			maxv := math.Inf(-1)
			for c := 0; c < nc; c++ {
				row := w2[c*(nh+1):]
				v := row[nh]
				for j := 0; j < nh; j++ {
					v += row[j] * h[j]
				}
				p[c] = v
				maxv = math.Max(maxv, v)
			}
			sum := 0.0
			for c := range p {
				p[c] = math.Exp(p[c] - maxv)
				sum += p[c]
			}
			for j := range gh {
				gh[j] = 0
			}
			for c := 0; c < nc; c++ {
				g := p[c] / sum
				if c == x.Label {
					g -= 1
				}
				if math.Abs(g) < 1e-6 {
					continue
				}
				row := w2[c*(nh+1):]
				for j := 0; j < nh; j++ {
					gh[j] += g * row[j]
					row[j] -= lr * g * h[j]
				}
				row[nh] -= lr * g
			}
			for j := 0; j < nh; j++ {
				if h[j] <= 0 || gh[j] == 0 {
					continue
				}
				row := w1[j*(nf+1):]
				g := gh[j]
				for i, f := range xf {
					row[i] -= lr * g * float64(f)
				}
				row[nf] -= lr * g
			}
		}
		log.Printf("epoch %d done", e+1)
	}
	m := &ocr.Model{Classes: classes, Hidden: nh, W1: make([]float32, len(w1)), W: make([]float32, len(w2))}
	for i, v := range w1 {
		m.W1[i] = float32(v)
	}
	for i, v := range w2 {
		m.W[i] = float32(v)
	}
	return m
}
