// Package scan is the scanner's entry point for the HTTP handler and the
// CLI: it decodes an uploaded photo in memory under size limits and reads
// an MRZ (ICAO 9303) or a German licence plate from it. Photos are never
// written anywhere; the decoded image is dropped when the call returns.
package scan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // phone photos
	_ "image/png"
	"io"
	"time"

	_ "golang.org/x/image/webp" // browsers may send WebP

	"github.com/wache/wache"
	"github.com/wache/wache/internal/scan/mrz"
	"github.com/wache/wache/internal/scan/ocr"
)

// Default limits: a 12 MP phone photo is about 3-8 MiB and 12 million
// pixels; anything far beyond is refused before it is decoded.
const (
	DefaultMaxBytes  = 20 << 20
	DefaultMaxPixels = 40_000_000
)

// Limits bound the work one photo may cause.
type Limits struct {
	MaxBytes  int64 // encoded size; 0 means DefaultMaxBytes
	MaxPixels int   // width × height; 0 means DefaultMaxPixels
	// Now anchors the century of MRZ dates; zero means time.Now().
	Now time.Time
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxPixels <= 0 {
		l.MaxPixels = DefaultMaxPixels
	}
	return l
}

// DecodeImage reads a JPEG, PNG or WebP photo from r, refusing empty
// input, non-images, more than MaxBytes and more than MaxPixels (checked
// from the header before any pixel is decoded, so memory stays bounded).
func DecodeImage(r io.Reader, lim Limits) (image.Image, error) {
	lim = lim.withDefaults()
	b, err := io.ReadAll(io.LimitReader(r, lim.MaxBytes+1))
	if err != nil {
		return nil, wache.Errorf(wache.EINVALID, "cannot read photo: %v", err)
	}
	if int64(len(b)) > lim.MaxBytes {
		return nil, wache.Errorf(wache.ETOOLARGE, "photo is larger than %d MiB", lim.MaxBytes>>20)
	}
	if len(b) == 0 {
		return nil, wache.Errorf(wache.EINVALID, "photo is empty")
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		if errors.Is(err, image.ErrFormat) {
			return nil, wache.Errorf(wache.EINVALID, "not a JPEG, PNG or WebP image")
		}
		return nil, wache.Errorf(wache.EINVALID, "unreadable image header")
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, wache.Errorf(wache.EINVALID, "image has no pixels")
	}
	if int64(cfg.Width)*int64(cfg.Height) > int64(lim.MaxPixels) {
		return nil, wache.Errorf(wache.ETOOLARGE, "image has %d×%d pixels, more than %d million", cfg.Width, cfg.Height, lim.MaxPixels/1_000_000)
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, &wache.Error{Code: wache.EINVALID, Message: fmt.Sprintf("corrupt %s image", format), Err: err}
	}
	return img, nil
}

// ReadMRZ decodes a photo and reads its machine-readable zone. A zone
// whose check digits fail comes back with Valid false (never as an
// error); no zone at all is ENOTFOUND.
func ReadMRZ(ctx context.Context, r io.Reader, lim Limits) (*mrz.Result, error) {
	img, err := DecodeImage(r, lim)
	if err != nil {
		return nil, err
	}
	return ocr.ReadMRZ(ctx, img, mrz.Options{Now: lim.Now})
}

// ReadPlate decodes a photo of a car and reads its German plate with the
// pure-Go recogniser. The reading's Plate is the most likely valid form,
// Candidates all valid readings of the recognised text.
func ReadPlate(ctx context.Context, r io.Reader, lim Limits) (*ocr.PlateReading, error) {
	img, err := DecodeImage(r, lim)
	if err != nil {
		return nil, err
	}
	return ocr.ReadPlate(ctx, img)
}
