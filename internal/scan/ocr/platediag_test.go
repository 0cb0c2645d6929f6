package ocr

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/wache/wache/internal/scan/synth"
)

// platePhoto renders plate i of level li of the accuracy set (the seeds of
// TestPlateAccuracy). With WACHE_SCAN_CACHE=dir the JPEG is kept there and
// reused (clear the folder after changing the renderer).
func platePhoto(t testing.TB, fonts *synth.Fonts, li, i int) (synth.PlateTruth, []byte) {
	lvl := synth.PlateLevels[li]
	rng := rand.New(rand.NewPCG(515151+uint64(li), uint64(i)))
	p := synth.RandomPlate(rng)
	dir := os.Getenv("WACHE_SCAN_CACHE")
	file := filepath.Join(dir, fmt.Sprintf("plate-%s-%d.jpg", lvl.Name, i))
	if dir != "" {
		if b, err := os.ReadFile(file); err == nil {
			return p, b
		}
	}
	ph, err := synth.RenderPlate(fonts, p, lvl, 1280, 960, rng)
	if err != nil {
		t.Fatal(err)
	}
	if dir != "" {
		os.WriteFile(file, ph.JPEG, 0o644)
	}
	return p, ph.JPEG
}

// plateTruthGlyphs is the plate's glyphs as classes (umlauts as the plain
// vowel, which is how the classifier sees them).
func plateTruthGlyphs(p synth.PlateTruth) string {
	return strings.NewReplacer("Ä", "A", "Ö", "O", "Ü", "U").Replace(p.District + p.Letters + p.Digits + p.Suffix)
}

// plateMissStage tells at which stage a reading of truth went wrong:
// "locate" (no candidate line holds the plate, or another line won),
// "segment" (the plate line's glyph count cannot be aligned with the
// plate's glyphs by dropping at most two at either end), "classify"
// (aligned, but some top-1 glyphs are wrong) or "decode" (every aligned
// top-1 glyph right, the decoder still chose another reading).
func plateMissStage(m *Model, ex []PlateGlyphs, chosen int, truth string) (stage, detail string) {
	bestLine, bestDist := -1, len(truth)
	tops := make([]string, len(ex))
	for li, g := range ex {
		var b strings.Builder
		for _, f := range g.Features {
			b.WriteByte(m.Classes[argmax(m.Scores(f))])
		}
		tops[li] = b.String()
		if d := levenshtein(tops[li], truth); d < bestDist {
			bestLine, bestDist = li, d
		}
	}
	if bestLine < 0 || bestDist > len(truth)/2 {
		return "locate", fmt.Sprintf("no line holds the plate (lines %q)", tops)
	}
	if chosen != bestLine && levenshtein(tops[chosen], truth) > bestDist {
		return "locate", fmt.Sprintf("line %d %q won over the plate line %d %q", chosen, tops[chosen], bestLine, tops[bestLine])
	}
	top := tops[bestLine]
	errs := -1
	for a := 0; a <= 2; a++ {
		if a+len(truth) > len(top) || len(top)-a-len(truth) > 2 {
			continue
		}
		e := 0
		for k := range truth {
			if top[a+k] != truth[k] {
				e++
			}
		}
		if errs < 0 || e < errs {
			errs = e
		}
	}
	switch {
	case errs < 0:
		return "segment", fmt.Sprintf("%d glyphs %q for %d %q", len(top), top, len(truth), truth)
	case errs > 0:
		return "classify", fmt.Sprintf("%d top-1 errors in %q for %q", errs, top, truth)
	}
	return "decode", fmt.Sprintf("top-1 %q right", top)
}

func argmax(v []float64) int {
	best := 0
	for i := range v {
		if v[i] > v[best] {
			best = i
		}
	}
	return best
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// diagPlateModel returns the plate model, replaced by the file
// WACHE_PLATE_MODEL if set (to try a new model before embedding it).
func diagPlateModel(t testing.TB) *Model {
	m, err := defaultPlateModel()
	if err != nil {
		t.Fatal(err)
	}
	if f := os.Getenv("WACHE_PLATE_MODEL"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m = &Model{}
		if err := m.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		plateModel = m
	}
	return m
}

// TestPlateDiagnose sorts the misses of the plate accuracy set by stage
// (plateMissStage) and shows how well the reading's confidence
// (PlateReading.Margin) separates right from wrong readings.
// WACHE_SCAN_DIAG=N plates per level (the first N of TestPlateAccuracy,
// or WACHE_SCAN_DIAG_FROM=k for indices k…k+N-1), WACHE_SCAN_LEVELS as
// there, WACHE_SCAN_VERBOSE=1 lists every miss.
func TestPlateDiagnose(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("WACHE_SCAN_DIAG"))
	if n == 0 {
		t.Skip("set WACHE_SCAN_DIAG=N to run")
	}
	from, _ := strconv.Atoi(os.Getenv("WACHE_SCAN_DIAG_FROM"))
	fonts := loadFonts(t)
	m := diagPlateModel(t)
	for li, lvl := range synth.PlateLevels {
		if !levelWanted(lvl.Name) {
			continue
		}
		stages := map[string]int{}
		var exact, among, notFound int
		var right, wrong [][2]float64 // margin, worst glyph cost
		for i := from; i < from+n; i++ {
			p, jp := platePhoto(t, fonts, li, i)
			img, _ := jpeg.Decode(bytes.NewReader(jp))
			truth := plateTruthGlyphs(p)
			ex := ExtractPlates(img, 4)
			r, chosen, _ := decodePlateLines(m, ex)
			if r == nil {
				notFound++
				stage, detail := "locate", "no line"
				if len(ex) > 0 {
					stage, detail = plateMissStage(m, ex, 0, truth)
				}
				stages["not found: "+stage]++
				if os.Getenv("WACHE_SCAN_VERBOSE") != "" {
					t.Logf("%s #%d: not found, want %q: %s: %s", lvl.Name, i, p.Plate, stage, detail)
				}
				continue
			}
			if r.Plate == p.Plate {
				exact++
				right = append(right, [2]float64{r.Margin, r.Worst})
				if r.Uncertain && os.Getenv("WACHE_SCAN_VERBOSE") == "2" {
					t.Logf("%s #%d: right but uncertain: %q (%q, margin %.1f, worst %.1f)", lvl.Name, i, r.Plate, r.Text, r.Margin, r.Worst)
				}
				continue
			}
			wrong = append(wrong, [2]float64{r.Margin, r.Worst})
			cand := false
			for _, c := range r.Candidates {
				cand = cand || c.Plate == p.Plate
			}
			if cand {
				among++
			}
			stage, detail := plateMissStage(m, ex, chosen, truth)
			stages[stage]++
			if os.Getenv("WACHE_SCAN_VERBOSE") != "" {
				t.Logf("%s #%d: read %q (%q, margin %.1f, worst %.1f, among candidates %v), want %q: %s: %s", lvl.Name, i, r.Plate, r.Text, r.Margin, r.Worst, cand, p.Plate, stage, detail)
			}
		}
		var keys []string
		for k := range stages {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&b, " %s=%d", k, stages[k])
		}
		t.Logf("%s: plates %d-%d: exact %d, right among candidates %d, not found %d; misses by stage:%s", lvl.Name, from, from+n-1, exact, among, notFound, b.String())
		flagged := func(v [][2]float64, mt, wt float64) int {
			k := 0
			for _, x := range v {
				if x[0] < mt || x[1] > wt {
					k++
				}
			}
			return k
		}
		for _, mt := range []float64{0, 1, 2, 3} {
			for _, wt := range []float64{0.5, 1, 2, 100} {
				t.Logf("%s: margin < %.0f or worst glyph > %.1f nats: %d of %d wrong readings caught, %d of %d right readings flagged too", lvl.Name, mt, wt, flagged(wrong, mt, wt), len(wrong), flagged(right, mt, wt), len(right))
			}
		}
		t.Logf("%s: rule in use (margin < %.1f or worst > %.1f): %d of %d wrong caught, %d of %d right flagged", lvl.Name, plateConfidentMargin, plateMaxGlyphCost, flagged(wrong, plateConfidentMargin, plateMaxGlyphCost), len(wrong), flagged(right, plateConfidentMargin, plateMaxGlyphCost), len(right))
	}
}

// TestPlateDump writes the photo and the candidate strips of one plate of
// the accuracy set, glyph cells marked, as PNG files
// (WACHE_SCAN_PLATE_DUMP=level:index into WACHE_SCAN_DUMP_DIR).
func TestPlateDump(t *testing.T) {
	spec := os.Getenv("WACHE_SCAN_PLATE_DUMP")
	if spec == "" {
		t.Skip("set WACHE_SCAN_PLATE_DUMP=level:index")
	}
	name, num, _ := strings.Cut(spec, ":")
	idx, _ := strconv.Atoi(num)
	dir := os.Getenv("WACHE_SCAN_DUMP_DIR")
	fonts := loadFonts(t)
	m, _ := defaultPlateModel()
	for li, lvl := range synth.PlateLevels {
		if lvl.Name != name {
			continue
		}
		p, jp := platePhoto(t, fonts, li, idx)
		os.WriteFile(filepath.Join(dir, "photo.jpg"), jp, 0o644)
		img, _ := jpeg.Decode(bytes.NewReader(jp))
		for k, g := range ExtractPlates(img, 4) {
			s := g.s
			out := image.NewRGBA(image.Rect(0, 0, s.w, s.h))
			for y := 0; y < s.h; y++ {
				for x := 0; x < s.w; x++ {
					v := uint8(255 - 255*s.at(x, y))
					out.Set(x, y, color.RGBA{v, v, v, 255})
				}
			}
			var text strings.Builder
			for j, b := range g.boxes {
				for y := 0; y < 3; y++ {
					for x := int(b[0]); x <= int(b[1]); x++ {
						out.Set(x, y+3*(j%2), color.RGBA{255, 0, 0, 255})
					}
				}
				text.WriteByte(m.Classes[argmax(m.Scores(g.Features[j]))])
			}
			for x := 0; x < s.w; x++ {
				out.Set(x, s.top, color.RGBA{0, 0, 255, 255})
				out.Set(x, s.bot, color.RGBA{0, 0, 255, 255})
			}
			// Scaled up 4× so that the cells can be seen.
			big := image.NewRGBA(image.Rect(0, 0, 4*s.w, 4*s.h))
			for y := 0; y < 4*s.h; y++ {
				for x := 0; x < 4*s.w; x++ {
					big.Set(x, y, out.At(x/4, y/4))
				}
			}
			f, _ := os.Create(filepath.Join(dir, fmt.Sprintf("strip%d.png", k)))
			png.Encode(f, big)
			f.Close()
			t.Logf("strip %d: %q (want %q)", k, text.String(), p.Plate)
		}
	}
}
