// Package ocr reads machine-readable zones from photos in pure Go (no cgo,
// so it also runs as WebAssembly in the browser): it finds the MRZ lines,
// follows their rotation and perspective, samples each line into a
// straight strip, fits the character grid, recognises the OCR-B glyphs
// with a small linear classifier built by tools/ocrbtemplates from the
// OCR-B font, and hands ranked alternatives per position to the MRZ
// parser, whose check digits settle what the classifier is unsure of.
package ocr

import (
	"image"
	"image/color"
)

// gray is an 8-bit luminance image.
type gray struct {
	w, h int
	pix  []uint8
}

func (g *gray) at(x, y int) uint8 { return g.pix[y*g.w+x] }

// toGray converts img to luminance, taking the Y plane of JPEG images
// directly.
func toGray(img image.Image) *gray {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	g := &gray{w: w, h: h, pix: make([]uint8, w*h)}
	switch m := img.(type) {
	case *image.YCbCr:
		for y := 0; y < h; y++ {
			copy(g.pix[y*w:(y+1)*w], m.Y[(y+b.Min.Y-m.Rect.Min.Y)*m.YStride+(b.Min.X-m.Rect.Min.X):])
		}
	case *image.Gray:
		for y := 0; y < h; y++ {
			copy(g.pix[y*w:(y+1)*w], m.Pix[(y+b.Min.Y-m.Rect.Min.Y)*m.Stride+(b.Min.X-m.Rect.Min.X):])
		}
	case *image.RGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[(y+b.Min.Y-m.Rect.Min.Y)*m.Stride+(b.Min.X-m.Rect.Min.X)*4:]
			for x := 0; x < w; x++ {
				r, gg, bb := int(row[4*x]), int(row[4*x+1]), int(row[4*x+2])
				g.pix[y*w+x] = uint8((299*r + 587*gg + 114*bb) / 1000)
			}
		}
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[(y+b.Min.Y-m.Rect.Min.Y)*m.Stride+(b.Min.X-m.Rect.Min.X)*4:]
			for x := 0; x < w; x++ {
				r, gg, bb := int(row[4*x]), int(row[4*x+1]), int(row[4*x+2])
				g.pix[y*w+x] = uint8((299*r + 587*gg + 114*bb) / 1000)
			}
		}
	default:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				g.pix[y*w+x] = color.GrayModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.Gray).Y
			}
		}
	}
	return g
}

// shrink box-averages g by an integer factor.
func shrink(g *gray, f int) *gray {
	if f <= 1 {
		return g
	}
	w, h := g.w/f, g.h/f
	out := &gray{w: w, h: h, pix: make([]uint8, w*h)}
	acc := make([]int, w)
	for y := 0; y < h; y++ {
		for i := range acc {
			acc[i] = 0
		}
		for dy := 0; dy < f; dy++ {
			row := g.pix[(y*f+dy)*g.w:]
			for x := 0; x < w; x++ {
				s := 0
				for dx := 0; dx < f; dx++ {
					s += int(row[x*f+dx])
				}
				acc[x] += s
			}
		}
		for x := 0; x < w; x++ {
			out.pix[y*w+x] = uint8(acc[x] / (f * f))
		}
	}
	return out
}

// sample returns the bilinear value at (x, y), edge-clamped.
func (g *gray) sample(x, y float64) float64 {
	if x < 0 {
		x = 0
	}
	if y < 0 {
		y = 0
	}
	if x > float64(g.w-1) {
		x = float64(g.w - 1)
	}
	if y > float64(g.h-1) {
		y = float64(g.h - 1)
	}
	x0, y0 := int(x), int(y)
	x1, y1 := min(x0+1, g.w-1), min(y0+1, g.h-1)
	fx, fy := x-float64(x0), y-float64(y0)
	p00, p10 := float64(g.pix[y0*g.w+x0]), float64(g.pix[y0*g.w+x1])
	p01, p11 := float64(g.pix[y1*g.w+x0]), float64(g.pix[y1*g.w+x1])
	return (p00*(1-fx)+p10*fx)*(1-fy) + (p01*(1-fx)+p11*fx)*fy
}

// binarize marks pixels darker than their neighbourhood (window of radius
// r) by a relative margin: ink on paper, robust to uneven light.
func binarize(g *gray, r int) []bool {
	w, h := g.w, g.h
	// Integral image with one row/column of zeros.
	ii := make([]int64, (w+1)*(h+1))
	for y := 0; y < h; y++ {
		var rs int64
		for x := 0; x < w; x++ {
			rs += int64(g.pix[y*w+x])
			ii[(y+1)*(w+1)+x+1] = ii[y*(w+1)+x+1] + rs
		}
	}
	out := make([]bool, w*h)
	for y := 0; y < h; y++ {
		y0, y1 := max(0, y-r), min(h, y+r+1)
		for x := 0; x < w; x++ {
			x0, x1 := max(0, x-r), min(w, x+r+1)
			sum := ii[y1*(w+1)+x1] - ii[y0*(w+1)+x1] - ii[y1*(w+1)+x0] + ii[y0*(w+1)+x0]
			n := int64((y1 - y0) * (x1 - x0))
			v := int64(g.pix[y*w+x])
			// Dark by at least 12 % of the local mean and by 12 grey levels.
			out[y*w+x] = v*n*100 < sum*88 && v*n+12*n < sum
		}
	}
	return out
}
