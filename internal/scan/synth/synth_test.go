package synth

import (
	"bytes"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/wache/wache/internal/scan/mrz"
)

func fonts(t testing.TB) *Fonts {
	f, err := LoadFonts()
	if err != nil {
		t.Skipf("skipping: %v", err)
	}
	return f
}

func TestRandomDocsAreValid(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		d := RandomDoc(rng)
		r, err := mrz.Parse(d.Lines, mrz.Options{Now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			t.Fatalf("%q: %v", d.Lines, err)
		}
		if !r.Valid || r.Format != d.Format || len(r.Repairs) != 0 {
			t.Fatalf("%q: valid=%v format=%s fields=%+v", d.Lines, r.Valid, r.Format, r.Fields)
		}
	}
}

func TestRenderDocument(t *testing.T) {
	f := fonts(t)
	rng := rand.New(rand.NewPCG(3, 4))
	for _, lvl := range Levels {
		doc := RandomDoc(rng)
		p, err := RenderDocument(f, doc, lvl, 800, 600, rng)
		if err != nil {
			t.Fatal(err)
		}
		img, err := jpeg.Decode(bytes.NewReader(p.JPEG))
		if err != nil || img.Bounds().Dx() != 800 || img.Bounds().Dy() != 600 {
			t.Fatalf("%s: %v %v", lvl.Name, err, img.Bounds())
		}
		if dir := os.Getenv("WACHE_SYNTH_OUT"); dir != "" {
			os.WriteFile(dir+"/doc_"+lvl.Name+".jpg", p.JPEG, 0o644)
		}
	}
}

func TestHomography(t *testing.T) {
	src := [4][2]float64{{0, 0}, {10, 0}, {10, 5}, {0, 5}}
	dst := [4][2]float64{{1, 2}, {21, 3}, {19, 14}, {2, 12}}
	m, ok := HomographyFrom(src, dst)
	if !ok {
		t.Fatal("singular")
	}
	for i := range src {
		x, y := m.Apply(src[i][0], src[i][1])
		if d := (x-dst[i][0])*(x-dst[i][0]) + (y-dst[i][1])*(y-dst[i][1]); d > 1e-9 {
			t.Errorf("corner %d maps to %v,%v", i, x, y)
		}
	}
}
