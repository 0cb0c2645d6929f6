package ocr

import "testing"

// TestLocalBandBridgesDip draws a run of glyphs whose rows between the
// middle and the bottom bar hold little ink (3, 9, 5 side by side): the
// local capital band must still reach the bottom bar, or the glyphs'
// lower part is clipped and a 9 reads as O.
func TestLocalBandBridgesDip(t *testing.T) {
	const w, pitch = 240, 24
	for _, tc := range []struct {
		name     string
		dip      int // rows with a single thin stroke above the bottom bar
		rule     int // a printed rule across the strip at this row (0: none)
		top, bot int // the band wanted
	}{
		{"no dip", 0, 0, 13, 38},
		{"dip of 3 rows", 3, 0, 13, 38},
		{"dip of 4 rows", 4, 0, 13, 38},
		{"rule 6 rows below is not bridged", 3, 44, 13, 38},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &strip{w: w, h: stripH, ink: make([]float32, w*stripH), top: 13, bot: 38}
			for c := 12; c+12 < w; c += pitch {
				for y := 13; y <= 38; y++ {
					var xs []int
					switch {
					case y <= 16 || y >= 35: // top and bottom bars
						for x := c - 7; x < c+7; x++ {
							xs = append(xs, x)
						}
					case y >= 35-tc.dip: // one thin stroke
						xs = []int{c + 6, c + 7}
					default: // two strokes
						xs = []int{c - 7, c - 6, c - 5, c + 5, c + 6, c + 7}
					}
					for _, x := range xs {
						s.ink[y*w+x] = 1
					}
				}
			}
			if tc.rule > 0 {
				for x := range w {
					s.ink[tc.rule*w+x] = 1
				}
			}
			top, bot := s.localBand(w/2, pitch)
			if top != tc.top || bot != tc.bot {
				t.Errorf("band %d-%d, want %d-%d", top, bot, tc.top, tc.bot)
			}
		})
	}
}
