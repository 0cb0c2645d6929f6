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
	"github.com/wache/wache/internal/scan/yjpeg"
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

// scanMinSide is the short side the scanner keeps when it decodes a large
// JPEG at reduced scale: 1500 px (a 12 MP photo at 1/2) keeps the MRZ
// capital height ≥ 21 px for a passport filling 55 % of the frame's
// width, more than the 1600×1200 accuracy set has, and the pipeline
// shrinks to ≤ 1700 px to find the zone anyway. Measured in
// docs/design/scan.md: no reading lost at 1/2; 1/4 held on synthetic
// renders too but leaves 7 px capitals for a passport filling 35 %.
const scanMinSide = 1500

// DecodeImage reads a JPEG, PNG or WebP photo from r, refusing empty
// input, non-images, more than MaxBytes and more than MaxPixels (checked
// from the header before any pixel is decoded, so memory stays bounded).
func DecodeImage(r io.Reader, lim Limits) (image.Image, error) {
	b, _, format, err := readPhoto(r, lim)
	if err != nil {
		return nil, err
	}
	return decodeFull(b, format)
}

// DecodeGray is DecodeImage for the scanner, which reads luminance only:
// a JPEG larger than needed is decoded by yjpeg to its Y plane, scaled
// down in the inverse DCT by the largest of 1/2, 1/4, 1/8 that keeps the
// short side at least minSide pixels (0: no scaling). A photo that needs
// no scaling, and a JPEG yjpeg does not handle (progressive, arithmetic,
// CMYK) or rejects, is decoded by image/jpeg at full size, the decoder
// the accuracy sets are measured with; the result may be a colour image.
func DecodeGray(r io.Reader, lim Limits, minSide int) (image.Image, error) {
	b, cfg, format, err := readPhoto(r, lim)
	if err != nil {
		return nil, err
	}
	if format == "jpeg" && minSide > 0 {
		if denom := yjpeg.Scale(cfg.Width, cfg.Height, minSide); denom > 1 {
			if img, err := yjpeg.Decode(b, denom, lim.withDefaults().MaxPixels); err == nil {
				return img, nil
			}
		}
		// image/jpeg reads more codings and is the judge of what is
		// corrupt: the photo was accepted before yjpeg existed.
	}
	return decodeFull(b, format)
}

// readPhoto reads the encoded photo under the limits and its header.
func readPhoto(r io.Reader, lim Limits) ([]byte, image.Config, string, error) {
	lim = lim.withDefaults()
	b, err := io.ReadAll(io.LimitReader(r, lim.MaxBytes+1))
	if err != nil {
		return nil, image.Config{}, "", wache.Errorf(wache.EINVALID, "cannot read photo: %v", err)
	}
	if int64(len(b)) > lim.MaxBytes {
		return nil, image.Config{}, "", wache.Errorf(wache.ETOOLARGE, "photo is larger than %d MiB", lim.MaxBytes>>20)
	}
	if len(b) == 0 {
		return nil, image.Config{}, "", wache.Errorf(wache.EINVALID, "photo is empty")
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		if errors.Is(err, image.ErrFormat) {
			return nil, image.Config{}, "", wache.Errorf(wache.EINVALID, "not a JPEG, PNG or WebP image")
		}
		return nil, image.Config{}, "", wache.Errorf(wache.EINVALID, "unreadable image header")
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, image.Config{}, "", wache.Errorf(wache.EINVALID, "image has no pixels")
	}
	if int64(cfg.Width)*int64(cfg.Height) > int64(lim.MaxPixels) {
		return nil, image.Config{}, "", wache.Errorf(wache.ETOOLARGE, "image has %d×%d pixels, more than %d million", cfg.Width, cfg.Height, lim.MaxPixels/1_000_000)
	}
	return b, cfg, format, nil
}

func decodeFull(b []byte, format string) (image.Image, error) {
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
	img, err := DecodeGray(r, lim, scanMinSide)
	if err != nil {
		return nil, err
	}
	return ocr.ReadMRZ(ctx, img, mrz.Options{Now: lim.Now})
}

// ReadPlate decodes a photo of a car and reads its German plate with the
// pure-Go recogniser. The reading's Plate is the most likely valid form,
// Candidates all valid readings of the recognised text.
func ReadPlate(ctx context.Context, r io.Reader, lim Limits) (*ocr.PlateReading, error) {
	// Plates keep the full decode: at 1/2 scale a 12 MP car photo read 3
	// of 40 plates fewer, and the plate photo's time is in budget anyway
	// (docs/design/scan.md).
	img, err := DecodeImage(r, lim)
	if err != nil {
		return nil, err
	}
	return ocr.ReadPlate(ctx, img)
}
