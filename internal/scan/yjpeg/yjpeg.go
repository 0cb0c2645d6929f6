// Package yjpeg decodes only the luminance (Y) plane of a sequential JPEG
// and scales it down by 1/2, 1/4 or 1/8 inside the inverse DCT.
//
// The scanner reads gray images and shrinks large photos before it looks
// for text, so a full-colour, full-size decode of a 12 MP phone photo
// (what image/jpeg does) is mostly wasted work: here chroma blocks are
// only entropy-decoded and skipped, and each luminance block is turned
// into (8/denom)² pixels by one small matrix product. Each output pixel
// is the mean of a denom×denom square of the full-size image (the box
// filter the scanner used after a full decode), up to rounding.
//
// Progressive, arithmetic-coded, 12-bit, lossless and CMYK/RGB-coded
// JPEGs return ErrUnsupported: the caller falls back to image/jpeg.
package yjpeg

import (
	"errors"
	"image"
	"math"
)

// ErrUnsupported marks a JPEG that is valid as far as read but uses a
// coding this package does not implement.
var ErrUnsupported = errors.New("yjpeg: unsupported JPEG coding")

// FormatError is a malformed JPEG.
type FormatError string

func (e FormatError) Error() string { return "yjpeg: invalid JPEG: " + string(e) }

// Scale returns the largest denominator in {1, 2, 4, 8} that keeps the
// short side of a w×h image at least minSide pixels.
func Scale(w, h, minSide int) int {
	s := min(w, h)
	d := 1
	for d < 8 && s/(2*d) >= minSide {
		d *= 2
	}
	return d
}

type component struct {
	id     uint8
	h, v   int
	tq     int
	td, ta int
}

type decoder struct {
	data      []byte
	pos       int
	denom, n  int // n = 8/denom output pixels per block side
	maxPixels int

	q      [4][64]int32 // zigzag order
	qok    [4]bool
	dc, ac [4]huffman

	frame      bool
	w, h       int
	comps      []component
	hmax, vmax int
	mcuW, mcuH int // MCUs across and down in interleaved scans
	ri         int
	adobe      bool
	transform  uint8
	yDone      bool
	out        *image.Gray // padded to whole MCUs
	m          [8][8]float32
}

// Decode returns the luminance of a baseline or extended sequential
// (Huffman, 8-bit) JPEG scaled by 1/denom (1, 2, 4 or 8), each pixel the
// mean of a denom×denom square. maxPixels bounds the full-size frame
// (width × height), checked before any pixel memory is allocated.
func Decode(data []byte, denom, maxPixels int) (*image.Gray, error) {
	switch denom {
	case 1, 2, 4, 8:
	default:
		return nil, errors.New("yjpeg: denom must be 1, 2, 4 or 8")
	}
	d := &decoder{data: data, denom: denom, n: 8 / denom, maxPixels: maxPixels}
	d.initIDCT()
	if len(data) < 2 || data[0] != 0xFF || data[1] != 0xD8 {
		return nil, FormatError("missing SOI marker")
	}
	d.pos = 2
	for {
		marker, err := d.nextMarker()
		if err != nil {
			if err == errEOF && d.yDone {
				break // tolerate a missing EOI, as most decoders do
			}
			return nil, err
		}
		if marker == 0xD9 { // EOI
			break
		}
		if marker >= 0xD0 && marker <= 0xD7 {
			continue // stray RST between segments: no length, nothing to do
		}
		if marker == 0x01 {
			continue // TEM
		}
		if d.pos+2 > len(data) {
			return nil, FormatError("short segment length")
		}
		n := int(data[d.pos])<<8 | int(data[d.pos+1])
		if n < 2 || d.pos+n > len(data) {
			return nil, FormatError("bad segment length")
		}
		seg := data[d.pos+2 : d.pos+n]
		d.pos += n
		switch {
		case marker == 0xC0 || marker == 0xC1:
			err = d.sof(seg)
		case marker == 0xC4:
			err = d.dht(seg)
		case marker == 0xDB:
			err = d.dqt(seg)
		case marker == 0xDD:
			if len(seg) != 2 {
				return nil, FormatError("bad DRI length")
			}
			d.ri = int(seg[0])<<8 | int(seg[1])
		case marker == 0xDA:
			err = d.sos(seg)
		case marker == 0xEE:
			if len(seg) >= 12 && string(seg[:5]) == "Adobe" {
				d.adobe, d.transform = true, seg[11]
			}
		case marker >= 0xC2 && marker <= 0xCF: // other SOFs, DAC, JPG
			return nil, ErrUnsupported
		}
		if err != nil {
			return nil, err
		}
	}
	if !d.yDone {
		return nil, FormatError("no luminance scan")
	}
	ow := (d.w*d.n + 7) / 8
	oh := (d.h*d.n + 7) / 8
	return d.out.SubImage(image.Rect(0, 0, ow, oh)).(*image.Gray), nil
}

var errEOF = FormatError("unexpected end of data")

// nextMarker skips to the next marker and returns its code, past it.
func (d *decoder) nextMarker() (byte, error) {
	for {
		if d.pos+1 >= len(d.data) {
			return 0, errEOF
		}
		if d.data[d.pos] != 0xFF {
			return 0, FormatError("missing marker")
		}
		c := d.data[d.pos+1]
		d.pos += 2
		if c == 0xFF { // fill byte
			d.pos--
			continue
		}
		if c == 0 {
			return 0, FormatError("missing marker")
		}
		return c, nil
	}
}

func (d *decoder) sof(s []byte) error {
	if d.frame {
		return FormatError("more than one frame")
	}
	if len(s) < 6 {
		return FormatError("short SOF")
	}
	if s[0] != 8 {
		return ErrUnsupported // 12-bit
	}
	d.h = int(s[1])<<8 | int(s[2])
	d.w = int(s[3])<<8 | int(s[4])
	nc := int(s[5])
	if d.w == 0 || d.h == 0 {
		return FormatError("no pixels (or height in a DNL segment)")
	}
	if int64(d.w)*int64(d.h) > int64(d.maxPixels) {
		return FormatError("more pixels than allowed")
	}
	if nc == 4 || nc == 2 {
		return ErrUnsupported
	}
	if nc != 1 && nc != 3 {
		return FormatError("bad component count")
	}
	if len(s) != 6+3*nc {
		return FormatError("bad SOF length")
	}
	d.comps = make([]component, nc)
	for i := range d.comps {
		c := &d.comps[i]
		c.id = s[6+3*i]
		c.h, c.v = int(s[7+3*i]>>4), int(s[7+3*i]&15)
		c.tq = int(s[8+3*i])
		if c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4 || c.tq > 3 {
			return FormatError("bad component parameters")
		}
		for j := 0; j < i; j++ {
			if d.comps[j].id == c.id {
				return FormatError("repeated component id")
			}
		}
		d.hmax, d.vmax = max(d.hmax, c.h), max(d.vmax, c.v)
	}
	if nc == 1 {
		// A single component is never interleaved: its sampling factors
		// mean nothing.
		d.comps[0].h, d.comps[0].v, d.hmax, d.vmax = 1, 1, 1, 1
	}
	y := d.comps[0]
	if y.h != d.hmax || y.v != d.vmax {
		return ErrUnsupported // luminance subsampled below chroma
	}
	if nc == 3 {
		// image/jpeg's rule: Adobe transform 0 or ids 'R','G','B' mean the
		// components are RGB, not YCbCr.
		if (d.adobe && d.transform == 0) || (d.comps[0].id == 'R' && d.comps[1].id == 'G' && d.comps[2].id == 'B') {
			return ErrUnsupported
		}
	}
	d.mcuW = (d.w + 8*d.hmax - 1) / (8 * d.hmax)
	d.mcuH = (d.h + 8*d.vmax - 1) / (8 * d.vmax)
	pw, ph := d.mcuW*d.hmax*d.n, d.mcuH*d.vmax*d.n
	d.out = image.NewGray(image.Rect(0, 0, pw, ph))
	d.frame = true
	return nil
}

func (d *decoder) dqt(s []byte) error {
	for len(s) > 0 {
		pq, tq := s[0]>>4, int(s[0]&15)
		if tq > 3 || pq > 1 {
			return FormatError("bad DQT")
		}
		s = s[1:]
		for k := 0; k < 64; k++ {
			if pq == 0 {
				if len(s) < 1 {
					return FormatError("short DQT")
				}
				d.q[tq][k] = int32(s[0])
				s = s[1:]
			} else {
				if len(s) < 2 {
					return FormatError("short DQT")
				}
				d.q[tq][k] = int32(s[0])<<8 | int32(s[1])
				s = s[2:]
			}
		}
		d.qok[tq] = true
	}
	return nil
}

func (d *decoder) dht(s []byte) error {
	for len(s) > 0 {
		if len(s) < 17 {
			return FormatError("short DHT")
		}
		tc, th := s[0]>>4, int(s[0]&15)
		if tc > 1 || th > 3 {
			return FormatError("bad DHT class or id")
		}
		var counts [16]int
		total := 0
		for i := range counts {
			counts[i] = int(s[1+i])
			total += counts[i]
		}
		if total == 0 || total > 256 || len(s) < 17+total {
			return FormatError("bad DHT counts")
		}
		h := &d.dc[th]
		if tc == 1 {
			h = &d.ac[th]
		}
		if err := h.build(counts, s[17:17+total], tc == 0); err != nil {
			return err
		}
		s = s[17+total:]
	}
	return nil
}

// initIDCT fills m: m[k][v] is the mean over the denom input samples of
// output k of the 1-D inverse DCT basis v, with the C(v)/2 factor.
func (d *decoder) initIDCT() {
	for k := 0; k < d.n; k++ {
		for v := 0; v < 8; v++ {
			c := 0.5
			if v == 0 {
				c = 0.5 / math.Sqrt2
			}
			s := 0.0
			for x := k * d.denom; x < (k+1)*d.denom; x++ {
				s += math.Cos(float64(2*x+1) * float64(v) * math.Pi / 16)
			}
			m := c * s / float64(d.denom)
			if math.Abs(m) < 1e-9 {
				m = 0
			}
			d.m[k][v] = float32(m)
		}
	}
}
