package yjpeg

// unzig maps the zigzag index of a coefficient to its natural index.
var unzig = [64]uint8{
	0, 1, 8, 16, 9, 2, 3, 10,
	17, 24, 32, 25, 18, 11, 4, 5,
	12, 19, 26, 33, 40, 48, 41, 34,
	27, 20, 13, 6, 7, 14, 21, 28,
	35, 42, 49, 56, 57, 50, 43, 36,
	29, 22, 15, 23, 30, 37, 44, 51,
	58, 59, 52, 45, 38, 31, 39, 46,
	53, 60, 61, 54, 47, 55, 62, 63,
}

// bits reads entropy-coded data: acc holds n bits, most significant first.
// At a marker or the end of data it shifts in zeros and counts them in
// phantom, so a scan that uses more bits than it has is caught.
type bits struct {
	data    []byte
	pos     int
	acc     uint64
	n       uint
	phantom uint
	marker  bool
}

func (b *bits) fill() {
	for b.n <= 56 {
		var c byte
		if !b.marker && b.pos < len(b.data) {
			c = b.data[b.pos]
			if c == 0xFF {
				if b.pos+1 < len(b.data) && b.data[b.pos+1] == 0 {
					b.pos += 2
				} else {
					b.marker, c = true, 0
					b.phantom += 8
				}
			} else {
				b.pos++
			}
		} else {
			b.phantom += 8
		}
		b.acc |= uint64(c) << (56 - b.n)
		b.n += 8
	}
}

// short reports that more bits were taken than the data held.
func (b *bits) short() bool { return b.phantom > b.n }

func (b *bits) decode(h *huffman) (uint8, error) {
	if b.n < 16 {
		b.fill()
	}
	if e := h.look[b.acc>>(64-lookBits)]; e != 0 {
		l := uint(e >> 8)
		b.acc <<= l
		b.n -= l
		return uint8(e), nil
	}
	code := int32(b.acc >> 48)
	for l := lookBits + 1; l <= 16; l++ {
		c := code >> (16 - l)
		if c <= h.maxcode[l] {
			b.acc <<= uint(l)
			b.n -= uint(l)
			return h.vals[h.valptr[l]+c-h.mincode[l]], nil
		}
	}
	return 0, FormatError("bad Huffman code")
}

// receive reads an s-bit magnitude category value (s ≤ 15) and extends
// its sign.
func (b *bits) receive(s uint8) int32 {
	if s == 0 {
		return 0
	}
	if b.n < uint(s) {
		b.fill()
	}
	v := int32(b.acc >> (64 - uint(s)))
	b.acc <<= uint(s)
	b.n -= uint(s)
	if v < 1<<(s-1) {
		v += -1<<s + 1
	}
	return v
}

func (b *bits) skip(s uint8) {
	if b.n < uint(s) {
		b.fill()
	}
	b.acc <<= uint(s)
	b.n -= uint(s)
}

// restart expects an RSTn marker where the data is and starts afresh
// after it.
func (b *bits) restart() error {
	if b.short() {
		return errShort
	}
	// The bits left over are padding; the marker stopped the reading.
	b.acc, b.n, b.phantom, b.marker = 0, 0, 0, false
	for b.pos+1 < len(b.data) && b.data[b.pos] == 0xFF && b.data[b.pos+1] == 0xFF {
		b.pos++
	}
	if b.pos+1 >= len(b.data) || b.data[b.pos] != 0xFF || b.data[b.pos+1] < 0xD0 || b.data[b.pos+1] > 0xD7 {
		return FormatError("missing RST marker")
	}
	b.pos += 2
	return nil
}

var errShort = FormatError("short entropy-coded data")

type scanComp struct {
	ci     int // index in the frame
	dc, ac *huffman
	pred   int32
}

func (d *decoder) sos(s []byte) error {
	if !d.frame {
		return FormatError("SOS before SOF")
	}
	if len(s) < 1 {
		return FormatError("short SOS")
	}
	ns := int(s[0])
	if ns < 1 || ns > len(d.comps) || len(s) != 4+2*ns {
		return FormatError("bad SOS length")
	}
	if s[1+2*ns] != 0 || s[2+2*ns] != 63 || s[3+2*ns] != 0 {
		return FormatError("bad spectral selection for a sequential scan")
	}
	sc := make([]scanComp, ns)
	hasY := false
	blocks := 0
	for i := range sc {
		id := s[1+2*i]
		ci := -1
		for j, c := range d.comps {
			if c.id == id {
				ci = j
			}
		}
		if ci < 0 {
			return FormatError("scan component not in frame")
		}
		for j := 0; j < i; j++ {
			if sc[j].ci == ci {
				return FormatError("component repeated in scan")
			}
		}
		td, ta := s[2+2*i]>>4, s[2+2*i]&15
		if td > 3 || ta > 3 || !d.dc[td].ok || !d.ac[ta].ok {
			return FormatError("missing Huffman table")
		}
		if !d.qok[d.comps[ci].tq] {
			return FormatError("missing quantisation table")
		}
		sc[i] = scanComp{ci: ci, dc: &d.dc[td], ac: &d.ac[ta]}
		hasY = hasY || ci == 0
		blocks += d.comps[ci].h * d.comps[ci].v
	}
	if ns > 1 && blocks > 10 {
		return FormatError("too many blocks per MCU")
	}
	if !hasY {
		return d.skipScan()
	}
	if d.yDone {
		return FormatError("luminance scanned twice")
	}
	b := &bits{data: d.data, pos: d.pos}
	var err error
	if ns == 1 {
		err = d.scanY(b, &sc[0])
	} else {
		err = d.scanMCUs(b, sc)
	}
	if err != nil {
		return err
	}
	if b.short() {
		return errShort
	}
	d.pos = b.pos
	d.yDone = true
	return d.skipScan() // stop at the next marker (b.pos may sit before padding)
}

// skipScan moves past entropy-coded data to the next marker other than
// RST: a scan of chroma alone is not decoded at all.
func (d *decoder) skipScan() error {
	for i := d.pos; i+1 < len(d.data); i++ {
		if d.data[i] == 0xFF {
			c := d.data[i+1]
			if c != 0 && c != 0xFF && (c < 0xD0 || c > 0xD7) {
				d.pos = i
				return nil
			}
		}
	}
	d.pos = len(d.data)
	return nil
}

// scanY decodes a scan of the luminance alone: blocks in raster order
// over the component's own extent.
func (d *decoder) scanY(b *bits, c *scanComp) error {
	bw, bh := (d.w+7)/8, (d.h+7)/8
	q := &d.q[d.comps[0].tq]
	mcu := 0
	for by := 0; by < bh; by++ {
		for bx := 0; bx < bw; bx++ {
			if d.ri > 0 && mcu > 0 && mcu%d.ri == 0 {
				if err := b.restart(); err != nil {
					return err
				}
				c.pred = 0
			}
			mcu++
			if err := d.block(b, c, q, bx, by); err != nil {
				return err
			}
		}
		if b.short() {
			return errShort
		}
	}
	return nil
}

// scanMCUs decodes an interleaved scan: luminance blocks are transformed,
// the others only read past.
func (d *decoder) scanMCUs(b *bits, sc []scanComp) error {
	q := &d.q[d.comps[0].tq]
	mcu := 0
	for my := 0; my < d.mcuH; my++ {
		for mx := 0; mx < d.mcuW; mx++ {
			if d.ri > 0 && mcu > 0 && mcu%d.ri == 0 {
				if err := b.restart(); err != nil {
					return err
				}
				for i := range sc {
					sc[i].pred = 0
				}
			}
			mcu++
			for i := range sc {
				c := &sc[i]
				comp := d.comps[c.ci]
				for v := 0; v < comp.v; v++ {
					for h := 0; h < comp.h; h++ {
						var err error
						if c.ci == 0 {
							err = d.block(b, c, q, mx*comp.h+h, my*comp.v+v)
						} else {
							err = skipBlock(b, c)
						}
						if err != nil {
							return err
						}
					}
				}
			}
		}
		if b.short() {
			return errShort
		}
	}
	return nil
}

// skipBlock reads past one block's coefficients.
func skipBlock(b *bits, c *scanComp) error {
	t, err := b.decode(c.dc)
	if err != nil {
		return err
	}
	b.skip(t)
	for k := 1; k < 64; {
		rs, err := b.decode(c.ac)
		if err != nil {
			return err
		}
		r, s := int(rs>>4), rs&15
		if s == 0 {
			if r != 15 {
				return nil
			}
			k += 16
			continue
		}
		k += r + 1
		b.skip(s)
	}
	return nil
}

// block decodes one luminance block and writes its n×n pixels at block
// position (bx, by).
func (d *decoder) block(b *bits, c *scanComp, q *[64]int32, bx, by int) error {
	var blk [64]float32
	t, err := b.decode(c.dc)
	if err != nil {
		return err
	}
	c.pred += b.receive(t)
	blk[0] = float32(c.pred * q[0])
	var rows, cols uint8 = 1, 1
	for k := 1; k < 64; {
		rs, err := b.decode(c.ac)
		if err != nil {
			return err
		}
		r, s := int(rs>>4), rs&15
		if s == 0 {
			if r != 15 {
				break
			}
			k += 16
			continue
		}
		k += r
		if k > 63 {
			return FormatError("coefficient index past 63")
		}
		if d.n > 1 {
			p := unzig[k]
			blk[p] = float32(b.receive(s) * q[k])
			rows |= 1 << (p >> 3)
			cols |= 1 << (p & 7)
		} else {
			b.skip(s)
		}
		k++
	}
	d.idct(&blk, rows, cols, bx, by)
	return nil
}

// idct writes the n×n output of one block: the 1-D transform down the
// coefficient columns, then along the rows. Output k and n-1-k share
// their terms (the basis is even in v for even v, odd for odd v), so each
// 1-D transform computes the even and odd sums once for both.
func (d *decoder) idct(blk *[64]float32, rows, cols uint8, bx, by int) {
	n := d.n
	stride := d.out.Stride
	out := d.out.Pix[by*n*stride+bx*n:]
	if rows == 1 && cols == 1 {
		v := clamp(blk[0]/8 + 128)
		for y := 0; y < n; y++ {
			row := out[y*stride : y*stride+n]
			for x := range row {
				row[x] = v
			}
		}
		return
	}
	if n == 4 {
		d.idct4(blk, cols, out, stride)
		return
	}
	var tmp [64]float32 // tmp[k*8+u]: output row k, coefficient column u
	h := (n + 1) / 2
	for u := 0; u < 8; u++ {
		if cols&(1<<u) == 0 {
			continue
		}
		for k := 0; k < h; k++ {
			mk := &d.m[k]
			e := mk[0]*blk[u] + mk[2]*blk[16+u] + mk[4]*blk[32+u] + mk[6]*blk[48+u]
			o := mk[1]*blk[8+u] + mk[3]*blk[24+u] + mk[5]*blk[40+u] + mk[7]*blk[56+u]
			tmp[k*8+u] = e + o
			tmp[(n-1-k)*8+u] = e - o
		}
	}
	for k := 0; k < n; k++ {
		row := out[k*stride : k*stride+n]
		t := (*[8]float32)(tmp[k*8 : k*8+8])
		for j := 0; j < h; j++ {
			mj := &d.m[j]
			e := mj[0]*t[0] + mj[2]*t[2] + mj[4]*t[4] + mj[6]*t[6]
			o := mj[1]*t[1] + mj[3]*t[3] + mj[5]*t[5] + mj[7]*t[7]
			row[j] = clamp(e + o + 128)
			row[n-1-j] = clamp(e - o + 128)
		}
	}
}

// idct4 is idct for 1/2 scale, the scanner's usual case, unrolled (the
// basis term v = 4 averages to zero over two samples).
func (d *decoder) idct4(blk *[64]float32, cols uint8, out []uint8, stride int) {
	a0, a1, a2, a3, a5, a6, a7 := d.m[0][0], d.m[0][1], d.m[0][2], d.m[0][3], d.m[0][5], d.m[0][6], d.m[0][7]
	b1, b2, b3, b5, b6, b7 := d.m[1][1], d.m[1][2], d.m[1][3], d.m[1][5], d.m[1][6], d.m[1][7]
	var t [4][8]float32
	for u := 0; u < 8; u++ {
		if cols&(1<<u) == 0 {
			continue
		}
		c0, c1, c2, c3 := blk[u], blk[8+u], blk[16+u], blk[24+u]
		c5, c6, c7 := blk[40+u], blk[48+u], blk[56+u]
		e0 := a0*c0 + a2*c2 + a6*c6
		e1 := a0*c0 + b2*c2 + b6*c6
		o0 := a1*c1 + a3*c3 + a5*c5 + a7*c7
		o1 := b1*c1 + b3*c3 + b5*c5 + b7*c7
		t[0][u], t[3][u] = e0+o0, e0-o0
		t[1][u], t[2][u] = e1+o1, e1-o1
	}
	for k := 0; k < 4; k++ {
		r := &t[k]
		e0 := a0*r[0] + a2*r[2] + a6*r[6] + 128
		e1 := a0*r[0] + b2*r[2] + b6*r[6] + 128
		o0 := a1*r[1] + a3*r[3] + a5*r[5] + a7*r[7]
		o1 := b1*r[1] + b3*r[3] + b5*r[5] + b7*r[7]
		row := out[k*stride : k*stride+4]
		row[0], row[3] = clamp(e0+o0), clamp(e0-o0)
		row[1], row[2] = clamp(e1+o1), clamp(e1-o1)
	}
}

func clamp(v float32) uint8 {
	v += 0.5
	if v <= 0 {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return uint8(v)
}
