package ocr

import (
	"image"
	"image/color"
	"testing"
)

func TestModelRoundTrip(t *testing.T) {
	m, err := defaultModel()
	if err != nil {
		t.Fatal(err)
	}
	if m.Classes != Classes || m.Hidden <= 0 {
		t.Fatalf("embedded model: classes %q hidden %d", m.Classes, m.Hidden)
	}
	b, _ := m.MarshalBinary()
	var m2 Model
	if err := m2.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	f := make([]float32, NumFeatures)
	for i := range f {
		f[i] = float32(i%7) / 7
	}
	s1, s2 := m.Scores(f), m2.Scores(f)
	for i := range s1 {
		if s1[i] != s2[i] {
			t.Fatalf("scores differ after round trip")
		}
	}
	for _, bad := range [][]byte{nil, []byte("WOCRB2\n"), b[:len(b)-1], append([]byte("XXXXXX\n"), b[7:]...)} {
		var m3 Model
		if err := m3.UnmarshalBinary(bad); err == nil {
			t.Errorf("bad model of %d bytes accepted", len(bad))
		}
	}
	if _, err := defaultPlateModel(); err != nil {
		t.Fatalf("plate model: %v", err)
	}
}

func TestToGray(t *testing.T) {
	rgba := image.NewRGBA(image.Rect(2, 3, 6, 7))
	rgba.Set(3, 4, color.RGBA{255, 255, 255, 255})
	g := toGray(rgba)
	if g.w != 4 || g.h != 4 || g.at(1, 1) != 255 || g.at(0, 0) != 0 {
		t.Errorf("rgba: %dx%d %v", g.w, g.h, g.pix)
	}
	ycc := image.NewYCbCr(image.Rect(0, 0, 4, 4), image.YCbCrSubsampleRatio420)
	ycc.Y[5] = 200
	if g := toGray(ycc); g.at(1, 1) != 200 {
		t.Errorf("ycbcr: %v", g.pix)
	}
	pal := image.NewPaletted(image.Rect(0, 0, 2, 2), color.Palette{color.Black, color.White})
	pal.SetColorIndex(1, 1, 1)
	if g := toGray(pal); g.at(1, 1) != 255 {
		t.Errorf("paletted: %v", g.pix)
	}
	if s := shrink(toGray(rgba), 2); s.w != 2 || s.h != 2 {
		t.Errorf("shrink: %dx%d", s.w, s.h)
	}
}
