package yjpeg

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// refLuma decodes with image/jpeg and box-averages the luminance by denom
// (edge squares averaged over the pixels they hold).
func refLuma(t testing.TB, data []byte, denom int) *image.Gray {
	img, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	ow, oh := (b.Dx()+denom-1)/denom, (b.Dy()+denom-1)/denom
	out := image.NewGray(image.Rect(0, 0, ow, oh))
	for y := 0; y < oh; y++ {
		for x := 0; x < ow; x++ {
			s, n := 0, 0
			for yy := y * denom; yy < min((y+1)*denom, b.Dy()); yy++ {
				for xx := x * denom; xx < min((x+1)*denom, b.Dx()); xx++ {
					var v uint8
					switch m := img.(type) {
					case *image.YCbCr:
						v = m.Y[m.YOffset(xx, yy)]
					case *image.Gray:
						v = m.GrayAt(xx, yy).Y
					default:
						t.Fatalf("reference decode gave %T", img)
					}
					s += int(v)
					n++
				}
			}
			out.Pix[y*out.Stride+x] = uint8((s + n/2) / n)
		}
	}
	return out
}

// diff returns the mean and the largest absolute pixel difference.
func diff(t testing.TB, a, b *image.Gray) (float64, int) {
	if a.Bounds().Size() != b.Bounds().Size() {
		t.Fatalf("size %v, want %v", a.Bounds().Size(), b.Bounds().Size())
	}
	sum, worst := 0, 0
	w, h := a.Bounds().Dx(), a.Bounds().Dy()
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			d := int(a.Pix[y*a.Stride+x]) - int(b.Pix[y*b.Stride+x])
			if d < 0 {
				d = -d
			}
			sum += d
			worst = max(worst, d)
		}
	}
	return float64(sum) / float64(w*h), worst
}

// testImage is a photo-like pattern with dark strokes, of an odd size so
// that the blocks at the edges are partial.
func testImage(w, h int, gray bool) image.Image {
	var img draw
	if gray {
		img = image.NewGray(image.Rect(0, 0, w, h))
	} else {
		img = image.NewRGBA(image.Rect(0, 0, w, h))
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := 128 + 90*math.Sin(float64(x)/7)*math.Cos(float64(y)/11)
			if (x/10+y/13)%4 == 0 && x%10 < 6 {
				v = 15
			}
			img.Set(x, y, color.RGBA{uint8(v), uint8(255 - v), uint8(x * y), 255})
		}
	}
	return img
}

type draw interface {
	image.Image
	Set(x, y int, c color.Color)
}

func encode(t testing.TB, img image.Image, q int) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: q}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestDecodeMatchesReference compares every scale with image/jpeg's
// luminance, box-averaged: at full size the two IDCTs round differently
// by a level or two; scaled, the box mean of clamped pixels differs from
// the clamped mean at saturated edges, so the mean difference is bounded
// tightly and the largest one loosely.
func TestDecodeMatchesReference(t *testing.T) {
	inputs := map[string][]byte{
		"go 4:2:0 q90": encode(t, testImage(203, 157, false), 90),
		"go 4:2:0 q50": encode(t, testImage(64, 48, false), 50),
		"go gray q85":  encode(t, testImage(99, 131, true), 85),
		"go 1×1 pixel": encode(t, testImage(1, 1, false), 90),
		"go 17×9 gray": encode(t, testImage(17, 9, true), 70),
	}
	files, _ := filepath.Glob("testdata/*.jpg")
	for _, f := range files {
		switch filepath.Base(f) {
		case "progressive.jpg", "arithmetic.jpg", "rgb.jpg":
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inputs[filepath.Base(f)] = b
	}
	if len(files) < 9 {
		t.Errorf("testdata holds %d JPEGs, want 9", len(files))
	}
	for name, data := range inputs {
		for _, denom := range []int{1, 2, 4, 8} {
			got, err := Decode(data, denom, 1<<20)
			if err != nil {
				t.Errorf("%s 1/%d: %v", name, denom, err)
				continue
			}
			mean, worst := diff(t, got, refLuma(t, data, denom))
			maxMean, maxWorst := 0.05, 2
			if denom > 1 {
				maxMean, maxWorst = 0.6, 16
			}
			if mean > maxMean || worst > maxWorst {
				t.Errorf("%s 1/%d: mean diff %.2f, max %d", name, denom, mean, worst)
			}
		}
	}
}

func TestDecodeUnsupported(t *testing.T) {
	for _, f := range []string{"progressive.jpg", "arithmetic.jpg", "rgb.jpg"} {
		b, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Decode(b, 2, 1<<20); !errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: err = %v, want ErrUnsupported", f, err)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	good := encode(t, testImage(40, 30, false), 80)
	sos := bytes.Index(good, []byte{0xFF, 0xDA})
	restart, err := os.ReadFile("testdata/420-restart.jpg")
	if err != nil {
		t.Fatal(err)
	}
	// The first RST marker turned into a stuffed 0xFF data byte.
	noRST := bytes.Clone(restart)
	for i := bytes.Index(noRST, []byte{0xFF, 0xDA}) + 2; i+1 < len(noRST); i++ {
		if noRST[i] == 0xFF && noRST[i+1] >= 0xD0 && noRST[i+1] <= 0xD7 {
			noRST[i+1] = 0
			break
		}
	}
	for _, tt := range []struct {
		name string
		in   []byte
		max  int
	}{
		{"empty", nil, 1 << 20},
		{"not a JPEG", []byte("GIF89a...."), 1 << 20},
		{"SOI only", []byte{0xFF, 0xD8}, 1 << 20},
		{"cut in the scan", good[:sos+40], 1 << 20},
		{"cut before the scan", good[:sos], 1 << 20},
		{"over the pixel limit", good, 40*30 - 1},
		{"RST marker missing", noRST, 1 << 20},
		{"garbage after SOI", append([]byte{0xFF, 0xD8}, bytes.Repeat([]byte{0x12}, 50)...), 1 << 20},
	} {
		if _, err := Decode(tt.in, 2, tt.max); err == nil {
			t.Errorf("%s: no error", tt.name)
		} else if errors.Is(err, ErrUnsupported) {
			t.Errorf("%s: ErrUnsupported, want a format error", tt.name)
		}
	}
	if _, err := Decode(good, 3, 1<<20); err == nil {
		t.Errorf("denom 3 accepted")
	}
}

func TestScale(t *testing.T) {
	for _, tt := range []struct{ w, h, min, want int }{
		{4000, 3000, 1500, 2},
		{3000, 4000, 1500, 2},
		{4032, 3024, 1500, 2},
		{2999, 4000, 1500, 1},
		{1600, 1200, 1500, 1},
		{8000, 6000, 1500, 4},
		{24000, 24000, 1500, 8},
		{10, 10, 0, 8},
	} {
		if got := Scale(tt.w, tt.h, tt.min); got != tt.want {
			t.Errorf("Scale(%d, %d, %d) = %d, want %d", tt.w, tt.h, tt.min, got, tt.want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(encode(f, testImage(24, 17, false), 75), uint8(1))
	f.Add(encode(f, testImage(9, 20, true), 60), uint8(2))
	for _, name := range []string{"gray-restart.jpg", "411.jpg", "progressive.jpg"} {
		if b, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			f.Add(b, uint8(3))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, s uint8) {
		denom := 1 << (s % 4)
		img, err := Decode(data, denom, 1<<16)
		if err != nil {
			return
		}
		if n := img.Bounds().Dx() * img.Bounds().Dy(); n > 1<<16 {
			t.Fatalf("%d pixels decoded, over the limit", n)
		}
	})
}
