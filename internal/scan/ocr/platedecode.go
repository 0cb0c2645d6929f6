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

// plateDoubt is the cost of reading glyph scores sc as r for the
// confidence rule. O and 0 have nearly one shape in DIN and the position
// decides between them, so their probabilities are pooled: a clear 0
// among the digits is no doubt even if the model leans to O.
func plateDoubt(classes string, sc []float64, r rune) float64 {
	v := plateClassCost(classes, sc, r)
	var twin rune
	switch r {
	case '0':
		twin = 'O'
	case 'O', 'Ö':
		twin = '0'
	default:
		return v
	}
	v2 := plateClassCost(classes, sc, twin)
	m := math.Min(v, v2)
	return m - math.Log(math.Exp(m-v)+math.Exp(m-v2))
}

type plateReading struct {
	text string // district, letters, digits, suffix joined
	p    *plate.Plate
	cost float64
	// worst is the highest cost of one glyph's class in the reading;
	// a, b the glyphs used (sc[a:b]).
	worst float64
	a, b  int
}

// plateDropCost is the cost of leaving out a glyph at either end of the
// line (a screw, the edge of the EU band, dirt read as a glyph).
const plateDropCost = 3

// plateDrops is the cost of leaving out the glyphs before a and from b
// on: plateDropCost each, less for a cell the model takes for junk unless
// it touches the plate's first or last glyph (no gap between them: a
// narrow I or part of a glyph, not a screw); and the highest of these
// costs, where a touching cell counts as doubtful at least.
func plateDrops(classes string, sc [][]float64, gapBefore []bool, a, b int) (cost, worst float64) {
	j := strings.IndexRune(classes, plateJunk)
	for i := range sc {
		if i >= a && i < b {
			continue
		}
		c := float64(plateDropCost)
		touching := (i == a-1 && !gapBefore[a]) || (i == b && !gapBefore[b])
		if j >= 0 && !touching {
			c = math.Min(c, 0.5-sc[i][j])
		}
		cost += c
		worst = math.Max(worst, c)
		if touching {
			worst = math.Max(worst, plateDoubtfulDrop)
		}
	}
	return cost, worst
}

// plateDoubtfulDrop is the doubt (nats, compared with plateMaxGlyphCost)
// of leaving out a cell that touches the plate text.
const plateDoubtfulDrop = 1.5

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
			drop, dropWorst := plateDrops(classes, sc, gapBefore, a, b)
			for _, r := range decodeSpan(classes, sc[a:b], gb) {
				r.cost += drop
				r.a, r.b = a, b
				// Leaving out a glyph that looks like one is as doubtful
				// as reading a weak glyph.
				r.worst = math.Max(r.worst, dropWorst)
				if k, ok := seen[r.p.Plate]; ok {
					if r.cost < out[k].cost {
						out[k] = r
					}
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

// decodeSpan decodes glyphs that are all part of the plate. Per
// structure (code length, letter count, suffix) it yields the cheapest
// reading and the readings with one glyph, or the district code, taken as
// its runner-up: the classifier's second choices, which make the rivals
// a close call has (margin, candidates).
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
	// The two cheapest classes of a set per glyph.
	type choice struct {
		c  byte
		v  float64
		c2 byte // runner-up (0: none)
		v2 float64
	}
	best2 := func(i int, set string) choice {
		ch := choice{v: math.Inf(1), v2: math.Inf(1)}
		for k := 0; k < len(set); k++ {
			v := plateClassCost(classes, sc[i], rune(set[k]))
			switch {
			case v < ch.v:
				ch.c2, ch.v2 = ch.c, ch.v
				ch.c, ch.v = set[k], v
			case v < ch.v2:
				ch.c2, ch.v2 = set[k], v
			}
		}
		return ch
	}
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	var out []plateReading
	seen := map[string]int{}
	add := func(code string, rest []byte, split int, cost, worst float64) {
		text := code + string(rest)
		p, err := plate.Parse(code + "-" + string(rest[:split]) + " " + string(rest[split:]))
		if err != nil {
			return
		}
		if k, ok := seen[p.Plate]; ok {
			if cost < out[k].cost {
				out[k].cost, out[k].worst = cost, worst
			}
			return
		}
		seen[p.Plate] = len(out)
		out = append(out, plateReading{text: text, p: p, cost: cost, worst: worst})
	}
	for d := 1; d <= 3 && d < n; d++ {
		// The two cheapest known codes over the first d glyphs.
		code, codeCost := "", math.Inf(1)
		code2, codeCost2 := "", math.Inf(1)
		for _, c := range codes[d] {
			cost := 0.0
			for i, r := range []rune(c) {
				cost += plateClassCost(classes, sc[i], r)
				if cost >= codeCost2 {
					break
				}
			}
			switch {
			case cost < codeCost:
				code2, codeCost2 = code, codeCost
				code, codeCost = c, cost
			case cost < codeCost2:
				code2, codeCost2 = c, cost
			}
		}
		if code == "" {
			continue
		}
		worstOf := func(c string) float64 {
			w := 0.0
			for i, r := range []rune(c) {
				w = math.Max(w, plateDoubt(classes, sc[i], r))
			}
			return w
		}
		codeWorst := worstOf(code)
		// The seal gap follows the code; letters, digits and suffix
		// follow each other closely, so a gap elsewhere (before a screw
		// read as an E) costs as much as a missing seal gap.
		prior := 0.0
		if firstGap >= 0 && firstGap != d {
			prior += plateGapPenalty
		}
		for i := d + 1; i < n; i++ {
			if gapBefore[i] && i != firstGap {
				prior += plateGapPenalty
			}
		}
		for nl := 0; nl <= 2 && d+nl < n; nl++ {
			for _, suffix := range []string{"", "E", "H"} {
				nd := n - d - nl - len(suffix)
				if nd < 1 {
					continue
				}
				cost := codeCost + prior
				if nl == 0 {
					cost += plateOfficialPenalty
				}
				worst := codeWorst
				chs := make([]choice, 0, n-d)
				for i := d; i < d+nl; i++ {
					chs = append(chs, best2(i, letters))
				}
				for i := d + nl; i < d+nl+nd; i++ {
					set := "0123456789"
					if i == d+nl {
						set = "123456789"
					}
					chs = append(chs, best2(i, set))
				}
				rest := make([]byte, 0, n-d)
				for k, ch := range chs {
					rest = append(rest, ch.c)
					cost += ch.v
					worst = math.Max(worst, plateDoubt(classes, sc[d+k], rune(ch.c)))
				}
				if suffix != "" {
					v := plateClassCost(classes, sc[n-1], rune(suffix[0]))
					cost += v
					worst = math.Max(worst, v)
					rest = append(rest, suffix[0])
				}
				add(code, rest, nl, cost, worst)
				// Runner-ups, one at a time.
				if code2 != "" {
					add(code2, rest, nl, cost-codeCost+codeCost2, math.Max(worst, worstOf(code2)))
				}
				for k, ch := range chs {
					if ch.c2 == 0 || math.IsInf(ch.v2, 1) {
						continue
					}
					alt := append([]byte(nil), rest...)
					alt[k] = ch.c2
					add(code, alt, nl, cost-ch.v+ch.v2, math.Max(worst, plateDoubt(classes, sc[d+k], rune(ch.c2))))
				}
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].cost < out[j].cost })
	return out
}

// plateMargin is how much costlier than the best reading rs[0] the next
// valid reading of the same glyphs is (the same glyphs left out at the
// ends): readings that differ only by leaving out an end glyph cost
// plateDropCost more by construction and say nothing about the glyphs.
func plateMargin(classes string, sc [][]float64, gapBefore []bool, rs []plateReading) float64 {
	if len(rs) == 0 {
		return 0
	}
	best := rs[0]
	gb := append([]bool(nil), gapBefore[best.a:best.b]...)
	gb[0] = false
	drop, _ := plateDrops(classes, sc, gapBefore, best.a, best.b)
	margin := math.Inf(1)
	for _, r := range decodeSpan(classes, sc[best.a:best.b], gb) {
		if r.p.Plate != best.p.Plate {
			margin = math.Min(margin, r.cost+drop-best.cost)
		}
	}
	return margin
}
