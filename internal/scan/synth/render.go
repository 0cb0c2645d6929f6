package synth

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"math"
	"math/rand/v2"

	"golang.org/x/image/font"
	"golang.org/x/image/math/fixed"

	"github.com/wache/wache/internal/scan/mrz"
)

// Distortion describes how a photo is taken. Ranges are drawn uniformly.
type Distortion struct {
	Name        string
	MaxRotate   float64 // degrees, ±
	Perspective float64 // corner displacement as a fraction of the document width
	Blur        [2]float64
	Noise       float64 // standard deviation, grey levels
	GlareProb   float64
	GlareMax    float64 // 0..1 strength of the brightest glare spot
	JPEG        [2]int  // quality range
	DocFill     [2]float64
}

// Levels are the distortion levels the accuracy tests report. "phone" is a
// realistic phone photo: skew up to ±15°, some perspective, focus blur,
// sensor noise, occasional glare, JPEG compression.
var Levels = []Distortion{
	{Name: "clean", MaxRotate: 2, Blur: [2]float64{0, 0.3}, Noise: 2, JPEG: [2]int{92, 95}, DocFill: [2]float64{0.7, 0.9}},
	{Name: "mild", MaxRotate: 6, Perspective: 0.02, Blur: [2]float64{0.3, 0.8}, Noise: 4, GlareProb: 0.2, GlareMax: 0.4, JPEG: [2]int{85, 92}, DocFill: [2]float64{0.6, 0.9}},
	{Name: "phone", MaxRotate: 15, Perspective: 0.05, Blur: [2]float64{0.6, 1.4}, Noise: 6, GlareProb: 0.5, GlareMax: 0.6, JPEG: [2]int{70, 85}, DocFill: [2]float64{0.55, 0.85}},
	{Name: "hard", MaxRotate: 15, Perspective: 0.08, Blur: [2]float64{1.4, 2.2}, Noise: 10, GlareProb: 0.7, GlareMax: 0.8, JPEG: [2]int{50, 70}, DocFill: [2]float64{0.5, 0.8}},
}

// Level returns the distortion level of that name.
func Level(name string) (Distortion, bool) {
	for _, l := range Levels {
		if l.Name == name {
			return l, true
		}
	}
	return Distortion{}, false
}

// Photo is a rendered photo: the JPEG bytes as a phone would send them.
type Photo struct {
	JPEG          []byte
	Width, Height int
}

// document sizes in mm.
var docSize = map[string][2]float64{mrz.TD1: {85.6, 54}, mrz.TD2: {105, 74}, mrz.TD3: {125, 88}}

// RenderDocument draws doc as a card or passport page on a varied
// background with other printed text, photographs it under d and returns
// a JPEG of w×h pixels.
func RenderDocument(f *Fonts, doc Doc, d Distortion, w, h int, rng *rand.Rand) (*Photo, error) {
	size := docSize[doc.Format]
	// Document space resolution: enough that the warp rarely upsamples.
	pxmm := math.Max(8, float64(w)*d.DocFill[1]/size[0])
	card := drawCard(f, doc, size, pxmm, rng)
	photo := photograph(card, d, w, h, rng)
	var buf bytes.Buffer
	q := d.JPEG[0] + rng.IntN(d.JPEG[1]-d.JPEG[0]+1)
	if err := jpeg.Encode(&buf, photo, &jpeg.Options{Quality: q}); err != nil {
		return nil, err
	}
	return &Photo{JPEG: buf.Bytes(), Width: w, Height: h}, nil
}

// drawCard renders the document page with its MRZ at the bottom.
func drawCard(f *Fonts, doc Doc, size [2]float64, pxmm float64, rng *rand.Rand) *image.RGBA {
	W, H := int(size[0]*pxmm), int(size[1]*pxmm)
	img := image.NewRGBA(image.Rect(0, 0, W, H))
	// Pastel background with a gradient and guilloche-like waves.
	c0 := [3]float64{215 + rng.Float64()*35, 215 + rng.Float64()*35, 205 + rng.Float64()*45}
	c1 := [3]float64{195 + rng.Float64()*50, 200 + rng.Float64()*45, 195 + rng.Float64()*50}
	wave := [3]float64{150 + rng.Float64()*80, 150 + rng.Float64()*80, 170 + rng.Float64()*80}
	freq, phase := 0.02+rng.Float64()*0.04, rng.Float64()*6
	for y := 0; y < H; y++ {
		for x := 0; x < W; x++ {
			t := float64(x+y) / float64(W+H)
			var c [3]float64
			for k := 0; k < 3; k++ {
				c[k] = c0[k]*(1-t) + c1[k]*t
			}
			// Thin wavy lines, faint, as on security printing.
			v := math.Sin(float64(y)*freq*3 + 8*math.Sin(float64(x)*freq+phase))
			if v > 0.96 {
				for k := 0; k < 3; k++ {
					c[k] = c[k]*0.7 + wave[k]*0.3
				}
			}
			i := img.PixOffset(x, y)
			img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = uint8(c[0]), uint8(c[1]), uint8(c[2]), 255
		}
	}
	ink := color.RGBA{uint8(10 + rng.IntN(40)), uint8(10 + rng.IntN(40)), uint8(20 + rng.IntN(50)), 255}
	// Photo area.
	px0, py0 := int(4*pxmm), int(10*pxmm)
	pw, ph := int(size[0]*0.28*pxmm), int(size[1]*0.45*pxmm)
	shade := uint8(120 + rng.IntN(80))
	draw.Draw(img, image.Rect(px0, py0, px0+pw, py0+ph), image.NewUniform(color.RGBA{shade, shade - 20, shade - 30, 255}), image.Point{}, draw.Src)
	// Printed text above the MRZ.
	titles := []string{"BUNDESREPUBLIK DEUTSCHLAND", "REISEPASS / PASSPORT / PASSEPORT", "PERSONALAUSWEIS", "IDENTITY CARD", "UTOPIA", "Name / Surname", "Vornamen / Given names", "Geburtstag / Date of birth", "Staatsangehörigkeit", "Gültig bis / Date of expiry", "KÖLN", "BERLIN", "Unterschrift"}
	textFace := face(f.Sans, 2.2*pxmm)
	boldFace := face(f.SansBold, 3.2*pxmm)
	drawString(img, boldFace, ink, int(size[0]*0.12*pxmm), int(6*pxmm), titles[rng.IntN(5)])
	tx := px0 + pw + int(4*pxmm)
	mrzTop := mrzTopMM(doc.Format, size)
	for y := 14.0; y < mrzTop-3; y += 5 + rng.Float64()*2 {
		s := titles[rng.IntN(len(titles))]
		if rng.IntN(2) == 0 {
			s = surnames[rng.IntN(len(surnames))] + " " + givenNames[rng.IntN(len(givenNames))]
		}
		drawString(img, textFace, ink, tx, int(y*pxmm), s)
	}
	// The MRZ: OCR-B at 10 characters per inch, lines about 4.2 mm apart.
	pitch := 2.54 * pxmm
	ocrb := face(f.OCRB, pitch/0.7219)
	left := (size[0] - 2.54*float64(len(doc.Lines[0]))) / 2
	left += (rng.Float64() - 0.5) * 1.5
	for i, line := range doc.Lines {
		baseY := (mrzTop + 2.4 + float64(i)*4.23) * pxmm
		for j := 0; j < len(line); j++ {
			x := (left + 2.54*float64(j)) * pxmm
			drawGlyph(img, ocrb, ink, x, baseY, line[j])
		}
	}
	return img
}

// mrzTopMM is the top of the MRZ band in mm from the top of the page.
func mrzTopMM(format string, size [2]float64) float64 {
	lines := 2.0
	if format == mrz.TD1 {
		lines = 3
	}
	return size[1] - 4 - lines*4.23
}

func drawString(img *image.RGBA, fc font.Face, c color.Color, x, y int, s string) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: fc, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

// drawGlyph draws one MRZ character at its cell.
func drawGlyph(img *image.RGBA, fc font.Face, c color.RGBA, x, baseY float64, ch byte) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: fc, Dot: fixed.Point26_6{X: fixed.Int26_6(x * 64), Y: fixed.Int26_6(baseY * 64)}}
	d.DrawString(string(ch))
}
