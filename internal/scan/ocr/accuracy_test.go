package ocr

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/internal/scan/mrz"
	"github.com/wache/wache/internal/scan/synth"
	"github.com/wache/wache/internal/scan/yjpeg"
)

var testNow = time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)

func loadFonts(t testing.TB) *synth.Fonts {
	f, err := synth.LoadFonts()
	if err != nil {
		t.Skipf("skipping: %v", err)
	}
	return f
}

// TestMRZAccuracy reads synthetic document photos at every distortion
// level. By default it runs a few per level; WACHE_SCAN_ACCURACY_N=125
// gives the full 500-document measurement. A document counts as right when
// the result is valid and every MRZ character (so every field) matches the
// ground truth. A wrong result reported as valid fails the test.
func TestMRZAccuracy(t *testing.T) {
	if testing.Short() {
		t.Skip("rendering photos is slow; skipped in -short")
	}
	fonts := loadFonts(t)
	n := 4
	if s := os.Getenv("WACHE_SCAN_ACCURACY_N"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	// WACHE_SCAN_ACCURACY_FROM skips the first documents: a later stretch
	// of the same sequence, to look for wrong-but-valid results beyond the
	// standard set without reading it again.
	from := 0
	if s := os.Getenv("WACHE_SCAN_ACCURACY_FROM"); s != "" {
		from, _ = strconv.Atoi(s)
	}
	var table strings.Builder
	fmt.Fprintf(&table, "| level | documents | all fields right | flagged invalid | not found | wrong but valid |\n|---|---|---|---|---|---|\n")
	for li, lvl := range synth.Levels {
		if !levelWanted(lvl.Name) {
			continue
		}
		var right, flagged, notFound, wrongValid int
		for i := from; i < from+n; i++ {
			rng := rand.New(rand.NewPCG(424242+uint64(li), uint64(i)))
			doc := synth.RandomDoc(rng)
			ph, err := synth.RenderDocument(fonts, doc, lvl, 1600, 1200, rng)
			if err != nil {
				t.Fatal(err)
			}
			img, err := jpeg.Decode(bytes.NewReader(ph.JPEG))
			if err != nil {
				t.Fatal(err)
			}
			r, err := ReadMRZ(context.Background(), img, mrz.Options{Now: testNow})
			switch {
			case wache.ErrorCode(err) == wache.ENOTFOUND:
				notFound++
				continue
			case err != nil:
				t.Fatal(err)
			}
			same := strings.Join(r.Lines, "\n") == strings.Join(doc.Lines, "\n")
			switch {
			case r.Valid && same:
				right++
			case r.Valid:
				wrongValid++
				t.Errorf("%s #%d: wrong result reported valid:\n got %q\nwant %q", lvl.Name, i, r.Lines, doc.Lines)
			default:
				flagged++
				if os.Getenv("WACHE_SCAN_VERBOSE") != "" {
					t.Logf("%s #%d flagged:\n got %q\nwant %q\n%+v\n%+v", lvl.Name, i, r.Lines, doc.Lines, r.Fields, r.Checks)
				}
			}
		}
		fmt.Fprintf(&table, "| %s | %d | %d (%.1f %%) | %d | %d | %d |\n", lvl.Name, n, right, 100*float64(right)/float64(n), flagged, notFound, wrongValid)
		t.Logf("%s done: %d of %d right", lvl.Name, right, n)
	}
	t.Logf("MRZ accuracy (1600×1200 JPEG photos):\n%s", table.String())
}

// levelWanted filters the levels by WACHE_SCAN_LEVELS (comma-separated
// names; all when unset), so long runs can be split across processes.
func levelWanted(name string) bool {
	v := os.Getenv("WACHE_SCAN_LEVELS")
	if v == "" {
		return true
	}
	for _, l := range strings.Split(v, ",") {
		if l == name {
			return true
		}
	}
	return false
}

func renderBench(b *testing.B, w, h int) []byte {
	fonts := loadFonts(b)
	rng := rand.New(rand.NewPCG(77, 78))
	lvl, _ := synth.Level("phone")
	for {
		doc := synth.RandomDoc(rng)
		ph, err := synth.RenderDocument(fonts, doc, lvl, w, h, rng)
		if err != nil {
			b.Fatal(err)
		}
		img, _ := jpeg.Decode(bytes.NewReader(ph.JPEG))
		if r, err := ReadMRZ(context.Background(), img, mrz.Options{Now: testNow}); err == nil && r.Valid {
			return ph.JPEG
		}
	}
}

// decodeFull is image/jpeg at full size and in colour (the path before yjpeg).
func decodeFull(data []byte) (image.Image, error) { return jpeg.Decode(bytes.NewReader(data)) }

// decodeLuma returns yjpeg's luminance decode at 1/denom.
func decodeLuma(denom int) func([]byte) (image.Image, error) {
	return func(data []byte) (image.Image, error) { return yjpeg.Decode(data, denom, 40_000_000) }
}

// benchDecodeRead measures decode + MRZ read of a 4000×3000 JPEG, in
// CPU ms per operation as well.
func benchDecodeRead(b *testing.B, decode func([]byte) (image.Image, error)) {
	data := renderBench(b, 4000, 3000)
	b.ResetTimer()
	cpu := processCPU()
	for i := 0; i < b.N; i++ {
		img, err := decode(data)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ReadMRZ(context.Background(), img, mrz.Options{Now: testNow}); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu)
}

// BenchmarkReadMRZ12MP measures decode (image/jpeg, full size and colour:
// the path before yjpeg) + read of a 4000×3000 JPEG.
func BenchmarkReadMRZ12MP(b *testing.B) { benchDecodeRead(b, decodeFull) }

// BenchmarkReadMRZ12MPLuma is the scanner's path (scan.ReadMRZ): only the
// luminance, decoded at 1/2 scale (2000×1500) by yjpeg, then read.
func BenchmarkReadMRZ12MPLuma(b *testing.B) {
	benchDecodeRead(b, decodeLuma(yjpeg.Scale(4000, 3000, 1500)))
}

// BenchmarkDecodeJPEG12MPLuma is yjpeg's 1/2-scale luminance decode alone.
func BenchmarkDecodeJPEG12MPLuma(b *testing.B) {
	data := renderBench(b, 4000, 3000)
	b.ResetTimer()
	cpu := processCPU()
	for i := 0; i < b.N; i++ {
		if _, err := yjpeg.Decode(data, 2, 40_000_000); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu)
}

// BenchmarkReadMRZ12MPDecoded leaves the JPEG decoding out.
func BenchmarkReadMRZ12MPDecoded(b *testing.B) {
	img, err := decodeFull(renderBench(b, 4000, 3000))
	if err != nil {
		b.Fatal(err)
	}
	benchDecodeRead(b, func([]byte) (image.Image, error) { return img, nil })
}

// BenchmarkDecodeJPEG12MP is image/jpeg's decoding alone.
func BenchmarkDecodeJPEG12MP(b *testing.B) {
	data := renderBench(b, 4000, 3000)
	b.ResetTimer()
	cpu := processCPU()
	for i := 0; i < b.N; i++ {
		if _, err := decodeFull(data); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu)
}

func TestReadMRZNoZone(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 640, 480))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	if _, err := ReadMRZ(context.Background(), img, mrz.Options{}); wache.ErrorCode(err) != wache.ENOTFOUND {
		t.Errorf("err = %v, want not found", err)
	}
	tiny := image.NewGray(image.Rect(0, 0, 1, 1))
	if _, err := ReadMRZ(context.Background(), tiny, mrz.Options{}); wache.ErrorCode(err) != wache.ENOTFOUND {
		t.Errorf("1×1: err = %v", err)
	}
}

// TestMRZAccuracy12MP compares, on 4000×3000 photos, the reading of the
// full image/jpeg decode with yjpeg's luminance decoded at 1/2 scale (the
// scanner's path, yjpeg.Scale with a 1500 px short side) and at 1/4.
// WACHE_SCAN_12MP=40 sets the documents per level (WACHE_SCAN_12MP_FROM
// the first document's number; default levels: phone;
// WACHE_SCAN_LEVELS picks others; "phone-far" is phone with the document
// filling only 35-50 % of the frame's width). Off by default: ~6 CPU-s
// per document.
func TestMRZAccuracy12MP(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("WACHE_SCAN_12MP"))
	if n <= 0 {
		t.Skip("set WACHE_SCAN_12MP=40 to compare full and scaled decoding at 12 MP")
	}
	fonts := loadFonts(t)
	levels := os.Getenv("WACHE_SCAN_LEVELS")
	if levels == "" {
		levels = "phone"
	}
	type way struct {
		name   string
		decode func([]byte) (image.Image, error)
	}
	ways := []way{
		{"image/jpeg full", func(b []byte) (image.Image, error) { return jpeg.Decode(bytes.NewReader(b)) }},
		{"yjpeg 1/2", func(b []byte) (image.Image, error) { return yjpeg.Decode(b, 2, 40_000_000) }},
		{"yjpeg 1/4", func(b []byte) (image.Image, error) { return yjpeg.Decode(b, 4, 40_000_000) }},
	}
	var table strings.Builder
	fmt.Fprintf(&table, "| level | decode | documents | all fields right | flagged invalid | not found | wrong but valid |\n|---|---|---|---|---|---|---|\n")
	for _, name := range strings.Split(levels, ",") {
		lvl, ok := synth.Level(strings.TrimSuffix(name, "-far"))
		if !ok {
			t.Fatalf("no level %q", name)
		}
		if strings.HasSuffix(name, "-far") {
			lvl.DocFill = [2]float64{0.35, 0.5}
		}
		right := make([]int, len(ways))
		flagged := make([]int, len(ways))
		notFound := make([]int, len(ways))
		wrongValid := make([]int, len(ways))
		from, _ := strconv.Atoi(os.Getenv("WACHE_SCAN_12MP_FROM"))
		for i := from; i < from+n; i++ {
			rng := rand.New(rand.NewPCG(121212, uint64(i)))
			doc := synth.RandomDoc(rng)
			ph, err := synth.RenderDocument(fonts, doc, lvl, 4000, 3000, rng)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for wi, w := range ways {
				img, err := w.decode(ph.JPEG)
				if err != nil {
					t.Fatal(err)
				}
				r, err := ReadMRZ(context.Background(), img, mrz.Options{Now: testNow})
				switch {
				case wache.ErrorCode(err) == wache.ENOTFOUND:
					notFound[wi]++
					got = append(got, "not found")
					continue
				case err != nil:
					t.Fatal(err)
				}
				same := strings.Join(r.Lines, "\n") == strings.Join(doc.Lines, "\n")
				switch {
				case r.Valid && same:
					right[wi]++
					got = append(got, "right")
				case r.Valid:
					wrongValid[wi]++
					got = append(got, "WRONG")
					t.Errorf("%s #%d %s: wrong result reported valid:\n got %q\nwant %q", name, i, w.name, r.Lines, doc.Lines)
				default:
					flagged[wi]++
					got = append(got, "flagged")
				}
			}
			if os.Getenv("WACHE_SCAN_VERBOSE") != "" {
				t.Logf("%s #%d %s: %v", name, i, doc.Format, got)
			}
		}
		for wi, w := range ways {
			fmt.Fprintf(&table, "| %s | %s | %d | %d (%.1f %%) | %d | %d | %d |\n", name, w.name, n, right[wi], 100*float64(right[wi])/float64(n), flagged[wi], notFound[wi], wrongValid[wi])
		}
	}
	t.Logf("MRZ accuracy, 4000×3000 JPEG photos:\n%s", table.String())
}
