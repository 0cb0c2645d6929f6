//go:build js && wasm

package main

// Run under Node like bridge_test.go. The OCR itself is tested in
// internal/scan/ocr; these tests check the bridge's input handling and
// that the recogniser reads a synthetic photo handed in as gray bytes.

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"syscall/js"
	"testing"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/internal/scan/mrz"
	"github.com/wache/wache/internal/scan/ocr"
	"github.com/wache/wache/internal/scan/synth"
)

func jsGray(w, h any, n int) js.Value {
	o := js.Global().Get("Object").New()
	o.Set("width", w)
	o.Set("height", h)
	o.Set("pixels", js.Global().Get("Uint8Array").New(n))
	return o
}

func TestGrayArg(t *testing.T) {
	for _, c := range []struct {
		name string
		arg  js.Value
		code string
	}{
		{"ok", jsGray(3, 2, 6), ""},
		{"short pixels", jsGray(3, 2, 5), wache.EINVALID},
		{"long pixels", jsGray(3, 2, 7), wache.EINVALID},
		{"zero width", jsGray(0, 2, 0), wache.EINVALID},
		{"negative", jsGray(-3, -2, 6), wache.EINVALID},
		{"fraction", jsGray(1.5, 4, 6), wache.EINVALID},
		{"too many pixels", jsGray(5000, 5000, 1), wache.ETOOLARGE},
		{"string width", jsGray("3", 2, 6), wache.EINVALID},
		{"not an object", js.ValueOf("x"), wache.EINVALID},
		{"array not typed", js.Global().Get("JSON").Call("parse", `{"width":1,"height":1,"pixels":[0]}`), wache.EINVALID},
	} {
		g, err := grayArg([]js.Value{c.arg})
		if c.code == "" {
			if err != nil || g.Bounds().Dx() != 3 || g.Bounds().Dy() != 2 || len(g.Pix) != 6 {
				t.Errorf("%s: %v %v", c.name, g, err)
			}
			continue
		}
		if got := wache.ErrorCode(err); got != c.code {
			t.Errorf("%s: %v, want %s", c.name, err, c.code)
		}
	}
	if _, err := grayArg(nil); wache.ErrorCode(err) != wache.EINVALID {
		t.Errorf("no argument: %v", err)
	}
}

func TestAuskunftQueryCheck(t *testing.T) {
	long := string(bytes.Repeat([]byte("x"), 1001))
	for _, c := range []struct {
		q  auskunftQuery
		ok bool
	}{
		{auskunftQuery{Kind: "plate", Text: "B-AB 123", Purpose: "Verkehrskontrolle"}, true},
		{auskunftQuery{Kind: " person ", Surname: "Müller", Mode: "full"}, true}, // purpose: the server refuses (audited)
		{auskunftQuery{Kind: "vin", Text: "x", Mode: "wanted"}, true},
		{auskunftQuery{Kind: "", Text: "x"}, false},
		{auskunftQuery{Kind: "address", Text: "x"}, false},
		{auskunftQuery{Kind: "plate", Text: "x", Mode: "all"}, false},
		{auskunftQuery{Kind: "plate", Text: long}, false},
		{auskunftQuery{Kind: "plate", Text: "x", Purpose: long}, false},
	} {
		err := c.q.check()
		if (err == nil) != c.ok || (err != nil && wache.ErrorCode(err) != wache.EINVALID) {
			t.Errorf("%+v: %v", c.q, err)
		}
	}
}

// TestScanGrayPhoto renders a synthetic ID card and a plate, converts them
// to luminance bytes as the page does and reads them through grayArg.
func TestScanGrayPhoto(t *testing.T) {
	fonts, err := synth.LoadFonts()
	if errors.Is(err, synth.ErrNoFont) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	lvl, _ := synth.Level("clean")
	rng := rand.New(rand.NewPCG(7, 7))
	doc := synth.RandomDoc(rng)
	ph, err := synth.RenderDocument(fonts, doc, lvl, 1600, 1200, rng)
	if err != nil {
		t.Fatal(err)
	}
	g := grayOfJPEG(t, ph.JPEG)
	t0 := time.Now()
	r, err := ocr.ReadMRZ(context.Background(), g, mrz.Options{})
	if err != nil {
		t.Fatalf("MRZ: %v", err)
	}
	t.Logf("MRZ %s in %v (wasm under Node, 1600×1200)", r.DocumentNumber, time.Since(t0))
	want, _ := mrz.Parse(doc.Lines, mrz.Options{})
	if r.DocumentNumber != want.DocumentNumber || !r.Valid {
		t.Errorf("read %q valid=%v, want %q", r.DocumentNumber, r.Valid, want.DocumentNumber)
	}

	// The recogniser's plate accuracy is internal/scan/ocr's business: of
	// a few clean plates at least one must be read exactly, and every
	// reading must be a valid plate.
	plvl := synth.PlateLevels[0]
	exact := 0
	for i := 0; i < 4; i++ {
		pl := synth.RandomPlate(rng)
		pph, err := synth.RenderPlate(fonts, pl, plvl, 1600, 1200, rng)
		if err != nil {
			t.Fatal(err)
		}
		t0 = time.Now()
		pr, err := ocr.ReadPlate(context.Background(), grayOfJPEG(t, pph.JPEG))
		if err != nil {
			t.Errorf("plate %s: %v", pl.Plate, err)
			continue
		}
		t.Logf("plate %s read as %s in %v", pl.Plate, pr.Plate, time.Since(t0))
		if pr.Plate == "" || len(pr.Candidates) == 0 {
			t.Errorf("plate %s: empty reading %+v", pl.Plate, pr)
		}
		for _, c := range pr.Candidates {
			if c.Plate == pl.Plate {
				exact++
				break
			}
		}
	}
	if exact == 0 {
		t.Error("no plate read exactly")
	}
}

// grayOfJPEG decodes a JPEG and hands its luma through a JS Uint8Array
// and grayArg, the way the page does after its canvas conversion.
func grayOfJPEG(t *testing.T, b []byte) *image.Gray {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	yc := img.(*image.YCbCr)
	w, h := yc.Rect.Dx(), yc.Rect.Dy()
	px := make([]byte, 0, w*h)
	for y := 0; y < h; y++ {
		px = append(px, yc.Y[y*yc.YStride:y*yc.YStride+w]...)
	}
	a := js.Global().Get("Uint8Array").New(len(px))
	js.CopyBytesToJS(a, px)
	o := js.Global().Get("Object").New()
	o.Set("width", w)
	o.Set("height", h)
	o.Set("pixels", a)
	g, err := grayArg([]js.Value{o})
	if err != nil {
		t.Fatal(err)
	}
	return g
}
