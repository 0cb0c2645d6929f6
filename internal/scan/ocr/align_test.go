package ocr

import (
	"math"
	"testing"
)

// TestFitGridBentPitch draws a line of n glyphs whose pitch bends along the
// line more than the linear grid follows (a cubic term), and checks that
// the aligned grid puts every cell centre on its glyph.
func TestFitGridBentPitch(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
		bend float64 // pixels of cubic bend (0: a straight, even line)
	}{
		{"even TD1", 30, 0},
		{"even TD3", 44, 0},
		{"bent TD1", 30, 160},
		{"bent TD3", 44, 220},
		{"bent TD3 other way", 44, -220},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const pitch = 25.0
			truth := make([]float64, tc.n)
			for k := range truth {
				u := float64(k) / float64(tc.n-1)
				truth[k] = 100 + pitch*float64(k) + tc.bend*(u*u*u-1.5*u*u+0.5*u)
			}
			p := make([]float32, int(truth[tc.n-1])+200)
			for _, c := range truth {
				for x := int(c - 0.3*pitch); x <= int(c+0.3*pitch); x++ {
					p[x] += 10
				}
			}
			xs, xe := inkExtent(p)
			got := fitGrid(p, tc.n, pitchPerCap, stripCap, xs, xe, true, alignStiff)
			if len(got) != tc.n {
				t.Fatalf("got %d centres, want %d", len(got), tc.n)
			}
			for k, c := range got {
				if math.Abs(c-truth[k]) > 0.25*pitch {
					t.Errorf("cell %d at %.1f, glyph at %.1f", k, c, truth[k])
				}
			}
		})
	}
}

// drawLine returns a column profile of glyphs centred at truth: a plain
// glyph is a block of ink 0.6 pitches wide; where wide[k] is set, the
// glyph is an H (or N, M): two heavy strokes at its edges and a thin bar
// between them, which the ink and gaps alone read as two narrow glyphs.
func drawLine(truth []float64, pitch float64, wide map[int]bool) []float32 {
	p := make([]float32, int(truth[len(truth)-1]+200))
	for k, c := range truth {
		if !wide[k] {
			for x := int(c - 0.3*pitch); x <= int(c+0.3*pitch); x++ {
				p[x] += 10
			}
			continue
		}
		for x := int(c - 0.42*pitch); x <= int(c+0.42*pitch); x++ {
			if d := math.Abs(float64(x) - c); d > 0.26*pitch {
				p[x] += 22 // the strokes
			} else {
				p[x] += 2 // the bar
			}
		}
	}
	return p
}

// TestSharedGridWideGlyphs: a name line with wide two-stroke glyphs (H,
// N, M) where the pitch is widest is cut with one glyph split in two by
// its own alignment; the grid shared with the line below (same pitch,
// same columns) puts every cell on its glyph in both lines. Each line is
// resampled into its own strip, so the line below may start elsewhere and
// be scaled a little.
func TestSharedGridWideGlyphs(t *testing.T) {
	const n, pitch, bend = 44, 25.0, 260.0
	for _, tc := range []struct {
		name         string
		shift, scale float64 // the lower line's strip against the upper's
	}{
		{"same strip", 0, 1},
		{"lower line shifted and wider", 37, 1.03},
		{"lower line narrower", -12, 0.97},
	} {
		t.Run(tc.name, func(t *testing.T) {
			truth := [2][]float64{make([]float64, n), make([]float64, n)}
			for k := range n {
				u := float64(k) / float64(n-1)
				truth[0][k] = 100 + pitch*float64(k) + bend*(u*u*u-1.5*u*u+0.5*u)
				truth[1][k] = tc.shift + tc.scale*truth[0][k]
			}
			wide := map[int]bool{3: true, 4: true, 9: true}
			lines := [][]float32{drawLine(truth[0], pitch, wide), drawLine(truth[1], tc.scale*pitch, nil)}
			var geo []lineGeo
			for _, p := range lines {
				xs, xe := inkExtent(p)
				geo = append(geo, lineGeo{prof: p, xs: xs, xe: xe})
			}
			off := func(c, truth []float64) (worst float64, at int) {
				for k := range c {
					if d := math.Abs(c[k] - truth[k]); d > worst {
						worst, at = d, k
					}
				}
				return worst, at
			}
			own := fitGrid(lines[0], n, pitchPerCap, stripCap, geo[0].xs, geo[0].xe, true, alignStiff)
			if w, _ := off(own, truth[0]); w <= 0.25*pitch {
				t.Fatalf("the line's own grid already fits (worst %.1f px): the case tests nothing", w)
			}
			cs := sharedGrid(geo, n, true, alignStiff)
			if len(cs) != 2 {
				t.Fatalf("got %d lines", len(cs))
			}
			for i, c := range cs {
				if w, k := off(c, truth[i]); w > 0.25*pitch {
					t.Errorf("line %d: cell %d %.1f px off its glyph", i, k, w)
				}
			}
		})
	}
}
