package scan

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"

	"github.com/wache/wache"
)

func pngOf(w, h int) []byte {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(i)
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	return b.Bytes()
}

// hugeHeaderPNG is a valid PNG header claiming 50000×50000 pixels, with no
// pixel data: it must be refused from the header alone.
func hugeHeaderPNG() []byte {
	var b bytes.Buffer
	png.Encode(&b, image.NewGray(image.Rect(0, 0, 1, 1)))
	p := b.Bytes()
	// IHDR width and height start at byte 16.
	for i, v := range []byte{0, 0, 0xC3, 0x50, 0, 0, 0xC3, 0x50} {
		p[16+i] = v
	}
	binary.BigEndian.PutUint32(p[29:], crc32.ChecksumIEEE(p[12:29]))
	return p
}

func TestDecodeImageErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   []byte
		lim  Limits
		code string
	}{
		{"empty", nil, Limits{}, wache.EINVALID},
		{"text", []byte("this is not an image"), Limits{}, wache.EINVALID},
		{"truncated png", pngOf(100, 100)[:60], Limits{}, wache.EINVALID},
		{"too many bytes", pngOf(100, 100), Limits{MaxBytes: 50}, wache.ETOOLARGE},
		{"too many pixels", pngOf(100, 100), Limits{MaxPixels: 9999}, wache.ETOOLARGE},
		{"huge header", hugeHeaderPNG(), Limits{}, wache.ETOOLARGE},
	} {
		_, err := DecodeImage(bytes.NewReader(tt.in), tt.lim)
		if wache.ErrorCode(err) != tt.code {
			t.Errorf("%s: err = %v, want %s", tt.name, err, tt.code)
		}
	}
	img, err := DecodeImage(bytes.NewReader(pngOf(100, 80)), Limits{})
	if err != nil || img.Bounds().Dx() != 100 {
		t.Fatalf("good png: %v", err)
	}
}

func TestReadMRZErrors(t *testing.T) {
	if _, err := ReadMRZ(context.Background(), strings.NewReader(""), Limits{}); wache.ErrorCode(err) != wache.EINVALID {
		t.Errorf("empty: %v", err)
	}
	// A blank photo has no zone.
	img := image.NewGray(image.Rect(0, 0, 300, 200))
	for i := range img.Pix {
		img.Pix[i] = 230
	}
	img.Set(5, 5, color.Gray{0})
	var b bytes.Buffer
	png.Encode(&b, img)
	if _, err := ReadMRZ(context.Background(), &b, Limits{}); wache.ErrorCode(err) != wache.ENOTFOUND {
		t.Errorf("blank: %v", err)
	}
}

func FuzzDecodeImage(f *testing.F) {
	f.Add(pngOf(4, 4))
	f.Add(hugeHeaderPNG())
	f.Add([]byte("\xff\xd8\xff\xe0"))
	f.Add([]byte("RIFF\x00\x00\x00\x00WEBPVP8 "))
	f.Fuzz(func(t *testing.T, b []byte) {
		img, err := DecodeImage(bytes.NewReader(b), Limits{MaxPixels: 1 << 20})
		if err == nil && img.Bounds().Dx()*img.Bounds().Dy() > 1<<20 {
			t.Fatalf("image over the pixel limit decoded")
		}
		if err != nil && wache.ErrorCode(err) == wache.EINTERNAL {
			t.Fatalf("internal error: %v", err)
		}
	})
}
