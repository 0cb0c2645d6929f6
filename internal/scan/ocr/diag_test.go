package ocr

import (
	"bytes"
	"context"
	"fmt"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/wache/wache"
	"github.com/wache/wache/internal/scan/mrz"
	"github.com/wache/wache/internal/scan/synth"
)

// TestMRZDiagnose breaks the misses of the accuracy set down by stage:
// zone not found, wrong line count or length (zone/format), grid drift
// (runs of cells holding a neighbour's glyph), classification errors (true
// glyph ranked second or lower, or not among the alternatives at all) and
// the characters confused. Set WACHE_SCAN_DIAG=N (documents per level).
func TestMRZDiagnose(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("WACHE_SCAN_DIAG"))
	if n == 0 {
		t.Skip("set WACHE_SCAN_DIAG=N to run")
	}
	fonts := loadFonts(t)
	m, _ := defaultModel()
	only := os.Getenv("WACHE_SCAN_DIAG_LEVEL")
	for li, lvl := range synth.Levels {
		if only != "" && only != lvl.Name {
			continue
		}
		var right, flagged, notFound, wrongValid int
		var noExt, badShape, docsShift, docsCls, docsClean int
		var cells, top1Wrong, notInAlts, shifted int
		conf := map[string]int{}
		why := map[string]int{}
		for i := 0; i < n; i++ {
			rng := rand.New(rand.NewPCG(424242+uint64(li), uint64(i)))
			doc := synth.RandomDoc(rng)
			ph, err := synth.RenderDocument(fonts, doc, lvl, 1600, 1200, rng)
			if err != nil {
				t.Fatal(err)
			}
			img, _ := jpeg.Decode(bytes.NewReader(ph.JPEG))
			r, err := ReadMRZ(context.Background(), img, mrz.Options{Now: testNow})
			same := err == nil && strings.Join(r.Lines, "\n") == strings.Join(doc.Lines, "\n")
			switch {
			case wache.ErrorCode(err) == wache.ENOTFOUND:
				notFound++
			case r.Valid && same:
				right++
			case r.Valid:
				wrongValid++
			default:
				flagged++
				for name, f := range r.Fields {
					if !f.Valid {
						why[name+": "+f.Problem]++
					}
				}
			}
			if err == nil && r.Valid && same {
				continue
			}
			exts := prepare(img).extract(3)
			if len(exts) == 0 {
				noExt++
				continue
			}
			// The upright reading of the best candidate.
			e := exts[0]
			if len(e.Lines) != len(doc.Lines) || len(e.Lines[0]) != len(doc.Lines[0]) {
				badShape++
				if os.Getenv("WACHE_SCAN_VERBOSE") != "" {
					t.Logf("%s #%d shape %d×%d want %d×%d", lvl.Name, i, len(e.Lines), len(e.Lines[0]), len(doc.Lines), len(doc.Lines[0]))
				}
				continue
			}
			hasShift, hasCls := false, false
			var got []string
			for l, line := range doc.Lines {
				var b []byte
				for k := 0; k < len(line); k++ {
					pos := m.classify(e.Lines[l][k])
					b = append(b, pos[0].Char)
					cells++
					if pos[0].Char == line[k] {
						continue
					}
					top1Wrong++
					in := false
					for _, a := range pos {
						in = in || a.Char == line[k]
					}
					if !in {
						notInAlts++
					}
					// A neighbour's glyph in this cell (and the truth differs
					// from it) suggests grid drift.
					if (k > 0 && pos[0].Char == line[k-1] && line[k-1] != line[k]) || (k+1 < len(line) && pos[0].Char == line[k+1] && line[k+1] != line[k]) {
						shifted++
						hasShift = true
					} else {
						hasCls = true
					}
					conf[string(line[k])+">"+string(pos[0].Char)]++
				}
				got = append(got, string(b))
			}
			switch {
			case hasShift:
				docsShift++
			case hasCls:
				docsCls++
			default:
				docsClean++ // top-1 all right, yet not accepted
			}
			if os.Getenv("WACHE_SCAN_VERBOSE") != "" {
				t.Logf("%s #%d\n got %q\nwant %q", lvl.Name, i, got, doc.Lines)
			}
		}
		type kv struct {
			k string
			v int
		}
		var cs []kv
		for k, v := range conf {
			cs = append(cs, kv{k, v})
		}
		sort.Slice(cs, func(i, j int) bool { return cs[i].v > cs[j].v })
		var top []string
		for i := 0; i < len(cs) && i < 25; i++ {
			top = append(top, fmt.Sprintf("%s:%d", cs[i].k, cs[i].v))
		}
		var ws []string
		for k, v := range why {
			ws = append(ws, fmt.Sprintf("%s=%d", k, v))
		}
		sort.Strings(ws)
		t.Logf("%s field problems: %s", lvl.Name, strings.Join(ws, "; "))
		t.Logf("%s: n=%d right=%d flagged=%d notfound=%d wrongvalid=%d | misses: no zone=%d wrong shape=%d drift=%d classify=%d top1-clean=%d | cells(misses)=%d top1 wrong=%d not in alts=%d neighbour glyph=%d\nconfusions %s",
			lvl.Name, n, right, flagged, notFound, wrongValid, noExt, badShape, docsShift, docsCls, docsClean, cells, top1Wrong, notInAlts, shifted, strings.Join(top, " "))
	}
}
