package ocr

import (
	"context"
	"image"
	"math"
	"math/rand/v2"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/internal/scan/mrz"
)

// locateMaxSide bounds the image side used to find the MRZ; larger photos
// are box-shrunk first, which also keeps the time per 12 MP photo low.
const locateMaxSide = 1700

// alignStiff is what a step 10 % off the linear grid's pitch costs in the
// cell alignment, in mean cell inks.
const alignStiff = 0.3

// pitchPerCap is the MRZ character pitch over the capital height (OCR-B
// size I at 10 characters per inch: 2.54 mm over about 2.45 mm).
const pitchPerCap = 1.04

// Extraction is the glyph features of one MRZ candidate: per line, per
// character cell, NumFeatures values.
type Extraction struct {
	Lines [][][]float32
	geo   []lineGeo
}

// lineGeo keeps what the cells of one line were cut from, so that
// tools/ocrbtemplates can cut them again with small random changes.
type lineGeo struct {
	s       *strip
	centres []float64
	prof    []float32 // column ink, cleared beyond the line
	xs, xe  int       // the line's ink extent
}

// prepared holds an image ready for MRZ search.
type prepared struct {
	full   *gray
	small  *gray
	factor int
	cache  map[int]*gray
}

func prepare(img image.Image) *prepared {
	g := toGray(img)
	f := (max(g.w, g.h) + locateMaxSide - 1) / locateMaxSide
	p := &prepared{full: g, factor: max(f, 1), cache: map[int]*gray{1: g}}
	p.small = shrink(g, p.factor)
	p.cache[p.factor] = p.small
	return p
}

// level returns the image shrunk by k (cached).
func (p *prepared) level(k int) *gray {
	if g, ok := p.cache[k]; ok {
		return g
	}
	g := shrink(p.full, k)
	p.cache[k] = g
	return g
}

// extract finds MRZ candidates and samples their glyphs. flip reads the
// zone upside down (a photo taken the wrong way round).
func (p *prepared) extract(maxCands int) []Extraction {
	r := max(8, max(p.small.w, p.small.h)/70)
	ink := binarize(p.small, r)
	cs := components(ink, p.small.w, p.small.h, 200000)
	lines := findLines(cs)
	cands := findMRZ(lines)
	var out []Extraction
	for _, c := range cands {
		if len(out) >= maxCands {
			break
		}
		if e, ok := p.sampleCandidate(c, false); ok {
			out = append(out, e)
		}
		if e, ok := p.sampleCandidate(c, true); ok {
			out = append(out, e)
		}
	}
	return out
}

// sampleCandidate resamples the lines of one candidate and cuts cells.
func (p *prepared) sampleCandidate(c mrzCandidate, flip bool) (Extraction, bool) {
	var strips []*strip
	for _, l := range c.lines {
		hFull := l.h * float64(p.factor)
		k := max(1, int(hFull/(stripCap*1.5)))
		src := p.level(k)
		s := sampleStrip(src, l, float64(p.factor)/float64(k), mrzMargin)
		if s == nil {
			return Extraction{}, false
		}
		if flip {
			s.rotate180()
			s.x0, s.x1 = s.w-1-s.x1, s.w-1-s.x0
		}
		strips = append(strips, s)
	}
	if flip {
		for i, j := 0, len(strips)-1; i < j; i, j = i+1, j-1 {
			strips[i], strips[j] = strips[j], strips[i]
		}
	}
	n := 30
	if len(strips) == 2 {
		// 36 or 44 characters: judge from the glyph count of the chains.
		est := float64(c.lines[0].glyphs+c.lines[1].glyphs) / 2
		n = 36
		if math.Abs(est-44) < math.Abs(est-36) {
			n = 44
		}
	}
	e := Extraction{}
	for _, s := range strips {
		prof := s.columns()
		xs, xe := s.x0, s.x1
		if xs >= 0 && xe < len(prof) && xe > xs {
			xs, xe = s.extendInk(prof, xs, xe, 1.4*stripCap*pitchPerCap)
			// Ink beyond the line (the document edge, background) must not
			// pull the grid.
			m := stripCap / 2
			for x := range prof {
				if x < xs-m || x > xe+m {
					prof[x] = 0
				}
			}
		}
		centres := fitGrid(prof, n, pitchPerCap, stripCap, xs, xe, true, alignStiff)
		if centres == nil {
			centres = fitGrid(prof, n, pitchPerCap, stripCap, xs, xe, false, alignStiff)
		}
		if centres == nil {
			return Extraction{}, false
		}
		e.geo = append(e.geo, lineGeo{s: s, centres: centres, prof: prof, xs: xs, xe: xe})
		e.Lines = append(e.Lines, s.cells(centres))
	}
	return e, true
}

// cells cuts the glyph cells at the given centres.
func (s *strip) cells(centres []float64) [][]float32 {
	n := len(centres)
	var cells [][]float32
	for k, cx := range centres {
		// Local pitch and band: perspective changes both along a line.
		a, b := max(0, k-1), min(n-1, k+1)
		pitch := (centres[b] - centres[a]) / float64(b-a)
		top, bot := s.localBand(cx, pitch)
		f := make([]float32, NumFeatures)
		s.featuresBand(cx, pitch, top, bot, f)
		cells = append(cells, f)
	}
	return cells
}

// alternates returns the zone cut again with other grid assumptions, for
// a zone whose first reading failed its checks: one grid shared by all
// lines (see sharedGrid), the grid searched without trusting the ink
// extent, for two-line zones the other line length (36 or 44), stiffer
// and looser cell alignments, and the linear grid without the alignment.
// Only a reading whose check digits all pass is taken from them.
func (e Extraction) alternates() []Extraction {
	if len(e.geo) == 0 {
		return nil
	}
	n := len(e.geo[0].centres)
	ns := []int{n}
	if len(e.geo) == 2 {
		ns = append(ns, 80-n) // 36 <-> 44
	}
	type grid struct {
		n     int
		tight bool
		stiff float64
	}
	var grids []grid
	for _, nn := range ns {
		for _, tight := range []bool{false, true} {
			if nn == n && tight {
				continue // the first reading
			}
			grids = append(grids, grid{nn, tight, alignStiff})
		}
	}
	// A stiffer and a looser alignment and the linear grid alone: where the
	// alignment took a wrong turn (an H cut as two cells) or a cell sits
	// too far off for a confident reading.
	grids = append(grids, grid{n, true, 4 * alignStiff}, grid{n, true, alignStiff / 3}, grid{n, true, 0}, grid{n, false, 0})
	var out []Extraction
	// One grid for all lines first: the lines share pitch and columns.
	for _, stiff := range []float64{alignStiff, alignStiff / 3} {
		if cs := sharedGrid(e.geo, n, true, stiff); cs != nil {
			alt := Extraction{}
			for i, g := range e.geo {
				alt.Lines = append(alt.Lines, g.s.cells(cs[i]))
				alt.geo = append(alt.geo, lineGeo{s: g.s, centres: cs[i], prof: g.prof, xs: g.xs, xe: g.xe})
			}
			out = append(out, alt)
		}
	}
	for _, gr := range grids {
		alt := Extraction{}
		for _, g := range e.geo {
			centres := fitGrid(g.prof, gr.n, pitchPerCap, stripCap, g.xs, g.xe, gr.tight, gr.stiff)
			if centres == nil {
				alt.Lines = nil
				break
			}
			alt.Lines = append(alt.Lines, g.s.cells(centres))
			alt.geo = append(alt.geo, lineGeo{s: g.s, centres: centres, prof: g.prof, xs: g.xs, xe: g.xe})
		}
		if len(alt.Lines) == len(e.geo) {
			out = append(out, alt)
		}
	}
	return out
}

// positions classifies every cell from three cuts: as found and moved by
// a tenth of the pitch to either side (see Model.classifyViews).
func (e Extraction) positions(m *Model) [][]mrz.Position {
	pos := make([][]mrz.Position, len(e.Lines))
	for i, cells := range e.Lines {
		for k, f := range cells {
			if i >= len(e.geo) {
				pos[i] = append(pos[i], m.classify(f))
				continue
			}
			g := e.geo[i]
			n := len(g.centres)
			a, b := max(0, k-1), min(n-1, k+1)
			pitch := (g.centres[b] - g.centres[a]) / float64(b-a)
			top, bot := g.s.localBand(g.centres[k], pitch)
			views := [][]float32{f}
			for _, d := range []float64{-0.1, 0.1} {
				v := make([]float32, NumFeatures)
				g.s.featuresBand(g.centres[k]+d*pitch, pitch, top, bot, v)
				views = append(views, v)
			}
			pos[i] = append(pos[i], m.classifyViews(views))
		}
	}
	return pos
}

// Jitter cuts every cell again with its centre, pitch and capital band
// moved a little at random: more varied training samples from one render.
func (e Extraction) Jitter(rng *rand.Rand) [][][]float32 {
	out := make([][][]float32, len(e.geo))
	for li, g := range e.geo {
		n := len(g.centres)
		for k, cx := range g.centres {
			a, b := max(0, k-1), min(n-1, k+1)
			pitch := (g.centres[b] - g.centres[a]) / float64(b-a)
			top, bot := g.s.localBand(cx, pitch)
			cx += (rng.Float64()*2 - 1) * 0.1 * pitch
			pitch *= 1 + (rng.Float64()*2-1)*0.06
			top += rng.IntN(3) - 1
			bot += rng.IntN(3) - 1
			f := make([]float32, NumFeatures)
			g.s.featuresBand(cx, pitch, top, max(bot, top+4), f)
			out[li] = append(out[li], f)
		}
	}
	return out
}

// rotate180 turns a strip upside down (the band flips with it).
func (s *strip) rotate180() {
	for i, j := 0, len(s.ink)-1; i < j; i, j = i+1, j-1 {
		s.ink[i], s.ink[j] = s.ink[j], s.ink[i]
	}
	s.top, s.bot = s.h-1-s.bot, s.h-1-s.top
}

// ExtractMRZ returns the glyph features of up to maxCands MRZ candidates
// (each also read upside down), best first. tools/ocrbtemplates trains the
// classifier on them.
func ExtractMRZ(img image.Image, maxCands int) []Extraction {
	return prepare(img).extract(maxCands)
}

// expired reports whether ctx has ended or its deadline has passed. The
// deadline is read from the clock as well: under WebAssembly the timer
// that would cancel ctx cannot run while this goroutine computes.
func expired(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

// ReadMRZ finds and reads the MRZ in a photo. It returns ENOTFOUND when no
// zone is found; a zone whose check digits fail is returned with Valid
// false. Candidates are tried best first and the first valid reading wins.
func ReadMRZ(ctx context.Context, img image.Image, opt mrz.Options) (*mrz.Result, error) {
	m, err := defaultModel()
	if err != nil {
		return nil, err
	}
	// Costs are nats of classifier evidence. A repair may spend little and
	// must beat every other passing reading clearly: each alternative that
	// the search may take is a 1-in-10 chance of passing a check by luck.
	if opt.MaxRepairCost == 0 {
		opt.MaxRepairCost = 4
	}
	if opt.Margin == 0 {
		opt.Margin = 3
	}
	if opt.MinConfidence == 0 {
		opt.MinConfidence = 2.5 // names and codes have no check digit
	}
	p := prepare(img)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	exts := p.extract(3)
	var best *mrz.Result
	bestScore := -1
	try := func(e Extraction) (*mrz.Result, bool) {
		r, err := mrz.ParsePositions(e.positions(m), opt)
		if err != nil {
			return nil, false
		}
		if r.Valid {
			return r, true
		}
		score := 0
		for _, c := range r.Checks {
			if c.OK {
				score++
			}
		}
		if score > bestScore {
			best, bestScore = r, score
		}
		return nil, false
	}
	for _, e := range exts {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if r, ok := try(e); ok {
			return r, nil
		}
	}
	// No valid reading: cut the zones again under other grid assumptions,
	// as long as time allows; when it runs out, the best reading so far
	// is the answer (it is flagged invalid, so nothing wrong passes).
	for _, e := range exts {
		for _, alt := range e.alternates() {
			if expired(ctx) {
				if best != nil {
					return best, nil
				}
				return nil, wache.Errorf(wache.EUNAVAILABLE, "reading the photo took too long; try again with the document filling more of the frame")
			}
			if r, ok := try(alt); ok {
				return r, nil
			}
		}
	}
	if best == nil {
		return nil, wache.Errorf(wache.ENOTFOUND, "no machine-readable zone found in the photo")
	}
	return best, nil
}
