package ocr

import (
	"bytes"
	"context"
	"fmt"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/wache/wache/internal/scan/synth"
)

// TestPlateAccuracy reads synthetic car photos per distortion level. By
// default a few per level; WACHE_SCAN_ACCURACY_N=170 gives 510 plates.
func TestPlateAccuracy(t *testing.T) {
	if testing.Short() {
		t.Skip("rendering photos is slow; skipped in -short")
	}
	fonts := loadFonts(t)
	if _, err := defaultPlateModel(); err != nil {
		t.Skipf("skipping: no plate model: %v", err)
	}
	n := 4
	if s := os.Getenv("WACHE_SCAN_ACCURACY_N"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	var table strings.Builder
	fmt.Fprintf(&table, "| level | plates | read exactly | right plate among candidates | wrong | not found |\n|---|---|---|---|---|---|\n")
	for li, lvl := range synth.PlateLevels {
		if !levelWanted(lvl.Name) {
			continue
		}
		var exact, among, wrong, notFound int
		for i := 0; i < n; i++ {
			rng := rand.New(rand.NewPCG(515151+uint64(li), uint64(i)))
			p := synth.RandomPlate(rng)
			ph, err := synth.RenderPlate(fonts, p, lvl, 1280, 960, rng)
			if err != nil {
				t.Fatal(err)
			}
			img, _ := jpeg.Decode(bytes.NewReader(ph.JPEG))
			r, err := ReadPlate(context.Background(), img)
			if err != nil {
				notFound++
				continue
			}
			found := false
			for _, c := range r.Candidates {
				found = found || c.Plate == p.Plate
			}
			switch {
			case r.Plate == p.Plate:
				exact++
			case found:
				among++
			default:
				wrong++
				if os.Getenv("WACHE_SCAN_VERBOSE") != "" {
					t.Logf("%s #%d: read %q (%q), want %q", lvl.Name, i, r.Plate, r.Text, p.Plate)
				}
			}
		}
		fmt.Fprintf(&table, "| %s | %d | %d (%.1f %%) | %d | %d | %d |\n", lvl.Name, n, exact, 100*float64(exact)/float64(n), among, wrong, notFound)
	}
	t.Logf("plate accuracy (1280×960 JPEG photos):\n%s", table.String())
}

func BenchmarkReadPlate(b *testing.B) {
	fonts := loadFonts(b)
	rng := rand.New(rand.NewPCG(99, 98))
	lvl := synth.PlateLevels[1]
	ph, err := synth.RenderPlate(fonts, synth.RandomPlate(rng), lvl, 1920, 1440, rng)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	cpu := processCPU()
	for i := 0; i < b.N; i++ {
		img, _ := jpeg.Decode(bytes.NewReader(ph.JPEG))
		ReadPlate(context.Background(), img)
	}
	reportCPU(b, cpu)
}
