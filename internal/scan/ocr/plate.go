package ocr

import (
	"context"
	_ "embed"
	"image"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"

	"github.com/wache/wache"
	"github.com/wache/wache/internal/scan/plate"
)

// PlateClasses are the characters of German plates the plate classifier
// tells apart. Umlauts (district codes such as GÖ) are not yet classes;
// plate.Readings offers the umlaut reading of an OCR "GO".
const PlateClasses = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

// plateJunk is the class of cells that are not one glyph (two glyphs run
// together, part of a glyph, a seal or screw); the plate model may have
// it after the characters. It is never read as a character.
const plateJunk = '#'

//go:embed din.model
var plateModelBytes []byte

var (
	plateModelOnce sync.Once
	plateModel     *Model
	plateModelErr  error
)

func defaultPlateModel() (*Model, error) {
	plateModelOnce.Do(func() {
		m := &Model{}
		if err := m.UnmarshalBinary(plateModelBytes); err != nil {
			plateModelErr = err
			return
		}
		plateModel = m
	})
	return plateModel, plateModelErr
}

// PlateModel returns the plate glyph classifier built into the binary.
func PlateModel() (*Model, error) { return defaultPlateModel() }

// PlateGlyphs is one candidate text line of a plate photo: the features of
// each glyph and whether a gap precedes it.
type PlateGlyphs struct {
	Features  [][]float32
	GapBefore []bool
	// boxes are the glyph cells' column ranges in s, capH the capital
	// height there (re-cuts for training, diagnosis).
	boxes [][2]float64
	capH  float64
	s     *strip
}

// ExtractPlates returns glyph features of the most plate-like text lines,
// best first.
func ExtractPlates(img image.Image, maxCands int) []PlateGlyphs {
	m, _ := defaultPlateModel() // nil: touching glyphs split by width only
	p := prepare(img)
	r := max(8, max(p.small.w, p.small.h)/50)
	ink := binarize(p.small, r)
	cs := components(ink, p.small.w, p.small.h, 200000)
	lines := findLinesMin(cs, 3)
	// Plate text: 3-10 glyphs, the tallest such line first.
	var ls []textLine
	for _, l := range lines {
		if l.glyphs >= 3 && l.glyphs <= 12 && l.h >= 8 {
			ls = append(ls, l)
		}
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i].h*float64(ls[i].glyphs) > ls[j].h*float64(ls[j].glyphs) })
	var out []PlateGlyphs
	for _, l := range ls {
		if len(out) >= maxCands {
			break
		}
		// Widen: a glyph beyond the seals may not have joined the chain.
		l.x0 -= 2.5 * l.h
		l.x1 += 2.5 * l.h
		l.x0 = math.Max(0, l.x0)
		l.x1 = math.Min(float64(p.small.w-1), l.x1)
		hFull := l.h * float64(p.factor)
		k := max(1, int(hFull/(stripCap*1.5)))
		s := sampleStrip(p.level(k), l, float64(p.factor)/float64(k), 1.5)
		if s == nil {
			continue
		}
		if g := s.plateGlyphs(m); len(g.Features) >= 3 {
			out = append(out, g)
		}
	}
	return out
}

// plateGlyphs segments the glyphs of a plate strip by connected ink. The
// strip was scaled so that the located glyphs are stripCap pixels high;
// the band is taken from the glyphs themselves, since the car body above
// and below the plate confuses a row profile.
func (s *strip) plateGlyphs(m *Model) PlateGlyphs {
	bin := make([]bool, len(s.ink))
	for i, v := range s.ink {
		bin[i] = v > 0.45
	}
	cs := components(bin, s.w, s.h, 5000)
	capH := float64(stripCap)
	mid := float64(s.h) / 2
	var gl []comp
	for _, c := range cs {
		h := float64(c.h())
		// Glyphs have the located height; seals, the EU band and dirt do not.
		if h < 0.7*capH || h > 1.4*capH || float64(c.w()) > 3.5*capH || c.area < 10 {
			continue
		}
		if math.Abs(c.bcy()-mid) > 0.35*capH {
			continue
		}
		gl = append(gl, c)
	}
	var g PlateGlyphs
	if len(gl) == 0 {
		return g
	}
	sort.Slice(gl, func(i, j int) bool { return gl[i].minY < gl[j].minY })
	s.top = gl[len(gl)/2].minY
	sort.Slice(gl, func(i, j int) bool { return gl[i].maxY < gl[j].maxY })
	s.bot = gl[len(gl)/2].maxY
	sort.Slice(gl, func(i, j int) bool { return gl[i].minX < gl[j].minX })
	g.s = s
	g.capH = capH
	prof := make([]float32, s.w)
	for y := s.top; y <= s.bot; y++ {
		for x := 0; x < s.w; x++ {
			prof[x] += s.ink[y*s.w+x]
		}
	}
	for _, c := range gl {
		for _, b := range s.splitGlyphs(m, prof, float64(c.minX), float64(c.maxX+1), capH) {
			g.boxes = append(g.boxes, b)
		}
	}
	for i, b := range g.boxes {
		g.Features = append(g.Features, s.plateCell(b[0], b[1], capH))
		gap := i > 0 && b[0]-g.boxes[i-1][1] > 0.42*capH
		g.GapBefore = append(g.GapBefore, gap)
	}
	return g
}

// plateCell cuts the features of the glyph in columns [x0, x1). The cell
// keeps the glyph's width (I is narrow, W wide) but never less than a
// narrow glyph's room.
func (s *strip) plateCell(x0, x1, capH float64) []float32 {
	f := make([]float32, NumFeatures)
	w := math.Max(x1-x0, 0.5*capH) * 1.15
	s.features((x0+x1)/2, w, f)
	return f
}

// Segmentation of touching glyphs. Blur joins neighbours (ZZ, LZ, XW,
// 44) into one component; an even split cuts a narrow and a wide glyph
// in the wrong place. A component is instead cut at columns of little ink
// wherever the classifier reads the pieces better than the whole.
const (
	// plateSplitMin is the narrowest component that may hold two glyphs
	// (two narrow ones such as 11), in capital heights.
	plateSplitMin = 0.5
	// plateGlyphMax is the widest single glyph (W is about 0.8).
	plateGlyphMax = 1.05
)

// plateSplitBonus (nats) is added per extra cell. 0 was better than
// -0.5 on phone plates 0-169: with the junk class the pieces of a whole
// glyph already cost more than the glyph, and a merged pair costs more as
// one glyph than as two.
const plateSplitBonus = 0.0

// splitGlyphs returns the glyph boxes of the component in columns
// [x0, x1): the cheapest way to cut it into glyphs at ink minima of the
// column profile prof, scored by the classifier (sum of the best
// log-probability per cell plus plateSplitBonus per extra cell).
func (s *strip) splitGlyphs(m *Model, prof []float32, x0, x1, capH float64) [][2]float64 {
	w := x1 - x0
	if w <= plateSplitMin*capH {
		return [][2]float64{{x0, x1}}
	}
	if m == nil {
		// No classifier: split evenly by width.
		k := max(1, int(math.Round(w/(0.62*capH))))
		var out [][2]float64
		for j := 0; j < k; j++ {
			out = append(out, [2]float64{x0 + w*float64(j)/float64(k), x0 + w*float64(j+1)/float64(k)})
		}
		return out
	}
	// Candidate cuts: local minima of the column ink, pieces at least a
	// narrow glyph wide.
	minPiece := 0.15 * capH
	var cuts []float64
	a, b := int(x0+minPiece), int(x1-minPiece)
	for x := max(a, 1); x <= min(b, len(prof)-2); x++ {
		if prof[x] <= prof[x-1] && prof[x] < prof[x+1] {
			cuts = append(cuts, float64(x)+0.5)
		}
	}
	// The deepest few only: a component holds at most three glyphs.
	if len(cuts) > 6 {
		sort.Slice(cuts, func(i, j int) bool { return prof[int(cuts[i])] < prof[int(cuts[j])] })
		cuts = cuts[:6]
	}
	pts := append([]float64{x0}, cuts...)
	pts = append(pts, x1)
	sort.Float64s(pts)
	// best[j]: cheapest segmentation of [x0, pts[j]) ending with a cut there.
	n := len(pts)
	best := make([]float64, n)
	from := make([]int, n)
	for j := 1; j < n; j++ {
		best[j] = math.Inf(-1)
		for i := 0; i < j; i++ {
			cw := pts[j] - pts[i]
			if math.IsInf(best[i], -1) || cw < minPiece || cw > plateGlyphMax*capH {
				continue
			}
			v := best[i] + plateTopScore(m, s.plateCell(pts[i], pts[j], capH))
			if i > 0 {
				v += plateSplitBonus
			}
			if v > best[j] {
				best[j], from[j] = v, i
			}
		}
	}
	if math.IsInf(best[n-1], -1) {
		// Wider than any glyph and no usable cut: split evenly.
		k := max(2, int(math.Round(w/(0.62*capH))))
		var out [][2]float64
		for j := 0; j < k; j++ {
			out = append(out, [2]float64{x0 + w*float64(j)/float64(k), x0 + w*float64(j+1)/float64(k)})
		}
		return out
	}
	var out [][2]float64
	for j := n - 1; j > 0; j = from[j] {
		out = append(out, [2]float64{pts[from[j]], pts[j]})
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// plateTopScore is the best log-probability of a cell over the plate's
// characters (a junk class, if the model has one, does not count).
func plateTopScore(m *Model, f []float32) float64 {
	sc := m.Scores(f)
	best := math.Inf(-1)
	for i, v := range sc {
		if m.Classes[i] != plateJunk {
			best = math.Max(best, v)
		}
	}
	return best
}

// Jitter cuts the glyph cells again with the centre moved by up to ±8 %
// of the cell, its width changed by up to ±8 % and the band moved by up
// to a pixel: training samples for the cuts the reader makes on worse
// photos.
func (g PlateGlyphs) Jitter(rng *rand.Rand) [][]float32 {
	var out [][]float32
	for _, b := range g.boxes {
		w := b[1] - b[0]
		c := (b[0]+b[1])/2 + (rng.Float64()*2-1)*0.08*w
		w *= 1 + (rng.Float64()*2-1)*0.08
		f := make([]float32, NumFeatures)
		cw := math.Max(w, 0.5*g.capH) * 1.15
		g.s.featuresBand(c, cw, g.s.top+rng.IntN(3)-1, g.s.bot+rng.IntN(3)-1, f)
		out = append(out, f)
	}
	return out
}

// JunkCells cuts cells that are not one glyph: two neighbours without a
// gap between them taken as one, and a part (30-70 %) of every glyph at
// least a third of a capital height wide. They teach the junk class, so
// that segmentation can tell a merged pair or a half glyph from a glyph.
func (g PlateGlyphs) JunkCells(rng *rand.Rand) [][]float32 {
	var out [][]float32
	for i, b := range g.boxes {
		if i > 0 && !g.GapBefore[i] {
			out = append(out, g.s.plateCell(g.boxes[i-1][0], b[1], g.capH))
		}
		w := b[1] - b[0]
		if w < g.capH/3 {
			continue
		}
		u := 0.3 + 0.4*rng.Float64()
		if rng.IntN(2) == 0 {
			out = append(out, g.s.plateCell(b[0], b[0]+u*w, g.capH))
		} else {
			out = append(out, g.s.plateCell(b[1]-u*w, b[1], g.capH))
		}
	}
	return out
}

// PlateReading is what ReadPlate found.
type PlateReading struct {
	// Plate is the most likely valid reading, normalised ("K-AB 1234").
	Plate string `json:"plate"`
	// Candidates are all valid readings of the recognised text.
	Candidates []plate.Plate `json:"candidates"`
	// Text is the recognised characters, gaps as spaces.
	Text string `json:"text"`
	// Margin is how much cheaper (nats) Plate is than the next valid
	// reading of the same glyphs (capped at plateMaxMargin); Worst is the
	// highest cost (−log p) of one glyph of Plate. Plates have no check
	// digit: a small margin or a weak glyph is the only sign of a misread.
	Margin float64 `json:"margin"`
	Worst  float64 `json:"worst"`
	// Uncertain is set when Margin is below plateConfidentMargin or
	// Worst above plateMaxGlyphCost: the candidates, not the plate alone,
	// should be shown and queried.
	Uncertain bool `json:"uncertain,omitempty"`
}

// Confidence rule (see PlateReading.Uncertain), chosen on phone plates
// 0-169 and checked on 170-339; plateMaxMargin caps the margin of a
// reading without rival.
const (
	plateConfidentMargin = 2.0
	plateMaxGlyphCost    = 1.0
)

const plateMaxMargin = 20.0

// ReadPlate finds and reads a German plate in a photo with the pure-Go
// recogniser. ENOTFOUND when no valid plate text is found.
func ReadPlate(ctx context.Context, img image.Image) (*PlateReading, error) {
	m, err := defaultPlateModel()
	if err != nil {
		return nil, wache.Errorf(wache.EUNAVAILABLE, "plate recogniser model missing")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if r := readPlateLines(m, ExtractPlates(img, 4)); r != nil {
		return r, nil
	}
	return nil, wache.Errorf(wache.ENOTFOUND, "no licence plate found in the photo")
}

// plateMaxMeanCost bounds the mean cost per glyph (nats) of a reading: a
// line of grille, lamps or other print decodes into some valid plate too,
// but only at a high cost.
const plateMaxMeanCost = 2.5

// readPlateLines decodes every candidate line and keeps the reading that
// fits its glyphs best (lowest mean cost per glyph).
func readPlateLines(m *Model, lines []PlateGlyphs) *PlateReading {
	r, _, _ := decodePlateLines(m, lines)
	return r
}

// decodePlateLines is readPlateLines that also returns the chosen line and
// all its valid readings, cheapest first.
func decodePlateLines(m *Model, lines []PlateGlyphs) (*PlateReading, int, []plateReading) {
	var best *PlateReading
	var bestRs []plateReading
	bestLine := -1
	bestMean := plateMaxMeanCost
	for li, g := range lines {
		var b strings.Builder
		sc := make([][]float64, len(g.Features))
		for i, f := range g.Features {
			if g.GapBefore[i] {
				b.WriteByte(' ')
			}
			sc[i] = m.Scores(f)
			top := 0
			for c := range sc[i] {
				if sc[i][c] > sc[i][top] {
					top = c
				}
			}
			b.WriteByte(m.Classes[top])
		}
		rs := decodePlate(m.Classes, sc, g.GapBefore)
		if len(rs) == 0 {
			continue
		}
		mean := rs[0].cost / float64(len(sc))
		if mean >= bestMean {
			continue
		}
		r := &PlateReading{Plate: rs[0].p.Plate, Text: b.String(), Worst: math.Round(100*rs[0].worst) / 100}
		r.Margin = math.Round(100*math.Min(plateMargin(m.Classes, sc, g.GapBefore, rs), plateMaxMargin)) / 100
		r.Uncertain = r.Margin < plateConfidentMargin || rs[0].worst > plateMaxGlyphCost
		for _, c := range rs {
			if c.cost-rs[0].cost > plateCandidateSpan || len(r.Candidates) >= 8 {
				break
			}
			r.Candidates = append(r.Candidates, *c.p)
		}
		best, bestMean, bestLine, bestRs = r, mean, li, rs
	}
	return best, bestLine, bestRs
}
