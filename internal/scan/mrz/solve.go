package mrz

import "math"

// choice is one candidate of a position taking part in a check.
type choice struct {
	cands  []Alt
	weight int // multiplier mod 10 of the character value
}

// dpEntry is one partial reading in the check-digit search.
type dpEntry struct {
	cost      float64
	prevState int
	prevRank  int
	alt       int
}

// solveCheck finds the cheapest assignment of candidates whose weighted
// value sum is 0 mod 10 (the check position carries weight 9, i.e. -1).
// It returns that assignment, its cost and the cost of the next-cheapest
// distinct assignment that also passes (+Inf if none). A dynamic program
// over the ten sums keeps the two best readings per sum, so the search is
// linear in the field length.
func solveCheck(ps []choice) (best []byte, bestCost, second float64, ok bool) {
	const k = 2
	layers := make([][10][]dpEntry, len(ps)+1)
	layers[0][0] = []dpEntry{{cost: 0, prevState: -1}}
	for i, p := range ps {
		next := &layers[i+1]
		for s := 0; s < 10; s++ {
			for r, e := range layers[i][s] {
				for a, alt := range p.cands {
					v, _ := charValue(alt.Char)
					ns := (s + v*p.weight) % 10
					ne := dpEntry{cost: e.cost + alt.Cost, prevState: s, prevRank: r, alt: a}
					lst := next[ns]
					// Insert, keeping the k cheapest.
					pos := len(lst)
					for pos > 0 && lst[pos-1].cost > ne.cost {
						pos--
					}
					if pos >= k {
						continue
					}
					lst = append(lst, dpEntry{})
					copy(lst[pos+1:], lst[pos:])
					lst[pos] = ne
					if len(lst) > k {
						lst = lst[:k]
					}
					next[ns] = lst
				}
			}
		}
	}
	final := layers[len(ps)][0]
	if len(final) == 0 {
		return nil, 0, math.Inf(1), false
	}
	best = make([]byte, len(ps))
	s, r := 0, 0
	for i := len(ps); i > 0; i-- {
		e := layers[i][s][r]
		best[i-1] = ps[i-1].cands[e.alt].Char
		s, r = e.prevState, e.prevRank
	}
	second = math.Inf(1)
	if len(final) > 1 {
		second = final[1].cost
	}
	return best, final[0].cost, second, true
}

// solveField settles a field with a check digit: data spans of kind k,
// then the check position. The cheapest passing reading is taken if it is
// within MaxRepairCost of the plain reading and at least Margin cheaper than
// any other passing reading; otherwise the plain reading stays and the
// check fails (or the field is marked ambiguous).
func (p *parser) solveField(name string, data []span, check span, k kind) {
	var ps []choice
	type at struct{ line, i int }
	var where []at
	w := [3]int{7, 3, 1}
	n := 0
	for _, s := range data {
		for i := s.from; i < s.to; i++ {
			ps = append(ps, choice{cands: p.cands(s.line, i, k), weight: w[n%3]})
			where = append(where, at{s.line, i})
			n++
		}
	}
	ck := kDigit
	if name == "optional_data" {
		ck = kCheck // an empty optional field may carry '<' as its check
	}
	ps = append(ps, choice{cands: p.cands(check.line, check.from, ck), weight: 9})
	where = append(where, at{check.line, check.from})
	p.decide(name, ps, func(i int) (int, int) { return where[i].line, where[i].i })
}

// solveComposite settles the composite check digit. Positions already
// settled by their own passing check are held fixed; the rest (optional
// data without its own check) may be repaired.
func (p *parser) solveComposite(l layout) {
	var ps []choice
	type at struct{ line, i int }
	var where []at
	w := [3]int{7, 3, 1}
	n := 0
	for _, s := range l.composite {
		for i := s.from; i < s.to; i++ {
			var c []Alt
			if p.fixed[s.line][i] {
				c = []Alt{{Char: p.chosen[s.line][i]}}
			} else {
				c = p.cands(s.line, i, p.kindAt(l, s.line, i))
				if len(c) == 0 {
					c = []Alt{{Char: p.chosen[s.line][i]}}
				}
			}
			ps = append(ps, choice{cands: c, weight: w[n%3]})
			where = append(where, at{s.line, i})
			n++
		}
	}
	cs := l.compositeChk
	ps = append(ps, choice{cands: p.cands(cs.line, cs.from, kDigit), weight: 9})
	where = append(where, at{cs.line, cs.from})
	p.decide("composite", ps, func(i int) (int, int) { return where[i].line, where[i].i })
}

// kindAt tells the kind of an unsettled position inside the composite.
func (p *parser) kindAt(l layout, line, i int) kind {
	in := func(s span) bool { return s.line == line && i >= s.from && i < s.to }
	switch {
	case in(l.birth), in(l.expiry):
		return kNum
	case in(l.birthCheck), in(l.expiryCheck), in(l.docCheck):
		return kDigit
	case in(l.opt1Check):
		return kCheck
	}
	return kAlnum
}

// decide runs the check search over ps and records the outcome.
func (p *parser) decide(name string, ps []choice, loc func(int) (int, int)) {
	for _, c := range ps {
		if len(c.cands) == 0 {
			// A position no reading of which fits the field.
			p.recordCheck(name, ps, loc, false)
			p.field(name, false, "character not allowed in this field")
			return
		}
	}
	if p.opt.MinConfidence > 0 {
		// A reading not allowed in the field is replaced by its look-alike
		// (I → 1 in a number). That is a guess, and the check digit cannot
		// vouch for it where the guess has an alias of the same value mod
		// 10 (1 and L, 8 and S, 6 and G): unless the classifier read the
		// look-alike too, the field stays unproven.
		for i, c := range ps {
			line, j := loc(i)
			raw := p.pos[line][j]
			if p.fixed[line][j] || raw[0].Char == c.cands[0].Char {
				continue
			}
			read := false
			for _, a := range raw {
				read = read || a.Char == c.cands[0].Char
			}
			if !read {
				for i, c := range ps {
					line, j := loc(i)
					p.set(line, j, c.cands[0].Char)
				}
				p.field(name, false, "uncertain reading")
				p.recordCheck(name, ps, loc, false)
				return
			}
		}
	}
	plain := 0.0
	unsure := 0
	for _, c := range ps {
		plain += c.cands[0].Cost
		if len(c.cands) > 1 && c.cands[1].Cost-c.cands[0].Cost < 1 {
			unsure++
		}
	}
	if p.opt.MinConfidence > 0 && unsure >= 2 {
		// Two or more positions the classifier cannot tell apart: one check
		// digit cannot settle them (a wrong pair passes one time in ten).
		for i, c := range ps {
			line, j := loc(i)
			p.set(line, j, c.cands[0].Char)
		}
		p.field(name, false, "uncertain reading")
		p.recordCheck(name, ps, loc, false)
		return
	}
	best, cost, second, ok := solveCheck(ps)
	switch {
	case ok && cost-plain <= p.opt.MaxRepairCost && second-cost >= p.opt.Margin:
		for i, c := range best {
			line, j := loc(i)
			p.set(line, j, c)
			p.fixed[line][j] = true
		}
		p.recordCheck(name, ps, loc, true)
	case ok && cost-plain <= p.opt.MaxRepairCost:
		// Two readings pass and neither is clearly better: do not guess.
		for i, c := range ps {
			line, j := loc(i)
			p.set(line, j, c.cands[0].Char)
		}
		p.field(name, false, "ambiguous reading")
		p.recordCheck(name, ps, loc, false)
	default:
		for i, c := range ps {
			line, j := loc(i)
			p.set(line, j, c.cands[0].Char)
		}
		p.recordCheck(name, ps, loc, false)
	}
}

// recordCheck appends the check outcome computed from the settled reading.
func (p *parser) recordCheck(name string, ps []choice, loc func(int) (int, int), forceOK bool) {
	data := make([]byte, 0, len(ps)-1)
	for i := 0; i < len(ps)-1; i++ {
		line, j := loc(i)
		data = append(data, p.chosen[line][j])
	}
	line, j := loc(len(ps) - 1)
	digit := p.chosen[line][j]
	exp, _ := CheckDigit(string(data))
	ok := checkMatches(string(data), digit)
	if !forceOK && ok {
		// The plain reading passes but another reading does too (ambiguous):
		// report the check as not proven.
		ok = false
	}
	p.res.Checks = append(p.res.Checks, Check{Field: name, Digit: string(digit), Expected: string(exp), OK: ok})
	if ok {
		p.field(name, true, "")
	} else {
		p.field(name, false, "check digit does not match")
	}
}
