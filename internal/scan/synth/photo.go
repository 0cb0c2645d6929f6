package synth

import (
	"image"
	"math"
	"math/rand/v2"
)

// Homography maps (x, y) to ((a x + b y + c)/(g x + h y + 1), (d x + e y + f)/(g x + h y + 1)).
type Homography [8]float64

// Apply maps a point.
func (m Homography) Apply(x, y float64) (float64, float64) {
	w := m[6]*x + m[7]*y + 1
	return (m[0]*x + m[1]*y + m[2]) / w, (m[3]*x + m[4]*y + m[5]) / w
}

// HomographyFrom solves for the homography taking src[i] to dst[i].
func HomographyFrom(src, dst [4][2]float64) (Homography, bool) {
	var a [8][9]float64
	for i := 0; i < 4; i++ {
		x, y, u, v := src[i][0], src[i][1], dst[i][0], dst[i][1]
		a[2*i] = [9]float64{x, y, 1, 0, 0, 0, -u * x, -u * y, u}
		a[2*i+1] = [9]float64{0, 0, 0, x, y, 1, -v * x, -v * y, v}
	}
	for c := 0; c < 8; c++ {
		p := c
		for r := c + 1; r < 8; r++ {
			if math.Abs(a[r][c]) > math.Abs(a[p][c]) {
				p = r
			}
		}
		if math.Abs(a[p][c]) < 1e-12 {
			return Homography{}, false
		}
		a[c], a[p] = a[p], a[c]
		for r := 0; r < 8; r++ {
			if r == c {
				continue
			}
			k := a[r][c] / a[c][c]
			for k2 := c; k2 < 9; k2++ {
				a[r][k2] -= k * a[c][k2]
			}
		}
	}
	var m Homography
	for i := 0; i < 8; i++ {
		m[i] = a[i][8] / a[i][i]
	}
	return m, true
}

// photograph places card into a w×h photo: rotated, in perspective, on a
// textured background, then blurred, glared and noised.
func photograph(card *image.RGBA, d Distortion, w, h int, rng *rand.Rand) *image.RGBA {
	cw, ch := float64(card.Bounds().Dx()), float64(card.Bounds().Dy())
	angle := (rng.Float64()*2 - 1) * d.MaxRotate * math.Pi / 180
	fill := d.DocFill[0] + rng.Float64()*(d.DocFill[1]-d.DocFill[0])
	// Scale so the rotated card fits the frame at the chosen fill.
	bw := cw*math.Abs(math.Cos(angle)) + ch*math.Abs(math.Sin(angle))
	bh := cw*math.Abs(math.Sin(angle)) + ch*math.Abs(math.Cos(angle))
	s := math.Min(fill*float64(w)/bw, 0.92*float64(h)/bh)
	cx := float64(w)/2 + (rng.Float64()-0.5)*(float64(w)-bw*s)*0.8
	cy := float64(h)/2 + (rng.Float64()-0.5)*(float64(h)-bh*s)*0.8
	corners := [4][2]float64{{0, 0}, {cw, 0}, {cw, ch}, {0, ch}}
	var dst [4][2]float64
	for i, c := range corners {
		x, y := (c[0]-cw/2)*s, (c[1]-ch/2)*s
		rx, ry := x*math.Cos(angle)-y*math.Sin(angle), x*math.Sin(angle)+y*math.Cos(angle)
		j := d.Perspective * cw * s
		dst[i] = [2]float64{cx + rx + (rng.Float64()*2-1)*j, cy + ry + (rng.Float64()*2-1)*j}
	}
	inv, _ := HomographyFrom(dst, corners)
	out := image.NewRGBA(image.Rect(0, 0, w, h))
	// Background: a table surface with a gradient and a coarse texture.
	b0 := [3]float64{40 + rng.Float64()*150, 40 + rng.Float64()*130, 40 + rng.Float64()*120}
	b1 := [3]float64{40 + rng.Float64()*150, 40 + rng.Float64()*130, 40 + rng.Float64()*120}
	tf := 0.01 + rng.Float64()*0.05
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			t := float64(y) / float64(h)
			tex := 12 * math.Sin(float64(x)*tf+3*math.Sin(float64(y)*tf*0.3))
			var c [3]float64
			sx, sy := inv.Apply(float64(x)+0.5, float64(y)+0.5)
			if sx >= 0 && sy >= 0 && sx < cw-1 && sy < ch-1 {
				c = bilinear(card, sx-0.5, sy-0.5)
			} else {
				for k := 0; k < 3; k++ {
					c[k] = b0[k]*(1-t) + b1[k]*t + tex
				}
			}
			i := out.PixOffset(x, y)
			out.Pix[i], out.Pix[i+1], out.Pix[i+2], out.Pix[i+3] = clamp8(c[0]), clamp8(c[1]), clamp8(c[2]), 255
		}
	}
	// Uneven lighting across the frame.
	light := 0.75 + rng.Float64()*0.25
	lx, ly := rng.Float64()*float64(w), rng.Float64()*float64(h)
	diag := math.Hypot(float64(w), float64(h))
	// Blur is given for a 1600-pixel-wide photo and scales with the size.
	sigma := (d.Blur[0] + rng.Float64()*(d.Blur[1]-d.Blur[0])) * float64(w) / 1600
	if sigma > 0.2 {
		gaussBlur(out, sigma)
	}
	glare := rng.Float64() < d.GlareProb
	gx, gy := cx+(rng.Float64()-0.5)*bw*s*0.8, cy+(rng.Float64()-0.5)*bh*s*0.8
	gr := (0.08 + rng.Float64()*0.2) * bw * s
	gs := rng.Float64() * d.GlareMax
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := out.PixOffset(x, y)
			l := light + (1-light)*(1-math.Hypot(float64(x)-lx, float64(y)-ly)/diag)
			g := 0.0
			if glare {
				dd := math.Hypot(float64(x)-gx, (float64(y)-gy)*1.6) / gr
				g = gs * math.Exp(-dd*dd)
			}
			n := rng.NormFloat64() * d.Noise
			for k := 0; k < 3; k++ {
				v := float64(out.Pix[i+k])*l + n
				v += (255 - v) * g
				out.Pix[i+k] = clamp8(v)
			}
		}
	}
	return out
}

func bilinear(img *image.RGBA, x, y float64) [3]float64 {
	if x < 0 {
		x = 0
	}
	if y < 0 {
		y = 0
	}
	x0, y0 := int(x), int(y)
	fx, fy := x-float64(x0), y-float64(y0)
	b := img.Bounds()
	x1, y1 := min(x0+1, b.Dx()-1), min(y0+1, b.Dy()-1)
	var c [3]float64
	for k := 0; k < 3; k++ {
		p00 := float64(img.Pix[img.PixOffset(x0, y0)+k])
		p10 := float64(img.Pix[img.PixOffset(x1, y0)+k])
		p01 := float64(img.Pix[img.PixOffset(x0, y1)+k])
		p11 := float64(img.Pix[img.PixOffset(x1, y1)+k])
		c[k] = (p00*(1-fx)+p10*fx)*(1-fy) + (p01*(1-fx)+p11*fx)*fy
	}
	return c
}

func clamp8(v float64) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v + 0.5)
}

// gaussBlur approximates a Gaussian blur by three box blurs per axis.
func gaussBlur(img *image.RGBA, sigma float64) {
	// Box width for three passes: w = sqrt(12σ²/3 + 1).
	r := int(math.Round((math.Sqrt(4*sigma*sigma+1) - 1) / 2))
	if r < 1 {
		r = 1
	}
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	buf := make([]float64, max(w, h))
	tmp := make([]float64, max(w, h))
	for pass := 0; pass < 3; pass++ {
		for k := 0; k < 3; k++ {
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					buf[x] = float64(img.Pix[img.PixOffset(x, y)+k])
				}
				boxLine(buf[:w], tmp[:w], r)
				for x := 0; x < w; x++ {
					img.Pix[img.PixOffset(x, y)+k] = clamp8(tmp[x])
				}
			}
			for x := 0; x < w; x++ {
				for y := 0; y < h; y++ {
					buf[y] = float64(img.Pix[img.PixOffset(x, y)+k])
				}
				boxLine(buf[:h], tmp[:h], r)
				for y := 0; y < h; y++ {
					img.Pix[img.PixOffset(x, y)+k] = clamp8(tmp[y])
				}
			}
		}
	}
}

func boxLine(in, out []float64, r int) {
	n := len(in)
	sum := 0.0
	for i := -r; i <= r; i++ {
		sum += in[min(max(i, 0), n-1)]
	}
	for i := 0; i < n; i++ {
		out[i] = sum / float64(2*r+1)
		sum += in[min(i+r+1, n-1)] - in[max(i-r, 0)]
	}
}
