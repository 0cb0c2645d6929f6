package ocr

import (
	"bytes"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/wache/wache/internal/scan/plate"
	"github.com/wache/wache/internal/scan/synth"
)

// TestPlateDiagnose compares, on the plate accuracy set, the glyph count
// found with the plate's (segmentation), per-glyph top-1 errors
// (classification), and the old (top-1 text, then plate.Readings) against
// the scored decoding. WACHE_SCAN_DIAG=N plates per level.
func TestPlateDiagnose(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("WACHE_SCAN_DIAG"))
	if n == 0 {
		t.Skip("set WACHE_SCAN_DIAG=N to run")
	}
	fonts := loadFonts(t)
	m, _ := defaultPlateModel()
	for li, lvl := range synth.PlateLevels {
		var none, short, long, okLen, glyphErr, oldExact, newExact int
		for i := 0; i < n; i++ {
			rng := rand.New(rand.NewPCG(515151+uint64(li), uint64(i)))
			p := synth.RandomPlate(rng)
			ph, _ := synth.RenderPlate(fonts, p, lvl, 1280, 960, rng)
			img, _ := jpeg.Decode(bytes.NewReader(ph.JPEG))
			truth := []rune(p.District + p.Letters + p.Digits + p.Suffix)
			ex := ExtractPlates(img, 4)
			if len(ex) == 0 {
				none++
				continue
			}
			g := ex[0]
			switch {
			case len(g.Features) < len(truth):
				short++
			case len(g.Features) > len(truth):
				long++
			default:
				okLen++
			}
			sc := make([][]float64, len(g.Features))
			var text strings.Builder
			for k, f := range g.Features {
				sc[k] = m.Scores(f)
				best := 0
				for c := range sc[k] {
					if sc[k][c] > sc[k][best] {
						best = c
					}
				}
				if g.GapBefore[k] {
					text.WriteByte(' ')
				}
				text.WriteByte(m.Classes[best])
				if len(g.Features) == len(truth) {
					tr := truth[k]
					switch tr {
					case 'Ä':
						tr = 'A'
					case 'Ö':
						tr = 'O'
					case 'Ü':
						tr = 'U'
					}
					if rune(m.Classes[best]) != tr {
						glyphErr++
					}
				}
			}
			if rs := plate.Readings(text.String()); len(rs) > 0 && rs[0].Plate == p.Plate {
				oldExact++
			}
			if r := readPlateLines(m, ex); r != nil && r.Plate == p.Plate {
				newExact++
			} else if os.Getenv("WACHE_SCAN_VERBOSE") != "" {
				got := ""
				if r != nil {
					got = r.Plate + " (" + r.Text + ")"
				}
				t.Logf("%s #%d: text %q decoded %q want %q", lvl.Name, i, text.String(), got, p.Plate)
			}
		}
		t.Logf("%s: n=%d no line=%d glyphs short=%d long=%d right count=%d (glyph errors in those %d) | exact: old %d, scored %d", lvl.Name, n, none, short, long, okLen, glyphErr, oldExact, newExact)
	}
}
