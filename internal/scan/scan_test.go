package scan

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
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

func jpegOf(w, h int, gray bool) []byte {
	var img image.Image
	if gray {
		g := image.NewGray(image.Rect(0, 0, w, h))
		for i := range g.Pix {
			g.Pix[i] = uint8(i * 5)
		}
		img = g
	} else {
		c := image.NewRGBA(image.Rect(0, 0, w, h))
		for i := range c.Pix {
			c.Pix[i] = uint8(i * 3)
		}
		img = c
	}
	var b bytes.Buffer
	jpeg.Encode(&b, img, &jpeg.Options{Quality: 80})
	return b.Bytes()
}

func TestDecodeGray(t *testing.T) {
	progressive, err := os.ReadFile("yjpeg/testdata/progressive.jpg")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		in      []byte
		minSide int
		w, h    int
		gray    bool // yjpeg's luminance (or a gray PNG), not a full colour decode
	}{
		{"jpeg 1/2", jpegOf(64, 48, false), 24, 32, 24, true},
		{"jpeg 1/4", jpegOf(64, 48, false), 12, 16, 12, true},
		{"jpeg 1/8 gray, odd size", jpegOf(99, 70, true), 5, 13, 9, true},
		// No scaling: image/jpeg, the decoder the accuracy sets use.
		{"jpeg small: full size", jpegOf(64, 48, false), 25, 64, 48, false},
		{"jpeg no scaling asked", jpegOf(64, 48, false), 0, 64, 48, false},
		{"progressive falls back to image/jpeg", progressive, 10, 203, 157, false},
		{"png is decoded in full", pngOf(40, 30), 10, 40, 30, true},
	} {
		img, err := DecodeGray(bytes.NewReader(tt.in), Limits{}, tt.minSide)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		_, isGray := img.(*image.Gray)
		if s := img.Bounds().Size(); s.X != tt.w || s.Y != tt.h || isGray != tt.gray {
			t.Errorf("%s: %T %v, want %d×%d gray %v", tt.name, img, s, tt.w, tt.h, tt.gray)
		}
	}
	// The limits are DecodeImage's, checked from the header.
	whole := jpegOf(64, 48, false)
	cut := whole[:bytes.Index(whole, []byte{0xFF, 0xDA})+30]
	for _, tt := range []struct {
		name string
		in   []byte
		lim  Limits
		code string
	}{
		{"empty", nil, Limits{}, wache.EINVALID},
		{"too many pixels", jpegOf(64, 48, false), Limits{MaxPixels: 64*48 - 1}, wache.ETOOLARGE},
		{"too many bytes", jpegOf(64, 48, false), Limits{MaxBytes: 100}, wache.ETOOLARGE},
		{"cut in the scan", cut, Limits{}, wache.EINVALID},
	} {
		if _, err := DecodeGray(bytes.NewReader(tt.in), tt.lim, 24); wache.ErrorCode(err) != tt.code {
			t.Errorf("%s: err = %v, want %s", tt.name, err, tt.code)
		}
	}
}

func FuzzDecodeImage(f *testing.F) {
	f.Add(pngOf(4, 4))
	f.Add(hugeHeaderPNG())
	f.Add([]byte("\xff\xd8\xff\xe0"))
	f.Add([]byte("RIFF\x00\x00\x00\x00WEBPVP8 "))
	f.Add(jpegOf(33, 20, false))
	f.Add(jpegOf(16, 9, true))
	for _, name := range []string{"gray-restart.jpg", "422-restart-rows.jpg", "noninterleaved.jpg", "progressive.jpg"} {
		if b, err := os.ReadFile("yjpeg/testdata/" + name); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		img, err := DecodeImage(bytes.NewReader(b), Limits{MaxPixels: 1 << 20})
		if err == nil && img.Bounds().Dx()*img.Bounds().Dy() > 1<<20 {
			t.Fatalf("image over the pixel limit decoded")
		}
		if err != nil && wache.ErrorCode(err) == wache.EINTERNAL {
			t.Fatalf("internal error: %v", err)
		}
		// The scanner's path: yjpeg scales small fuzz images too.
		g, err := DecodeGray(bytes.NewReader(b), Limits{MaxPixels: 1 << 20}, 4)
		if err == nil && g.Bounds().Dx()*g.Bounds().Dy() > 1<<20 {
			t.Fatalf("gray image over the pixel limit decoded")
		}
		if err != nil && wache.ErrorCode(err) == wache.EINTERNAL {
			t.Fatalf("internal error: %v", err)
		}
	})
}
