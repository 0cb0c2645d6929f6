package ocr

import (
	"math"
	"sort"
	"strings"
	"sync"

	"github.com/wache/wache/internal/scan/plate"
)

// Plate decoding: instead of reading each glyph on its own and splitting
// the text afterwards, every way the glyphs can form a valid plate is
// scored with the classifier's log-probabilities (district code from the
// official list, 1-2 letters, 1-4 digits without a leading 0, an optional
// E/H), and the cheapest reading wins. A '0' where only a letter may stand
// is then read as 'O' because the classifier's second choice is cheap,
// and a district code the classifier half-misread is pulled to the
// nearest real code.

// Structure priors in nats: a reading that ignores the seal gap, and an
// official plate (digits only), need more evidence than a normal plate.
const (
	plateGapPenalty      = 5
	plateOfficialPenalty = 4
	// plateCandidateSpan is how much costlier than the best a reading may
	// be and still be listed among the candidates.
	plateCandidateSpan = 6
)

var (
	codesOnce sync.Once
	codesByN  [4][]string // district codes by length in runes
)

func districtCodes() *[4][]string {
	codesOnce.Do(func() {
		for _, c := range plate.DistrictCodes() {
			if n := len([]rune(c)); n >= 1 && n <= 3 {
				codesByN[n] = append(codesByN[n], c)
			}
		}
	})
	return &codesByN
}

// plateClassCost returns the cost of reading glyph scores sc as rune r;
// umlauts have no class of their own and take the plain vowel's score.
func plateClassCost(classes string, sc []float64, r rune) float64 {
	switch r {
	case 'Ä':
		r = 'A'
	case 'Ö':
		r = 'O'
	case 'Ü':
		r = 'U'
	}
	i := strings.IndexRune(classes, r)
	if i < 0 {
		return math.Inf(1)
	}
	return -sc[i]
}

type plateReading struct {
	text string // district, letters, digits, suffix joined
	p    *plate.Plate
	cost float64
}

// plateDropCost is the cost of leaving out a glyph at either end of the
// line (a screw, the edge of the EU band, dirt read as a glyph).
const plateDropCost = 3

// decodePlate returns the valid readings of glyph scores (log-probabilities
// per class, one row per glyph), cheapest first. Up to two glyphs at
// either end may be left out, at plateDropCost each.
func decodePlate(classes string, sc [][]float64, gapBefore []bool) []plateReading {
	var out []plateReading
	seen := map[string]int{}
	for a := 0; a <= 2 && a < len(sc); a++ {
		for b := len(sc); b >= a+2 && b >= len(sc)-2; b-- {
			gb := append([]bool(nil), gapBefore[a:b]...)
			gb[0] = false
			drop := float64(a+len(sc)-b) * plateDropCost
			for _, r := range decodeSpan(classes, sc[a:b], gb) {
				r.cost += drop
				if k, ok := seen[r.p.Plate]; ok {
					out[k].cost = math.Min(out[k].cost, r.cost)
					continue
				}
				seen[r.p.Plate] = len(out)
				out = append(out, r)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].cost < out[j].cost })
	return out
}

// decodeSpan decodes glyphs that are all part of the plate.
func decodeSpan(classes string, sc [][]float64, gapBefore []bool) []plateReading {
	n := len(sc)
	if n < 2 || n > 8 {
		return nil
	}
	codes := districtCodes()
	firstGap := -1
	for i := 1; i < n; i++ {
		if gapBefore[i] {
			firstGap = i
			break
		}
	}
	// Cheapest letter / digit per glyph.
	bestOf := func(i int, set string) (byte, float64) {
		var bc byte
		bv := math.Inf(1)
		for k := 0; k < len(set); k++ {
			if v := plateClassCost(classes, sc[i], rune(set[k])); v < bv {
				bc, bv = set[k], v
			}
		}
		return bc, bv
	}
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	var out []plateReading
	seen := map[string]int{}
	for d := 1; d <= 3 && d < n; d++ {
		// The cheapest known code over the first d glyphs.
		bestCode, codeCost := "", math.Inf(1)
		for _, c := range codes[d] {
			cost := 0.0
			for i, r := range []rune(c) {
				cost += plateClassCost(classes, sc[i], r)
				if cost >= codeCost {
					break
				}
			}
			if cost < codeCost {
				bestCode, codeCost = c, cost
			}
		}
		if bestCode == "" {
			continue
		}
		prior := 0.0
		if firstGap >= 0 && firstGap != d {
			prior += plateGapPenalty
		}
		for nl := 0; nl <= 2 && d+nl < n; nl++ {
			for _, suffix := range []string{"", "E", "H"} {
				nd := n - d - nl - len(suffix)
				if nd < 1 {
					continue
				}
				cost := codeCost + prior
				var b strings.Builder
				b.WriteString(bestCode)
				for i := d; i < d+nl; i++ {
					c, v := bestOf(i, letters)
					b.WriteByte(c)
					cost += v
				}
				for i := d + nl; i < d+nl+nd; i++ {
					set := "0123456789"
					if i == d+nl {
						set = "123456789"
					}
					c, v := bestOf(i, set)
					b.WriteByte(c)
					cost += v
				}
				if suffix != "" {
					cost += plateClassCost(classes, sc[n-1], rune(suffix[0]))
					b.WriteString(suffix)
				}
				if nl == 0 {
					cost += plateOfficialPenalty
				}
				text := b.String()
				rs := []rune(text)
				p, err := plate.Parse(bestCode + "-" + string(rs[d:d+nl]) + " " + string(rs[d+nl:]))
				if err != nil {
					continue
				}
				if k, ok := seen[p.Plate]; ok {
					if cost < out[k].cost {
						out[k].cost = cost
					}
					continue
				}
				seen[p.Plate] = len(out)
				out = append(out, plateReading{text: text, p: p, cost: cost})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].cost < out[j].cost })
	return out
}
