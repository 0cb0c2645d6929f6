package load

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketsAreContiguous(t *testing.T) {
	prevHi := uint64(0)
	for i := 0; i < nBuckets; i++ {
		lo, hi := bucketRange(i)
		if i > 0 && lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ended at %d", i, lo, prevHi)
		}
		if lo > hi {
			t.Fatalf("bucket %d: lo %d > hi %d", i, lo, hi)
		}
		for _, v := range []uint64{lo, hi, lo + (hi-lo)/2} {
			if b := bucket(v); b != i {
				t.Fatalf("value %d maps to bucket %d, want %d", v, b, i)
			}
		}
		prevHi = hi
		if hi == ^uint64(0) {
			if i != nBuckets-1 {
				t.Fatalf("buckets end at %d of %d", i, nBuckets)
			}
			return
		}
	}
	t.Fatalf("buckets end at %d, not at the top of uint64", prevHi)
}

func TestQuantiles(t *testing.T) {
	tests := []struct {
		name string
		gen  func(r *rand.Rand) time.Duration
	}{
		{"uniform 0-10ms", func(r *rand.Rand) time.Duration { return time.Duration(r.Int64N(int64(10 * time.Millisecond))) }},
		{"exponential mean 2ms", func(r *rand.Rand) time.Duration { return time.Duration(r.ExpFloat64() * float64(2*time.Millisecond)) }},
		{"bimodal 100µs/1s", func(r *rand.Rand) time.Duration {
			if r.IntN(100) < 95 {
				return 100*time.Microsecond + time.Duration(r.Int64N(int64(10*time.Microsecond)))
			}
			return time.Second + time.Duration(r.Int64N(int64(100*time.Millisecond)))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			var h Hist
			var all []time.Duration
			for i := 0; i < 20000; i++ {
				d := tt.gen(r)
				h.Record(d)
				all = append(all, d)
			}
			slices.Sort(all)
			s := h.Snapshot()
			if s.N != int64(len(all)) || s.Max != all[len(all)-1] {
				t.Fatalf("n=%d max=%v, want %d %v", s.N, s.Max, len(all), all[len(all)-1])
			}
			for _, q := range []float64{0.5, 0.9, 0.99, 1} {
				want := all[max(0, int(q*float64(len(all))+0.5)-1)]
				got := s.Quantile(q)
				if diff := got - want; diff > want/25+time.Microsecond || -diff > want/25+time.Microsecond {
					t.Errorf("q%.2f = %v, want %v ±4%%", q, got, want)
				}
			}
		})
	}
}

func TestSnapshotSub(t *testing.T) {
	var h Hist
	for i := 0; i < 100; i++ {
		h.Record(time.Millisecond)
	}
	first := h.Snapshot()
	for i := 0; i < 100; i++ {
		h.Record(50 * time.Millisecond)
	}
	d := h.Snapshot().Sub(first)
	if d.N != 100 {
		t.Fatalf("interval has %d observations, want 100", d.N)
	}
	if q := d.Quantile(0.5); q < 48*time.Millisecond || q > 52*time.Millisecond {
		t.Fatalf("interval median %v, want about 50ms", q)
	}
	if (Snapshot{}).Quantile(0.5) != 0 {
		t.Fatal("empty snapshot must give 0")
	}
}

func TestStamp(t *testing.T) {
	p := NewPayload(1024)
	now := time.Now()
	Stamp(p, now)
	got, ok := ReadStamp(p)
	if !ok || !got.Equal(time.Unix(0, now.UnixNano())) {
		t.Fatalf("ReadStamp = %v %v, want %v", got, ok, now)
	}
	for _, bad := range [][]byte{nil, []byte("wld1"), []byte("xxxx12345678"), make([]byte, 100)} {
		if _, ok := ReadStamp(bad); ok {
			t.Errorf("ReadStamp(%q) accepted a foreign payload", bad)
		}
	}
}
