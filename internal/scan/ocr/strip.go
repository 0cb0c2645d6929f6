package ocr

import (
	"math"
	"sort"
)

// Strip geometry: a text line is resampled so that its capital height
// becomes stripCap pixels, with room above and below.
const (
	stripCap = 24
	stripH   = 52
	featW    = 16
	featH    = 20
	// mrzMargin is the room kept before and after a located MRZ chain,
	// in capital heights.
	mrzMargin = 4
	// NumFeatures is the length of a glyph feature vector.
	NumFeatures = featW * featH
)

// strip is one text line resampled straight, as ink density 0..1.
type strip struct {
	w, h     int
	ink      []float32
	top, bot int // the capital band
	x0, x1   int // where the located chain's ink starts and ends
}

func (s *strip) at(x, y int) float32 { return s.ink[y*s.w+x] }

// sampleStrip resamples the line l (coordinates scaled by scale into src)
// into a straight strip.
func sampleStrip(src *gray, l textLine, scale, margin float64) *strip {
	b := l.b
	norm := math.Sqrt(1 + b*b)
	ux, uy := 1/norm, b/norm
	vx, vy := -b/norm, 1/norm
	h := l.h * scale
	x0, x1 := l.x0*scale, l.x1*scale
	a := l.a * scale
	// Start well before the ink along the centre line.
	px, py := x0, a+b*x0
	// The chain often misses glyphs at the ends (a run of small '<'
	// fillers, a glyph washed out by glare): keep room for them.
	px -= ux * margin * h
	py -= uy * margin * h
	length := (x1-x0)*norm + 2*margin*h
	k := h / stripCap // source pixels per strip pixel
	s := &strip{w: int(length / k), h: stripH}
	s.x0, s.x1 = int(margin*stripCap), int((length-margin*h)/k)
	if s.w < 10 || s.w > 4000 {
		return nil
	}
	raw := make([]float32, s.w*s.h)
	for y := 0; y < s.h; y++ {
		off := (float64(y) - float64(s.h)/2 + 0.5) * k
		for x := 0; x < s.w; x++ {
			t := (float64(x) + 0.5) * k
			raw[y*s.w+x] = float32(src.sample(px+ux*t+vx*off, py+uy*t+vy*off))
		}
	}
	s.ink = normalise(raw, s.w, s.h)
	s.band()
	return s
}

// normalise turns grey values into ink density using the local paper and
// ink levels, so glare and shadows along the line do not matter.
func normalise(raw []float32, w, h int) []float32 {
	colBG := make([]float32, w)
	colInk := make([]float32, w)
	col := make([]float32, h)
	for x := 0; x < w; x++ {
		for y := 0; y < h; y++ {
			col[y] = raw[y*w+x]
		}
		sort.Slice(col, func(i, j int) bool { return col[i] < col[j] })
		colBG[x] = col[h*85/100]
		colInk[x] = col[h*4/100]
	}
	bg := slidingMax(colBG, 14)
	ink := slidingMin(colInk, 30)
	out := make([]float32, w*h)
	for x := 0; x < w; x++ {
		c := bg[x] - ink[x]
		if c < 18 {
			continue // no contrast: no ink
		}
		for y := 0; y < h; y++ {
			v := (bg[x] - raw[y*w+x]) / c
			if v < 0 {
				v = 0
			} else if v > 1 {
				v = 1
			}
			out[y*w+x] = v
		}
	}
	return out
}

func slidingMax(v []float32, r int) []float32 {
	out := make([]float32, len(v))
	for i := range v {
		m := v[i]
		for j := max(0, i-r); j <= min(len(v)-1, i+r); j++ {
			m = max(m, v[j])
		}
		out[i] = m
	}
	return out
}

func slidingMin(v []float32, r int) []float32 {
	out := make([]float32, len(v))
	for i := range v {
		m := v[i]
		for j := max(0, i-r); j <= min(len(v)-1, i+r); j++ {
			m = min(m, v[j])
		}
		out[i] = m
	}
	return out
}

// band finds the rows of the capital band from the row profile.
func (s *strip) band() {
	// Only the located chain's columns: the margins may hold the document
	// edge or the background.
	prof := make([]float32, s.h)
	for y := 0; y < s.h; y++ {
		for x := max(0, s.x0); x <= min(s.w-1, s.x1); x++ {
			prof[y] += s.ink[y*s.w+x]
		}
	}
	c := s.h / 2
	// Grow from the strongest row near the centre.
	best := c
	for y := c - 8; y <= c+8; y++ {
		if prof[y] > prof[best] {
			best = y
		}
	}
	th := 0.3 * prof[best]
	s.top, s.bot = best, best
	for s.top > 0 && prof[s.top-1] >= th {
		s.top--
	}
	for s.bot < s.h-1 && prof[s.bot+1] >= th {
		s.bot++
	}
}

// columns returns the ink column profile within the capital band.
func (s *strip) columns() []float32 {
	p := make([]float32, s.w)
	for y := s.top; y <= s.bot; y++ {
		for x := 0; x < s.w; x++ {
			p[x] += s.ink[y*s.w+x]
		}
	}
	return p
}

// inkExtent returns the first and last column with real ink.
func inkExtent(p []float32) (int, int) {
	var mx float32
	for _, v := range p {
		mx = max(mx, v)
	}
	xs, xe := -1, -1
	for x, v := range p {
		if v > 0.15*mx {
			if xs < 0 {
				xs = x
			}
			xe = x
		}
	}
	return xs, xe
}

// extendInk widens [xs, xe] over glyphs that continue the line with gaps
// shorter than maxGap: glyphs the chain left out at either end. A run of
// ink wider than a glyph, or with as much ink above and below the capital
// band as in it (the document edge, a dark background, other print), ends
// the search.
func (s *strip) extendInk(p []float32, xs, xe int, maxGap float64) (int, int) {
	var mx float32
	for x := xs; x <= xe; x++ {
		mx = max(mx, p[x])
	}
	th := 0.15 * mx
	maxRun := int(0.8 * maxGap / 1.4)
	capH := s.bot - s.top + 1
	// A glyph holds at least a fraction of the chain's mean ink per glyph
	// (a '<' about a third): specks of noise do not.
	var sum float32
	for x := xs; x <= xe; x++ {
		sum += p[x]
	}
	minInk := 0.12 * sum / float32(max(1.0, float64(xe-xs)/(maxGap/1.4)))
	glyphLike := func(a, b int) bool {
		var in, out float32
		for y := 0; y < s.h; y++ {
			row := s.ink[y*s.w:]
			var t float32
			for x := a; x <= b; x++ {
				t += row[x]
			}
			switch {
			case y >= s.top && y <= s.bot:
				in += t
			case y < s.top-capH/4 || y > s.bot+capH/4:
				out += t
			}
		}
		return out < 0.5*in && in >= minInk
	}
	pitch := maxGap / 1.4
	walk := func(from, step int) int {
		last := from
		// The centre of the last glyph taken, from its outer edge.
		centre := float64(from) - 0.3*pitch*float64(step)
		for x := from + step; x >= 0 && x < len(p); {
			if float64((x-last)*step) > maxGap {
				break
			}
			if p[x] <= th {
				x += step
				continue
			}
			// A run of ink: accept it if it is glyph-sized.
			end := x
			for end+step >= 0 && end+step < len(p) && p[end+step] > th {
				end += step
			}
			if (end-x)*step+1 > maxRun || end+step < 0 || end+step >= len(p) || !glyphLike(min(x, end), max(x, end)) {
				break
			}
			// The next glyph sits one pitch on: a mark further off (the
			// document edge, a speck) is no part of the line.
			c := float64(x+end) / 2
			if d := (c - centre) * float64(step); d < 0.6*pitch || d > 1.4*pitch {
				break
			}
			centre = c
			last = end
			x = end + step
		}
		return last
	}
	return walk(xs, -1), walk(xe, 1)
}

// fitGrid places n character cells along the strip: it searches pitch and
// offset so that cell centres sit on ink and cell borders on gaps, then
// moves each centre to the ink centroid near it.
//
// tight says that [xs, xe] is the ink extent of exactly the n glyphs (the
// first glyph's left edge to the last one's right edge): the first and
// last centres then lie just inside it.
//
// stiff > 0 lets alignCells move the centres off the linear fit, at that
// cost for a step off the linear pitch (see alignCells); 0 keeps the
// linear fit.
func fitGrid(p []float32, n int, pitchPerCap float64, capPx int, xs, xe int, tight bool, stiff float64) []float64 {
	if xs < 0 || xe-xs < n || xe >= len(p) {
		return nil
	}
	p0 := float64(xe-xs) / (float64(n) - 1 + 0.75)
	sum := func(c, r float64) float64 {
		a, b := int(math.Ceil(c-r)), int(math.Floor(c+r))
		t := 0.0
		for x := max(a, 0); x <= min(b, len(p)-1); x++ {
			t += float64(p[x])
		}
		return t
	}
	// Pitch: from the ink extent, or from the capital height the strip
	// was scaled to (every MRZ cell holds a glyph, so both should agree).
	pk := float64(capPx) * pitchPerCap
	if capPx <= 0 || math.Abs(pk-p0) > 0.08*p0 {
		pk = p0
	}
	// Ink near the line's ends counts; stray ink far outside does not.
	total := 0.0
	for x := max(0, xs-int(0.6*p0)); x <= min(len(p)-1, xe+int(1.2*p0)); x++ {
		total += float64(p[x])
	}
	// Prefix sums make each window sum O(1).
	pre := make([]float64, len(p)+1)
	for i, v := range p {
		pre[i+1] = pre[i] + float64(v)
	}
	sum = func(c, r float64) float64 {
		a, b := int(math.Ceil(c-r)), int(math.Floor(c+r))
		a, b = max(a, 0), min(b, len(p)-1)
		if b < a {
			return 0
		}
		return pre[b+1] - pre[a]
	}
	emptyBelow := 0.15 * total / float64(n)
	bestScore := math.Inf(-1)
	var bestO, bestP, bestQ float64
	// Cell k sits at o + k p + q k(k-1)/2: q follows the pitch change of a
	// line seen in perspective.
	for qi := -8; qi <= 8; qi++ {
		for pi := -12; pi <= 12; pi++ {
			pp := pk * (1 + float64(pi)*0.005)
			q := float64(qi) * 0.0005 * pp
			// The chain may have missed a glyph at either end or taken in a
			// stray mark: search a wide range for the first centre, unless
			// the ink extent is known to be the line's.
			oFrom, oTo := float64(xs)-0.6*pp, float64(xs)+1.1*pp
			if tight {
				oFrom, oTo = float64(xs)+0.1*pp, float64(xs)+0.55*pp
			}
			for o := oFrom; o <= oTo; o++ {
				if tight {
					last := o + float64(n-1)*pp + q*float64((n-1)*(n-2))/2
					if last < float64(xe)-0.55*pp || last > float64(xe)-0.1*pp {
						continue
					}
				}
				score := 0.0
				for k := 0; k < n; k++ {
					c := o + float64(k)*pp + q*float64(k*(k-1))/2
					step := pp + q*float64(k)
					core := sum(c, 0.2*step)
					score += core - 2*sum(c+0.5*step, 0.08*step)
					// Every MRZ cell holds a glyph: a cell on bare paper
					// means the grid is off by a cell somewhere.
					if core < emptyBelow {
						score -= 4 * (emptyBelow - core)
					}
				}
				// Ink outside the grid means a glyph was left out.
				last := o + float64(n-1)*pp + q*float64((n-1)*(n-2))/2
				inside := sum((o+last)/2, (last-o+pp)/2)
				score -= 3 * (total - inside)
				if score > bestScore {
					bestScore, bestO, bestP, bestQ = score, o, pp, q
				}
			}
		}
	}
	if math.IsInf(bestScore, -1) {
		return nil
	}
	centres := make([]float64, n)
	for k := 0; k < n; k++ {
		centres[k] = bestO + float64(k)*bestP + bestQ*float64(k*(k-1))/2
	}
	if stiff > 0 {
		if c := alignCells(p, pre, centres, bestP, bestQ, xs, xe, tight, stiff*total/float64(n), emptyBelow); c != nil {
			centres = c
		}
	}
	for k := 0; k < n; k++ {
		c := centres[k]
		// Ink centroid within the cell, limited shift.
		a, b := int(c-0.45*bestP), int(c+0.45*bestP)
		var sw, sx float64
		for x := max(a, 0); x <= min(b, len(p)-1); x++ {
			sw += float64(p[x])
			sx += float64(p[x]) * float64(x)
		}
		if sw > 0 {
			m := sx / sw
			m = math.Max(c-0.2*bestP, math.Min(c+0.2*bestP, m))
			c = m
		}
		centres[k] = c
	}
	return centres
}

// localBand finds the capital band around column c (±2.5 pitches), so
// that glyphs shrinking along a line seen in perspective are still framed.
func (s *strip) localBand(c, pitch float64) (int, int) {
	a, b := max(0, int(c-2.5*pitch)), min(s.w-1, int(c+2.5*pitch))
	prof := make([]float32, s.h)
	for y := 0; y < s.h; y++ {
		row := s.ink[y*s.w:]
		for x := a; x <= b; x++ {
			prof[y] += row[x]
		}
	}
	best := (s.top + s.bot) / 2
	for y := s.top; y <= s.bot; y++ {
		if prof[y] > prof[best] {
			best = y
		}
	}
	th := 0.3 * prof[best]
	top, bot := best, best
	// Grow over rows with ink, bridging a short dip: over a few glyphs
	// the rows between a digit's middle and bottom bars may hold only
	// thin strokes (3, 9, 2, 5 side by side), and a band cut there
	// clips the glyphs' lower part (a 9 then reads as O).
	const bridge = stripCap / 6
	for {
		grown := false
		for d := 1; d <= bridge && top-d >= 0; d++ {
			if prof[top-d] >= th {
				top -= d
				grown = true
				break
			}
		}
		for d := 1; d <= bridge && bot+d < s.h; d++ {
			if prof[bot+d] >= th {
				bot += d
				grown = true
				break
			}
		}
		if !grown {
			break
		}
	}
	// Keep it near the line's band: a stray mark must not stretch it.
	full := float64(s.bot - s.top + 1)
	// Perspective changes the capital height along a line by a tenth or
	// so; a band much shorter is cut at a dip the bridge did not span.
	if float64(bot-top+1) < 0.8*full || float64(bot-top+1) > 1.25*full {
		return s.top, s.bot
	}
	return top, bot
}

// features samples the cell around centre c into a featW×featH vector.
func (s *strip) features(c, pitch float64, out []float32) {
	s.featuresBand(c, pitch, s.top, s.bot, out)
}

// featuresBand samples the cell with an explicit capital band.
func (s *strip) featuresBand(c, pitch float64, top, bot int, out []float32) {
	capH := float64(bot - top + 1)
	y0 := float64(top) - 0.12*capH
	y1 := float64(bot+1) + 0.12*capH
	x0 := c - 0.5*pitch
	fw := pitch / featW
	fh := (y1 - y0) / featH
	for j := 0; j < featH; j++ {
		for i := 0; i < featW; i++ {
			// Average of 2×2 samples in the feature cell.
			var t float32
			for sy := 0; sy < 2; sy++ {
				for sx := 0; sx < 2; sx++ {
					t += s.bilinear(x0+(float64(i)+0.25+0.5*float64(sx))*fw, y0+(float64(j)+0.25+0.5*float64(sy))*fh)
				}
			}
			out[j*featW+i] = t / 4
		}
	}
}

func (s *strip) bilinear(x, y float64) float32 {
	if x < 0 || y < 0 || x > float64(s.w-1) || y > float64(s.h-1) {
		return 0
	}
	x0, y0 := int(x), int(y)
	x1, y1 := min(x0+1, s.w-1), min(y0+1, s.h-1)
	fx, fy := float32(x-float64(x0)), float32(y-float64(y0))
	return (s.at(x0, y0)*(1-fx)+s.at(x1, y0)*fx)*(1-fy) + (s.at(x0, y1)*(1-fx)+s.at(x1, y1)*fx)*fy
}
