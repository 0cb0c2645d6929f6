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
	"strconv"
	"strings"
	"testing"

	"github.com/wache/wache/internal/scan/synth"
)

// TestMRZDumpStrips writes the strips and grids of one accuracy document
// as PNG files (WACHE_SCAN_DUMP=level:index, into WACHE_SCAN_DUMP_DIR).
func TestMRZDumpStrips(t *testing.T) {
	spec := os.Getenv("WACHE_SCAN_DUMP")
	if spec == "" {
		t.Skip("set WACHE_SCAN_DUMP=level:index")
	}
	var name string
	var idx int
	fmt.Sscanf(spec, "%s", &name)
	for i := range spec {
		if spec[i] == ':' {
			name = spec[:i]
			idx, _ = strconv.Atoi(spec[i+1:])
		}
	}
	fonts := loadFonts(t)
	for li, lvl := range synth.Levels {
		if lvl.Name != name {
			continue
		}
		rng := rand.New(rand.NewPCG(424242+uint64(li), uint64(idx)))
		doc := synth.RandomDoc(rng)
		ph, _ := synth.RenderDocument(fonts, doc, lvl, 1600, 1200, rng)
		dir := os.Getenv("WACHE_SCAN_DUMP_DIR")
		os.WriteFile(dir+"/photo.jpg", ph.JPEG, 0o644)
		img, _ := jpeg.Decode(bytes.NewReader(ph.JPEG))
		exts := prepare(img).extract(1)
		for k, g := range exts[0].geo {
			s := g.s
			out := image.NewRGBA(image.Rect(0, 0, s.w, s.h))
			for y := 0; y < s.h; y++ {
				for x := 0; x < s.w; x++ {
					v := uint8(255 - 255*s.at(x, y))
					out.Set(x, y, color.RGBA{v, v, v, 255})
				}
			}
			for _, c := range g.centres {
				for y := 0; y < 4; y++ {
					out.Set(int(c), y, color.RGBA{255, 0, 0, 255})
				}
			}
			for x := 0; x < s.w; x++ {
				out.Set(x, s.top, color.RGBA{0, 0, 255, 255})
				out.Set(x, s.bot, color.RGBA{0, 0, 255, 255})
			}
			out.Set(s.x0, s.h-1, color.RGBA{0, 255, 0, 255})
			out.Set(s.x1, s.h-1, color.RGBA{0, 255, 0, 255})
			var buf bytes.Buffer
			png.Encode(&buf, out)
			os.WriteFile(fmt.Sprintf("%s/strip%d.png", dir, k), buf.Bytes(), 0o644)
			prof := s.columns()
			xs, xe := s.extendInk(prof, s.x0, s.x1, 1.4*stripCap*pitchPerCap)
			_ = strings.Join
			var cs []string
			for _, c := range g.centres {
				cs = append(cs, fmt.Sprintf("%.0f", c))
			}
			t.Logf("ext %d-%d centres %v", xs, xe, cs)
			var bands []string
			for k, c := range g.centres {
				a, b := max(0, k-1), min(len(g.centres)-1, k+1)
				top, bot := s.localBand(c, (g.centres[b]-g.centres[a])/float64(b-a))
				bands = append(bands, fmt.Sprintf("%d-%d", top, bot))
			}
			t.Logf("bands %v", bands)
			var pr []string
			for x := 0; x < s.w; x++ {
				if x < s.x0+20 || x > s.x1-20 {
					pr = append(pr, fmt.Sprintf("%d:%.1f", x, prof[x]))
				}
			}
			t.Logf("prof %s", strings.Join(pr, " "))
			t.Logf("line %d: w=%d x0=%d x1=%d band=%d-%d first=%.1f last=%.1f", k, s.w, s.x0, s.x1, s.top, s.bot, g.centres[0], g.centres[len(g.centres)-1])
		}
	}
}
