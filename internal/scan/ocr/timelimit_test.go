package ocr

import (
	"bytes"
	"context"
	"image/jpeg"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/wache/wache/internal/scan/mrz"
	"github.com/wache/wache/internal/scan/synth"
)

// pastDeadline is a context whose deadline has passed but whose timer has
// not fired yet: what a WebAssembly page sees while the reader computes
// (the timer goroutine cannot run).
type pastDeadline struct{ context.Context }

func (pastDeadline) Deadline() (time.Time, bool) { return time.Now().Add(-time.Second), true }

// TestReadMRZTimeLimit: a zone whose check digit fails sends the reader
// through its alternate grids; once the deadline has passed it stops and
// returns the best reading so far, flagged invalid — by the clock, not only
// by ctx.Err, so that it also stops under WebAssembly.
func TestReadMRZTimeLimit(t *testing.T) {
	fonts := loadFonts(t)
	rng := rand.New(rand.NewPCG(7, 11))
	for tries := 0; tries < 20; tries++ {
		doc := synth.RandomDoc(rng)
		l, pos := 1, 19 // birth date's check digit (TD2, TD3)
		if doc.Format == mrz.TD1 {
			l, pos = 1, 6
		}
		b := []byte(doc.Lines[l])
		b[pos] = '0' + (b[pos]-'0'+5)%10
		doc.Lines[l] = string(b)
		ph, err := synth.RenderDocument(fonts, doc, synth.Levels[0], 1600, 1200, rng)
		if err != nil {
			t.Fatal(err)
		}
		img, err := jpeg.Decode(bytes.NewReader(ph.JPEG))
		if err != nil {
			t.Fatal(err)
		}
		full, err := ReadMRZ(context.Background(), img, mrz.Options{Now: testNow})
		if err != nil || full.Valid {
			continue // repaired or not found: not the case under test
		}
		r, err := ReadMRZ(pastDeadline{context.Background()}, img, mrz.Options{Now: testNow})
		if err != nil {
			t.Fatalf("with the deadline passed: %v", err)
		}
		if r.Valid {
			t.Fatal("a reading cut short came back valid")
		}
		if r.Format != full.Format {
			t.Errorf("format %q, want %q as without a limit", r.Format, full.Format)
		}
		return
	}
	t.Skip("no rendered document kept its wrong check digit")
}

func TestExpired(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	future, cancel2 := context.WithTimeout(context.Background(), time.Hour)
	defer cancel2()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		want bool
	}{
		{"no deadline", context.Background(), false},
		{"deadline ahead", future, false},
		{"cancelled", cancelled, true},
		{"deadline passed, timer not yet run (wasm)", pastDeadline{context.Background()}, true},
	} {
		if got := expired(tc.ctx); got != tc.want {
			t.Errorf("%s: expired = %v, want %v", tc.name, got, tc.want)
		}
	}
}
