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
