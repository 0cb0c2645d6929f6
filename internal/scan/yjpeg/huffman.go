package yjpeg

const lookBits = 9

// huffman is one decoding table: codes up to lookBits long are looked up
// directly, longer ones by the canonical code ranges per length.
type huffman struct {
	ok      bool
	look    [1 << lookBits]uint16 // length<<8 | symbol; 0: longer code
	maxcode [17]int32             // last code of each length, -1 when none
	mincode [17]int32
	valptr  [17]int32
	vals    [256]uint8
}

func (h *huffman) build(counts [16]int, vals []byte, dc bool) error {
	*h = huffman{}
	copy(h.vals[:], vals)
	if dc {
		for _, v := range vals {
			if v > 15 {
				return FormatError("bad DC Huffman symbol")
			}
		}
	}
	code, k := int32(0), int32(0)
	for l := 1; l <= 16; l++ {
		n := int32(counts[l-1])
		h.valptr[l], h.mincode[l], h.maxcode[l] = k, code, -1
		if n > 0 {
			h.maxcode[l] = code + n - 1
		}
		for i := int32(0); i < n; i++ {
			if code >= 1<<l {
				return FormatError("bad Huffman code lengths")
			}
			if l <= lookBits {
				e := uint16(l)<<8 | uint16(vals[k])
				lo := int(code) << (lookBits - l)
				for j := 0; j < 1<<(lookBits-l); j++ {
					h.look[lo+j] = e
				}
			}
			code++
			k++
		}
		code <<= 1
	}
	h.ok = true
	return nil
}
