package ocr

import (
	"math"
	"sort"
)

// comp is a connected component of ink.
type comp struct {
	minX, minY, maxX, maxY int
	area                   int
	sx, sy                 float64 // sums for the centroid
}

func (c *comp) w() int           { return c.maxX - c.minX + 1 }
func (c *comp) h() int           { return c.maxY - c.minY + 1 }
func (c *comp) cx() float64      { return c.sx / float64(c.area) }
func (c *comp) cy() float64      { return c.sy / float64(c.area) }
func (c *comp) bcx() float64     { return float64(c.minX+c.maxX) / 2 }
func (c *comp) bcy() float64     { return float64(c.minY+c.maxY) / 2 }
func (c *comp) size() (int, int) { return c.w(), c.h() }
func (c *comp) contains(x, y int) bool {
	return x >= c.minX && x <= c.maxX && y >= c.minY && y <= c.maxY
}

// components labels 8-connected ink regions with union-find.
func components(ink []bool, w, h int, maxComps int) []comp {
	labels := make([]int32, w*h)
	parent := []int32{0}
	find := func(a int32) int32 {
		for parent[a] != a {
			parent[a] = parent[parent[a]]
			a = parent[a]
		}
		return a
	}
	union := func(a, b int32) int32 {
		ra, rb := find(a), find(b)
		if ra == rb {
			return ra
		}
		if ra < rb {
			parent[rb] = ra
			return ra
		}
		parent[ra] = rb
		return rb
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := y*w + x
			if !ink[i] {
				continue
			}
			var l int32
			try := func(j int) {
				if lj := labels[j]; lj != 0 {
					if l == 0 {
						l = find(lj)
					} else if find(lj) != l {
						l = union(l, lj)
					}
				}
			}
			if x > 0 {
				try(i - 1)
			}
			if y > 0 {
				if x > 0 {
					try(i - w - 1)
				}
				try(i - w)
				if x < w-1 {
					try(i - w + 1)
				}
			}
			if l == 0 {
				l = int32(len(parent))
				parent = append(parent, l)
			}
			labels[i] = l
		}
	}
	idx := make([]int32, len(parent))
	var out []comp
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			l := labels[y*w+x]
			if l == 0 {
				continue
			}
			r := find(l)
			k := idx[r]
			if k == 0 {
				if len(out) >= maxComps {
					continue
				}
				out = append(out, comp{minX: x, minY: y, maxX: x, maxY: y})
				k = int32(len(out))
				idx[r] = k
			}
			c := &out[k-1]
			c.minX, c.maxX = min(c.minX, x), max(c.maxX, x)
			c.minY, c.maxY = min(c.minY, y), max(c.maxY, y)
			c.area++
			c.sx += float64(x)
			c.sy += float64(y)
		}
	}
	return out
}

// textLine is a chain of glyph-like components along one direction.
type textLine struct {
	comps  []*comp
	a, b   float64 // centre line y = a + b x (image coordinates)
	h      float64 // median glyph height
	x0, x1 float64 // extent along x of the ink
	glyphs int     // estimated number of glyphs (wide merged comps count several)
}

// skewAngle finds the dominant text direction (radians, within ±17°) from
// the centroids of glyph-like components by maximising the sharpness of
// their projection profile.
func skewAngle(cs []*comp, binH float64) float64 {
	best, bestScore := 0.0, -1.0
	hist := map[int]int{}
	for deg := -17.0; deg <= 17.0; deg += 0.5 {
		th := deg * math.Pi / 180
		s, c := math.Sin(th), math.Cos(th)
		clear(hist)
		for _, p := range cs {
			hist[int(math.Floor((-s*p.bcx()+c*p.bcy())/binH))]++
		}
		score := 0.0
		for _, n := range hist {
			score += float64(n * n)
		}
		if score > bestScore {
			best, bestScore = th, score
		}
	}
	// Refine around the best in 0.1° steps.
	center := best
	for d := -0.4; d <= 0.4; d += 0.1 {
		th := center + d*math.Pi/180
		s, c := math.Sin(th), math.Cos(th)
		clear(hist)
		for _, p := range cs {
			hist[int(math.Floor((-s*p.bcx()+c*p.bcy())/binH))]++
		}
		score := 0.0
		for _, n := range hist {
			score += float64(n * n)
		}
		if score > bestScore {
			best, bestScore = th, score
		}
	}
	return best
}

// findLines chains glyph-like components into text lines of at least 8.
func findLines(all []comp) []textLine { return findLinesMin(all, 8) }

// findLinesMin chains glyph-like components into text lines of at least
// minChain components.
func findLinesMin(all []comp, minChain int) []textLine {
	var cs []*comp
	for i := range all {
		c := &all[i]
		w, h := c.size()
		if h < 5 || h > 200 || c.area < 8 {
			continue
		}
		if w > 3*h && w > 40*h {
			continue
		}
		cs = append(cs, c)
	}
	if len(cs) < minChain {
		return nil
	}
	// Median height of narrow comps for the projection bin.
	var hs []int
	for _, c := range cs {
		if c.w() <= 2*c.h() {
			hs = append(hs, c.h())
		}
	}
	if len(hs) == 0 {
		return nil
	}
	sort.Ints(hs)
	var narrow []*comp
	for _, c := range cs {
		if c.w() <= 2*c.h() {
			narrow = append(narrow, c)
		}
	}
	theta := skewAngle(narrow, math.Max(2, float64(hs[len(hs)/2])/3))
	tan := math.Tan(theta)
	sort.Slice(cs, func(i, j int) bool { return cs[i].minX < cs[j].minX })
	// Right neighbour of each comp: the nearest one along the text
	// direction with a similar height.
	n := len(cs)
	right := make([]int, n)
	leftOf := make([]int, n)
	for i := range right {
		right[i], leftOf[i] = -1, -1
	}
	for i, c := range cs {
		h := float64(c.h())
		// Expected height of glyphs is the comp height unless the comp is
		// wide (merged glyphs keep the glyph height but a skewed bbox
		// grows): use the vertical extent corrected for skew.
		hc := h - math.Abs(tan)*float64(c.w())*0.5
		if hc < h*0.5 {
			hc = h * 0.5
		}
		bestD := math.Inf(1)
		for j := i + 1; j < n; j++ {
			d := cs[j]
			gap := float64(d.minX - c.maxX)
			if gap > 1.3*hc {
				break
			}
			if d.maxX <= c.maxX {
				continue
			}
			hd := float64(d.h()) - math.Abs(tan)*float64(d.w())*0.5
			if hd < float64(d.h())*0.5 {
				hd = float64(d.h()) * 0.5
			}
			if hd > 1.7*hc || hd < hc/1.7 {
				continue
			}
			// Centre-line offset along the text direction.
			dx := d.bcx() - c.bcx()
			dy := d.bcy() - c.bcy() - dx*tan
			if math.Abs(dy) > 0.35*math.Max(hc, hd) {
				continue
			}
			dist := gap + math.Abs(dy)
			if dist < bestD {
				bestD, right[i] = dist, j
			}
		}
	}
	// Keep mutual links only, so chains do not fork.
	for i, j := range right {
		if j < 0 {
			continue
		}
		if leftOf[j] < 0 {
			leftOf[j] = i
		} else {
			// Two comps point to j: keep the nearer one.
			k := leftOf[j]
			if cs[j].minX-cs[i].maxX < cs[j].minX-cs[k].maxX {
				right[k] = -1
				leftOf[j] = i
			} else {
				right[i] = -1
			}
		}
	}
	var lines []textLine
	for i := range cs {
		if leftOf[i] >= 0 {
			continue // not a chain start
		}
		var chain []*comp
		for k := i; k >= 0; k = right[k] {
			chain = append(chain, cs[k])
		}
		if len(chain) < minChain {
			continue
		}
		lines = append(lines, makeLine(chain, tan))
	}
	return lines
}

// makeLine fits the centre line and measures a chain.
func makeLine(chain []*comp, tan float64) textLine {
	l := textLine{comps: chain}
	var hs []float64
	for _, c := range chain {
		hc := float64(c.h()) - math.Abs(tan)*float64(c.w())*0.5
		if c.w() <= 2*c.h() {
			hc = float64(c.h()) - math.Abs(tan)*float64(c.w())
			if hc < float64(c.h())*0.6 {
				hc = float64(c.h()) * 0.6
			}
			hs = append(hs, hc)
		}
	}
	sort.Float64s(hs)
	if len(hs) > 0 {
		l.h = hs[len(hs)/2]
	} else {
		l.h = float64(chain[0].h())
	}
	// Least squares on box centres, weighted by width so merged runs count.
	var sw, sx, sy, sxx, sxy float64
	for _, c := range chain {
		w := float64(c.w())
		x, y := c.bcx(), c.bcy()
		sw += w
		sx += w * x
		sy += w * y
		sxx += w * x * x
		sxy += w * x * y
	}
	den := sw*sxx - sx*sx
	if math.Abs(den) > 1e-9 {
		l.b = (sw*sxy - sx*sy) / den
	} else {
		l.b = tan
	}
	l.a = (sy - l.b*sx) / sw
	l.x0, l.x1 = float64(chain[0].minX), float64(chain[len(chain)-1].maxX)
	for _, c := range chain {
		wc := float64(c.w()) / math.Sqrt(1+l.b*l.b)
		k := int(math.Round(wc / (0.95 * l.h)))
		if k < 1 {
			k = 1
		}
		l.glyphs += k
	}
	return l
}

// mrzCandidate is a set of 2 or 3 parallel lines that look like an MRZ.
type mrzCandidate struct {
	lines []textLine
	score float64
}

// findMRZ picks the best group of 2 or 3 adjacent, parallel, equally long
// lines of about 30, 36 or 44 glyphs.
func findMRZ(lines []textLine) []mrzCandidate {
	lines = mergeCollinear(lines)
	var ls []textLine
	for _, l := range lines {
		if l.glyphs < 20 || l.glyphs > 56 {
			continue
		}
		// In an MRZ every cell holds a glyph, so the pitch follows from
		// length and count; the capital height follows from the pitch more
		// reliably than from skewed bounding boxes.
		length := (l.x1 - l.x0) * math.Sqrt(1+l.b*l.b)
		hp := length / ((float64(l.glyphs) - 0.25) * 1.04)
		if hp < 0.6*l.h || hp > 1.6*l.h {
			continue // spacing unlike an MRZ
		}
		l.h = hp
		ls = append(ls, l)
	}
	// Sort by the centre line's height at its middle.
	mid := func(l textLine) float64 { return l.a + l.b*(l.x0+l.x1)/2 }
	sort.Slice(ls, func(i, j int) bool { return mid(ls[i]) < mid(ls[j]) })
	compatible := func(p, q textLine) bool {
		hr := p.h / q.h
		if hr < 0.75 || hr > 1.33 {
			return false
		}
		h := (p.h + q.h) / 2
		// Line distance measured at the middle of p.
		xm := (p.x0 + p.x1) / 2
		d := (q.a + q.b*xm) - (p.a + p.b*xm)
		d /= math.Sqrt(1 + p.b*p.b)
		if d < 1.1*h || d > 3.2*h {
			return false
		}
		lp, lq := p.x1-p.x0, q.x1-q.x0
		if math.Abs(lp-lq) > 0.15*math.Max(lp, lq) {
			return false
		}
		// Left ends close together, allowing for rotation.
		dxStart := math.Abs(p.x0 - q.x0)
		return dxStart < 3*h+math.Abs(p.b)*d*1.2
	}
	var out []mrzCandidate
	for i := range ls {
		for j := i + 1; j < len(ls) && j <= i+3; j++ {
			if !compatible(ls[i], ls[j]) {
				continue
			}
			group := []textLine{ls[i], ls[j]}
			for k := j + 1; k < len(ls) && k <= j+3; k++ {
				if compatible(ls[j], ls[k]) {
					group = append(group, ls[k])
					break
				}
			}
			score := 0.0
			for _, g := range group {
				score += float64(g.glyphs)
			}
			out = append(out, mrzCandidate{lines: group, score: score})
			if len(group) == 3 {
				out = append(out, mrzCandidate{lines: group[:2], score: score * 0.5})
				out = append(out, mrzCandidate{lines: group[1:], score: score * 0.5})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].score > out[j].score })
	return out
}

// mergeCollinear joins chains that continue each other across a short gap
// (glare or a fold can break an MRZ line in two).
func mergeCollinear(lines []textLine) []textLine {
	sort.Slice(lines, func(i, j int) bool { return lines[i].x0 < lines[j].x0 })
	used := make([]bool, len(lines))
	var out []textLine
	for i := range lines {
		if used[i] {
			continue
		}
		cur := lines[i]
		for {
			merged := false
			for j := range lines {
				if used[j] || j == i {
					continue
				}
				n := lines[j]
				gap := n.x0 - cur.x1
				hr := n.h / cur.h
				if gap < 0 || gap > 3*cur.h || hr < 0.7 || hr > 1.4 {
					continue
				}
				if math.Abs((cur.a+cur.b*n.x0)-(n.a+n.b*n.x0)) > 0.4*cur.h || math.Abs(cur.b-n.b) > 0.05 {
					continue
				}
				cur = makeLine(append(append([]*comp(nil), cur.comps...), n.comps...), cur.b)
				used[j] = true
				merged = true
			}
			if !merged {
				break
			}
		}
		out = append(out, cur)
	}
	return out
}
