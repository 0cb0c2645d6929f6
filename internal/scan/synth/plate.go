package synth

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"strings"

	"golang.org/x/image/font"
	"golang.org/x/image/math/fixed"

	"github.com/wache/wache/internal/scan/plate"
)

// PlateTruth is the ground truth of a synthetic plate.
type PlateTruth struct {
	Plate    string // normalised, e.g. "K-AB 1234"
	District string
	Letters  string
	Digits   string
	Suffix   string
}

// RandomPlate returns a random valid normal plate (with E/H suffixes now
// and then).
func RandomPlate(rng *rand.Rand) PlateTruth {
	codes := plate.DistrictCodes()
	for {
		code := codes[rng.IntN(len(codes))]
		nl := 1 + rng.IntN(2)
		letters := ""
		for i := 0; i < nl; i++ {
			letters += string(rune('A' + rng.IntN(26)))
		}
		nd := 1 + rng.IntN(4)
		digits := fmt.Sprint(1 + rng.IntN(9))
		for len(digits) < nd {
			digits += fmt.Sprint(rng.IntN(10))
		}
		suffix := ""
		switch rng.IntN(12) {
		case 0:
			suffix = "E"
		case 1:
			suffix = "H"
		}
		p, err := plate.Parse(code + "-" + letters + " " + digits + suffix)
		if err != nil {
			continue // too long, or a federal code without letters
		}
		return PlateTruth{Plate: p.Plate, District: p.District, Letters: p.Letters, Digits: p.Digits, Suffix: p.Suffix}
	}
}

// drawPlate renders a German plate (520 × 110 mm) at pxmm: white, black
// border, blue EU band with "D", the text in DIN 1451 (OSP-DIN from
// fonts-opendin, standing in for the FE-Schrift) with the two round
// seals between district code and letters.
func drawPlate(f *Fonts, p PlateTruth, pxmm float64, rng *rand.Rand) *image.RGBA {
	W, H := int(520*pxmm), int(110*pxmm)
	img := image.NewRGBA(image.Rect(0, 0, W, H))
	white := uint8(235 + rng.IntN(20))
	draw.Draw(img, img.Bounds(), image.NewUniform(color.RGBA{white, white, white - uint8(rng.IntN(10)), 255}), image.Point{}, draw.Src)
	black := color.RGBA{15, 15, 20, 255}
	bw := int(math.Max(2, 2.5*pxmm))
	for _, r := range []image.Rectangle{{Max: image.Pt(W, bw)}, {Min: image.Pt(0, H-bw), Max: image.Pt(W, H)}, {Max: image.Pt(bw, H)}, {Min: image.Pt(W-bw, 0), Max: image.Pt(W, H)}} {
		draw.Draw(img, r, image.NewUniform(black), image.Point{}, draw.Src)
	}
	blue := color.RGBA{0, 51, 153, 255}
	band := image.Rect(bw, bw, bw+int(40*pxmm), H-bw)
	draw.Draw(img, band, image.NewUniform(blue), image.Point{}, draw.Src)
	// Stars of the EU band: a ring of small yellow dots.
	cx, cy := float64(bw)+20*pxmm, 35*pxmm
	for k := 0; k < 12; k++ {
		a := float64(k) * math.Pi / 6
		fillCircle(img, cx+13*pxmm*math.Cos(a), cy+13*pxmm*math.Sin(a), 2*pxmm, color.RGBA{255, 204, 0, 255})
	}
	dFace := face(f.SansBold, 28*pxmm)
	drawString(img, dFace, color.RGBA{255, 255, 255, 255}, int(float64(bw)+11*pxmm), int(95*pxmm), "D")
	// Text: DIN at 75 mm character height, centred in the white field.
	txt := face(f.DIN, 75*pxmm/0.70)
	gap := 12 * pxmm
	seal := 45 * pxmm
	adv := func(s string) float64 { return float64(font.MeasureString(txt, s)) / 64 }
	total := adv(p.District) + gap + seal + gap + adv(p.Letters) + 1.5*gap + adv(p.Digits+p.Suffix)
	x := float64(band.Max.X) + (float64(W-band.Max.X)-total)/2
	base := 92.5 * pxmm
	put := func(s string) {
		if !strings.ContainsAny(s, "ÄÖÜ") {
			d := font.Drawer{Dst: img, Src: image.NewUniform(black), Face: txt, Dot: fixed.Point26_6{X: fixed.Int26_6(x * 64), Y: fixed.Int26_6(base * 64)}}
			d.DrawString(s)
			x += adv(s)
			return
		}
		for _, r := range s {
			drawPlateRune(img, txt, black, x, base, 75*pxmm, r)
			x += adv(string(r))
		}
	}
	put(p.District)
	x += gap
	// Two seals stacked: the inspection sticker and the registration seal.
	fillCircle(img, x+seal/2, 35*pxmm, seal*0.42, color.RGBA{uint8(80 + rng.IntN(170)), uint8(80 + rng.IntN(170)), uint8(80 + rng.IntN(170)), 255})
	fillCircle(img, x+seal/2, 77*pxmm, seal*0.42, color.RGBA{170, 170, 175, 255})
	x += seal + gap
	put(p.Letters)
	x += 1.5 * gap
	put(p.Digits + p.Suffix)
	return img
}

// drawPlateRune draws one character of the plate text at x on the
// baseline. Umlauts are drawn as on real plates: the FE-Schrift keeps Ä,
// Ö and Ü within the character height (the vowel shortened, the dots
// above it), whereas DIN fonts put the dots above the capitals, where on a
// plate they would touch the border.
func drawPlateRune(img *image.RGBA, fc font.Face, c color.RGBA, x, base, capH float64, r rune) {
	plain, ok := map[rune]rune{'Ä': 'A', 'Ö': 'O', 'Ü': 'U'}[r]
	if !ok {
		d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: fc, Dot: fixed.Point26_6{X: fixed.Int26_6(x * 64), Y: fixed.Int26_6(base * 64)}}
		d.DrawString(string(r))
		return
	}
	// The vowel into a mask, then squeezed to 78 % of its height.
	adv := float64(font.MeasureString(fc, string(plain))) / 64
	mw, mh := int(adv)+4, int(capH*1.1)+4
	mask := image.NewAlpha(image.Rect(0, 0, mw, mh))
	d := font.Drawer{Dst: mask, Src: image.Opaque, Face: fc, Dot: fixed.Point26_6{X: fixed.Int26_6(2 * 64), Y: fixed.Int26_6(float64(mh-2) * 64)}}
	d.DrawString(string(plain))
	const squeeze = 0.78
	for y := 0; y < int(float64(mh)*squeeze); y++ {
		sy := (float64(y)+0.5)/squeeze - 0.5
		y0 := int(sy)
		fy := sy - float64(y0)
		dy := int(base) - int(float64(mh-2)*squeeze) + y
		for mx := 0; mx < mw; mx++ {
			a0 := float64(mask.AlphaAt(mx, y0).A)
			a1 := float64(mask.AlphaAt(mx, min(y0+1, mh-1)).A)
			a := (a0*(1-fy) + a1*fy) / 255
			if a <= 0 {
				continue
			}
			dx := int(x) - 2 + mx
			if !image.Pt(dx, dy).In(img.Bounds()) {
				continue
			}
			o := img.RGBAAt(dx, dy)
			blend := func(bg, fg uint8) uint8 { return uint8(float64(bg)*(1-a) + float64(fg)*a + 0.5) }
			img.SetRGBA(dx, dy, color.RGBA{blend(o.R, c.R), blend(o.G, c.G), blend(o.B, c.B), 255})
		}
	}
	// Two dots (a stroke wide) in the room left above the vowel.
	dot := 0.075 * capH
	for _, fx := range []float64{0.3, 0.7} {
		fillCircle(img, x+fx*adv, base-capH+dot, dot, c)
	}
}

func fillCircle(img *image.RGBA, cx, cy, r float64, c color.RGBA) {
	for y := int(cy - r); y <= int(cy+r); y++ {
		for x := int(cx - r); x <= int(cx+r); x++ {
			if (float64(x)-cx)*(float64(x)-cx)+(float64(y)-cy)*(float64(y)-cy) <= r*r && image.Pt(x, y).In(img.Bounds()) {
				img.SetRGBA(x, y, c)
			}
		}
	}
}

// PlateLevels are the distortions for plate photos: a car front seen from
// a following or parked vehicle.
var PlateLevels = []Distortion{
	{Name: "clean", MaxRotate: 2, Blur: [2]float64{0, 0.4}, Noise: 2, JPEG: [2]int{90, 95}, DocFill: [2]float64{0.7, 0.9}},
	{Name: "phone", MaxRotate: 8, Perspective: 0.04, Blur: [2]float64{0.5, 1.2}, Noise: 6, GlareProb: 0.3, GlareMax: 0.4, JPEG: [2]int{70, 85}, DocFill: [2]float64{0.55, 0.85}},
	{Name: "hard", MaxRotate: 12, Perspective: 0.07, Blur: [2]float64{1.2, 2}, Noise: 10, GlareProb: 0.5, GlareMax: 0.6, JPEG: [2]int{50, 70}, DocFill: [2]float64{0.5, 0.8}},
}

// RenderPlate draws a car front carrying plate p and photographs it.
func RenderPlate(f *Fonts, p PlateTruth, d Distortion, w, h int, rng *rand.Rand) (*Photo, error) {
	// The car front: 1800 × 700 mm of body colour, a grille and lamps.
	pxmm := math.Max(0.6, float64(w)*d.DocFill[1]/1800)
	W, H := int(1800*pxmm), int(700*pxmm)
	car := image.NewRGBA(image.Rect(0, 0, W, H))
	body := color.RGBA{uint8(rng.IntN(230)), uint8(rng.IntN(230)), uint8(rng.IntN(230)), 255}
	draw.Draw(car, car.Bounds(), image.NewUniform(body), image.Point{}, draw.Src)
	grille := image.Rect(int(500*pxmm), int(120*pxmm), int(1300*pxmm), int(330*pxmm))
	draw.Draw(car, grille, image.NewUniform(color.RGBA{30, 30, 35, 255}), image.Point{}, draw.Src)
	for _, lx := range []float64{230, 1570} {
		fillCircle(car, lx*pxmm, 200*pxmm, 110*pxmm, color.RGBA{220, 225, 230, 255})
	}
	pl := drawPlate(f, p, pxmm, rng)
	off := image.Pt(int(640*pxmm), int(430*pxmm))
	draw.Draw(car, pl.Bounds().Add(off), pl, image.Point{}, draw.Src)
	photo := photograph(car, d, w, h, rng)
	var buf bytes.Buffer
	q := d.JPEG[0] + rng.IntN(d.JPEG[1]-d.JPEG[0]+1)
	if err := jpeg.Encode(&buf, photo, &jpeg.Options{Quality: q}); err != nil {
		return nil, err
	}
	return &Photo{JPEG: buf.Bytes(), Width: w, Height: h}, nil
}

// PlateText is the plate's characters as printed, in reading order.
func (p PlateTruth) PlateText() string {
	return strings.Join([]string{p.District, p.Letters, p.Digits + p.Suffix}, " ")
}
