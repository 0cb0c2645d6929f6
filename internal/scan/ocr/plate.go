package ocr

import (
	"context"
	_ "embed"
	"image"
	"math"
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

// PlateGlyphs is one candidate text line of a plate photo: the features of
// each glyph and whether a gap precedes it.
type PlateGlyphs struct {
	Features  [][]float32
	GapBefore []bool
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
	// Glyphs that touch (blur) form one wide component: split it evenly.
	type box struct{ x0, x1 float64 }
	var boxes []box
	cellOf := func(x0, x1 float64) []float32 {
		f := make([]float32, NumFeatures)
		// The cell keeps the glyph's width (I is narrow, W wide) but never
		// less than a narrow glyph's room.
		w := math.Max(x1-x0+1, 0.5*capH) * 1.15
		s.features((x0+x1)/2, w, f)
		return f
	}
	topScore := func(f []float32) float64 {
		sc := m.Scores(f)
		best := sc[0]
		for _, v := range sc {
			best = math.Max(best, v)
		}
		return best
	}
	for _, c := range gl {
		w := float64(c.w())
		k := 1
		if w > 1.0*capH {
			k = int(math.Round(w / (0.62 * capH)))
		}
		if k == 1 && m != nil && w > 0.7*capH {
			// One wide glyph (W, M) or two narrow ones run together by
			// blur: the classifier tells which reads better.
			x0, x1 := float64(c.minX), float64(c.maxX)
			xm := (x0 + x1) / 2
			if (topScore(cellOf(x0, xm))+topScore(cellOf(xm, x1)))/2 > topScore(cellOf(x0, x1))+0.5 {
				k = 2
			}
		}
		for j := 0; j < k; j++ {
			boxes = append(boxes, box{float64(c.minX) + w*float64(j)/float64(k), float64(c.minX) + w*float64(j+1)/float64(k)})
		}
	}
	for i, b := range boxes {
		g.Features = append(g.Features, cellOf(b.x0, b.x1))
		gap := i > 0 && b.x0-boxes[i-1].x1 > 0.42*capH
		g.GapBefore = append(g.GapBefore, gap)
	}
	return g
}

// PlateReading is what ReadPlate found.
type PlateReading struct {
	// Plate is the most likely valid reading, normalised ("K-AB 1234").
	Plate string `json:"plate"`
	// Candidates are all valid readings of the recognised text.
	Candidates []plate.Plate `json:"candidates"`
	// Text is the recognised characters, gaps as spaces.
	Text string `json:"text"`
}

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
	var best *PlateReading
	bestMean := plateMaxMeanCost
	for _, g := range lines {
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
		r := &PlateReading{Plate: rs[0].p.Plate, Text: b.String()}
		for _, c := range rs {
			if c.cost-rs[0].cost > plateCandidateSpan || len(r.Candidates) >= 8 {
				break
			}
			r.Candidates = append(r.Candidates, *c.p)
		}
		best, bestMean = r, mean
	}
	return best
}
