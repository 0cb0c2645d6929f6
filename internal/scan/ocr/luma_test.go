package ocr

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/wache/wache/internal/scan/synth"
	"github.com/wache/wache/internal/scan/yjpeg"
)

// TestPlateAccuracyLuma compares plate readings from image/jpeg's full
// decode with the scanner's path (yjpeg luminance at yjpeg.Scale(w, h,
// 1500): full size for 1280×960, 1/2 for 4000×3000), phone level.
// WACHE_SCAN_PLATE_LUMA=40 sets the plates per size; off by default.
func TestPlateAccuracyLuma(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("WACHE_SCAN_PLATE_LUMA"))
	if n <= 0 {
		t.Skip("set WACHE_SCAN_PLATE_LUMA=40 to compare full and luminance decoding of plates")
	}
	fonts := loadFonts(t)
	if _, err := defaultPlateModel(); err != nil {
		t.Skipf("skipping: no plate model: %v", err)
	}
	lvl, _ := synth.Level("phone")
	for _, l := range synth.PlateLevels {
		if l.Name == "phone" {
			lvl = l
		}
	}
	var table strings.Builder
	fmt.Fprintf(&table, "| photo | decode | plates | read exactly | among candidates | wrong | not found |\n|---|---|---|---|---|---|---|\n")
	for _, size := range [][2]int{{1280, 960}, {4000, 3000}} {
		denom := yjpeg.Scale(size[0], size[1], 1500)
		ways := []struct {
			name   string
			decode func([]byte) (image.Image, error)
		}{
			{"image/jpeg full", func(b []byte) (image.Image, error) { return jpeg.Decode(bytes.NewReader(b)) }},
			{fmt.Sprintf("yjpeg 1/%d", denom), func(b []byte) (image.Image, error) { return yjpeg.Decode(b, denom, 40_000_000) }},
		}
		var exact, among, wrong, notFound [2]int
		for i := 0; i < n; i++ {
			rng := rand.New(rand.NewPCG(626262, uint64(i)))
			p := synth.RandomPlate(rng)
			ph, err := synth.RenderPlate(fonts, p, lvl, size[0], size[1], rng)
			if err != nil {
				t.Fatal(err)
			}
			for wi, w := range ways {
				img, err := w.decode(ph.JPEG)
				if err != nil {
					t.Fatal(err)
				}
				r, err := ReadPlate(context.Background(), img)
				if err != nil {
					notFound[wi]++
					continue
				}
				found := false
				for _, c := range r.Candidates {
					found = found || c.Plate == p.Plate
				}
				switch {
				case r.Plate == p.Plate:
					exact[wi]++
				case found:
					among[wi]++
				default:
					wrong[wi]++
				}
			}
		}
		for wi, w := range ways {
			fmt.Fprintf(&table, "| %d×%d | %s | %d | %d (%.1f %%) | %d | %d | %d |\n", size[0], size[1], w.name, n, exact[wi], 100*float64(exact[wi])/float64(n), among[wi], wrong[wi], notFound[wi])
		}
	}
	t.Logf("plate accuracy, phone level:\n%s", table.String())
}

// BenchmarkReadPlateLuma is BenchmarkReadPlate on the scanner's path: the
// 1920×1440 photo's luminance by yjpeg (full size: short side < 3000).
func BenchmarkReadPlateLuma(b *testing.B) {
	fonts := loadFonts(b)
	rng := rand.New(rand.NewPCG(99, 98))
	lvl := synth.PlateLevels[1]
	ph, err := synth.RenderPlate(fonts, synth.RandomPlate(rng), lvl, 1920, 1440, rng)
	if err != nil {
		b.Fatal(err)
	}
	denom := yjpeg.Scale(1920, 1440, 1500)
	b.ResetTimer()
	cpu := processCPU()
	for i := 0; i < b.N; i++ {
		img, err := yjpeg.Decode(ph.JPEG, denom, 40_000_000)
		if err != nil {
			b.Fatal(err)
		}
		ReadPlate(context.Background(), img)
	}
	reportCPU(b, cpu)
}

// BenchmarkReadMRZ12MPQuarter is BenchmarkReadMRZ12MPLuma at 1/4 scale
// (1000×750), the next step down, for comparison.
func BenchmarkReadMRZ12MPQuarter(b *testing.B) { benchDecodeRead(b, decodeLuma(4)) }
