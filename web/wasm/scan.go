//go:build js && wasm

package main

import (
	"context"
	"image"
	"syscall/js"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/internal/scan/mrz"
	"github.com/wache/wache/internal/scan/ocr"
)

// The browser decodes and scales the photo (createImageBitmap, canvas)
// and hands in luminance bytes: the photo never leaves the phone, and the
// wasm carries no JPEG decoder. maxScanPixels bounds what one call may
// allocate; the UI scales to at most 2000 px on the long side.
const maxScanPixels = 4096 * 4096

// grayArg reads {width, height, pixels: Uint8Array} (one byte per pixel,
// row by row) into an *image.Gray.
func grayArg(args []js.Value) (*image.Gray, error) {
	if len(args) == 0 || args[0].Type() != js.TypeObject {
		return nil, wache.Errorf(wache.EINVALID, "argument 1 must be {width, height, pixels}")
	}
	o := args[0]
	wv, hv, px := o.Get("width"), o.Get("height"), o.Get("pixels")
	if wv.Type() != js.TypeNumber || hv.Type() != js.TypeNumber || !px.InstanceOf(js.Global().Get("Uint8Array")) {
		return nil, wache.Errorf(wache.EINVALID, "argument 1 must be {width, height, pixels: Uint8Array}")
	}
	w, h := wv.Int(), hv.Int()
	if w <= 0 || h <= 0 || float64(w) != wv.Float() || float64(h) != hv.Float() {
		return nil, wache.Errorf(wache.EINVALID, "image has no pixels")
	}
	if w*h > maxScanPixels {
		return nil, wache.Errorf(wache.ETOOLARGE, "image has %d×%d pixels, more than %d", w, h, maxScanPixels)
	}
	if px.Get("length").Int() != w*h {
		return nil, wache.Errorf(wache.EINVALID, "pixels: %d bytes for %d×%d", px.Get("length").Int(), w, h)
	}
	g := image.NewGray(image.Rect(0, 0, w, h))
	js.CopyBytesToGo(g.Pix, px)
	return g, nil
}

// scanResult adds the time the recogniser took (the UI shows it; the
// design doc records it).
type scanResult struct {
	MRZ    *mrz.Result       `json:"mrz,omitempty"`
	Plate  *ocr.PlateReading `json:"plate,omitempty"`
	TookMS int64             `json:"took_ms"`
}

// mrzTimeLimit bounds one MRZ reading in the page.
const mrzTimeLimit = 3 * time.Second

// scanMRZ reads the machine-readable zone. A zone whose check digits
// fail comes back with valid false and the failing fields marked; no zone
// is ENOTFOUND. Runs on the page's thread: the UI shows its progress
// indicator before calling.
func (b *bridge) scanMRZ(ctx context.Context, args []js.Value) (any, error) {
	if _, err := b.current(); err != nil { // a locked phone reads nothing
		return nil, err
	}
	g, err := grayArg(args)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	// A photo whose checks fail makes the reader try other grids; on a
	// slow phone that must not hold the page for long (the best reading
	// so far comes back, flagged).
	ctx, cancel := context.WithTimeout(ctx, mrzTimeLimit)
	defer cancel()
	r, err := ocr.ReadMRZ(ctx, g, mrz.Options{})
	if err != nil {
		return nil, err
	}
	return scanResult{MRZ: r, TookMS: time.Since(t0).Milliseconds()}, nil
}

// scanPlate reads a German licence plate; candidates are the other valid
// readings for the officer to pick from.
func (b *bridge) scanPlate(ctx context.Context, args []js.Value) (any, error) {
	if _, err := b.current(); err != nil {
		return nil, err
	}
	g, err := grayArg(args)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	r, err := ocr.ReadPlate(ctx, g)
	if err != nil {
		return nil, err
	}
	return scanResult{Plate: r, TookMS: time.Since(t0).Milliseconds()}, nil
}
