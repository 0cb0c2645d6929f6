package ocr

import "math"

// alignCells moves the n cell centres of a linear grid fit (centres, pitch
// pp changing by q per cell) to the best placement found by dynamic
// programming: each centre may move up to dpReach pitches from the linear
// fit, consecutive centres are 0.7-1.3 local pitches apart, centres sit on
// ink and borders (half-way between centres) on gaps, and a step that
// differs from the linear pitch costs a little. The linear fit follows a
// pitch that changes evenly along the line; perspective and lens bend it
// more, and then a stretch of the line drifts by a cell. The number of
// cells is fixed (30/36/44), so the alignment cannot lose or add one.
//
// A step 10 % off the linear pitch costs unit (the caller scales the mean
// ink per cell by the grid's stiffness), empty the core ink below which a cell
// counts as bare paper. pre is the prefix sum of p.
func alignCells(p []float32, pre []float64, lin []float64, pp, q float64, xs, xe int, tight bool, unit, empty float64) []float64 {
	n := len(lin)
	if n < 2 || unit <= 0 {
		return nil
	}
	const dpReach = 1.3
	sum := func(c, r float64) float64 {
		a, b := int(math.Ceil(c-r)), int(math.Floor(c+r))
		a, b = max(a, 0), min(b, len(p)-1)
		if b < a {
			return 0
		}
		return pre[b+1] - pre[a]
	}
	lo := make([]int, n)
	hi := make([]int, n)
	for k := range n {
		step := pp + q*float64(k)
		a, b := lin[k]-dpReach*step, lin[k]+dpReach*step
		if tight && k == 0 {
			a, b = math.Max(a, float64(xs)+0.1*step), math.Min(b, float64(xs)+0.55*step)
		}
		if tight && k == n-1 {
			a, b = math.Max(a, float64(xe)-0.55*step), math.Min(b, float64(xe)-0.1*step)
		}
		lo[k], hi[k] = max(0, int(math.Ceil(a))), min(len(p)-1, int(math.Floor(b)))
		if hi[k] < lo[k] {
			return nil
		}
	}
	// score[k][x-lo[k]]: the best score of cells 0..k with cell k at x.
	score := make([][]float64, n)
	from := make([][]int32, n)
	unary := func(k, x int) float64 {
		step := pp + q*float64(k)
		core := sum(float64(x), 0.2*step)
		s := core
		if core < empty {
			s -= 4 * (empty - core)
		}
		return s
	}
	score[0] = make([]float64, hi[0]-lo[0]+1)
	from[0] = make([]int32, hi[0]-lo[0]+1)
	for x := lo[0]; x <= hi[0]; x++ {
		score[0][x-lo[0]] = unary(0, x)
	}
	inf := math.Inf(-1)
	for k := 1; k < n; k++ {
		step := pp + q*float64(k-1)
		w := hi[k] - lo[k] + 1
		score[k] = make([]float64, w)
		from[k] = make([]int32, w)
		dmin, dmax := int(math.Ceil(0.7*step)), int(math.Floor(1.3*step))
		for x := lo[k]; x <= hi[k]; x++ {
			best, arg := inf, int32(-1)
			for d := dmin; d <= dmax; d++ {
				xp := x - d
				if xp < lo[k-1] || xp > hi[k-1] {
					continue
				}
				prev := score[k-1][xp-lo[k-1]]
				if math.IsInf(prev, -1) {
					continue
				}
				dev := (float64(d) - step) / (0.1 * step)
				s := prev - 2*sum(float64(x+xp)/2, 0.08*float64(d)) - unit*dev*dev
				if s > best {
					best, arg = s, int32(xp)
				}
			}
			if arg < 0 {
				score[k][x-lo[k]] = inf
				from[k][x-lo[k]] = -1
				continue
			}
			score[k][x-lo[k]] = best + unary(k, x)
			from[k][x-lo[k]] = arg
		}
	}
	best, arg := inf, -1
	for x := lo[n-1]; x <= hi[n-1]; x++ {
		if s := score[n-1][x-lo[n-1]]; s > best {
			best, arg = s, x
		}
	}
	if arg < 0 {
		return nil
	}
	out := make([]float64, n)
	for k := n - 1; k >= 0; k-- {
		out[k] = float64(arg)
		if k > 0 {
			arg = int(from[k][arg-lo[k]])
		}
	}
	return out
}

// sharedGrid places one grid for all lines of a zone. The lines of an MRZ
// are printed with the same pitch, character k of every line above one
// another, so the column profiles of all lines, mapped onto the first
// line's ink extent (each line's extent stretched to it), are summed and
// the grid is fitted to that sum: a line whose own ink misleads the
// alignment (wide N, M, H read as two narrow glyphs, a stretch of glare)
// is held by the gaps of the others. The centres are mapped back to each
// line.
func sharedGrid(geo []lineGeo, n int, tight bool, stiff float64) [][]float64 {
	if len(geo) < 2 {
		return nil
	}
	r := geo[0]
	span0 := float64(r.xe - r.xs)
	if r.xs < 0 || span0 <= 0 {
		return nil
	}
	scale := make([]float64, len(geo))
	for i, g := range geo {
		if g.xs < 0 || g.xe <= g.xs {
			return nil
		}
		scale[i] = float64(g.xe-g.xs) / span0
	}
	// at maps column x of the first line into line i.
	at := func(i int, x float64) float64 { return float64(geo[i].xs) + (x-float64(r.xs))*scale[i] }
	interp := func(v []float32, x float64) float32 {
		if x < 0 || x > float64(len(v)-1) {
			return 0
		}
		a := int(x)
		b := min(a+1, len(v)-1)
		t := float32(x - float64(a))
		return v[a]*(1-t) + v[b]*t
	}
	joint := make([]float32, len(r.prof))
	for x := range joint {
		for i, g := range geo {
			joint[x] += interp(g.prof, at(i, float64(x)))
		}
	}
	c := fitGrid(joint, n, pitchPerCap, stripCap, r.xs, r.xe, tight, stiff)
	if c == nil {
		return nil
	}
	out := make([][]float64, len(geo))
	for i := range geo {
		out[i] = make([]float64, n)
		for k, x := range c {
			out[i][k] = at(i, x)
		}
	}
	return out
}
