package load

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Hist is a lock-free latency histogram with microsecond resolution and
// logarithmic buckets (16 per power of two, so a quantile is within about
// 3 % of the true value). Record may be called from any goroutine; it costs
// two atomic operations, which matters at 100,000 deliveries a second.
type Hist struct {
	counts [nBuckets]atomic.Int64
	max    atomic.Int64 // nanoseconds
}

const (
	subBits  = 4 // 16 sub-buckets per power of two
	nBuckets = (64-subBits)*(1<<subBits) + (1 << subBits)
)

// bucket maps a value in microseconds to its bucket: values below 32 have a
// bucket each, larger ones share a bucket with values of the same top five
// bits.
func bucket(v uint64) int {
	if v < 1<<(subBits+1) {
		return int(v)
	}
	shift := bits.Len64(v) - (subBits + 1)
	top := v >> shift // 16..31
	return (shift+1)<<subBits + int(top) - 1<<subBits
}

// bucketRange returns the smallest and largest value of bucket i.
func bucketRange(i int) (lo, hi uint64) {
	if i < 1<<(subBits+1) {
		return uint64(i), uint64(i)
	}
	shift := i>>subBits - 1
	top := uint64(i&(1<<subBits-1) + 1<<subBits)
	return top << shift, (top+1)<<shift - 1
}

// Record adds one observation; negative durations count as zero.
func (h *Hist) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucket(uint64(d/time.Microsecond))].Add(1)
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

// Snapshot copies the histogram's current state.
func (h *Hist) Snapshot() Snapshot {
	var s Snapshot
	for i := range h.counts {
		c := h.counts[i].Load()
		s.Counts[i] = c
		s.N += c
	}
	s.Max = time.Duration(h.max.Load())
	return s
}

// Snapshot is a point-in-time copy of a Hist. The difference of two
// snapshots (Sub) describes the observations in between.
type Snapshot struct {
	Counts [nBuckets]int64
	N      int64
	Max    time.Duration // exact for a whole histogram, bucket bound after Sub
}

// Sub returns the observations recorded after prev was taken.
func (s Snapshot) Sub(prev Snapshot) Snapshot {
	var d Snapshot
	top := -1
	for i := range s.Counts {
		d.Counts[i] = s.Counts[i] - prev.Counts[i]
		d.N += d.Counts[i]
		if d.Counts[i] > 0 {
			top = i
		}
	}
	if top >= 0 {
		_, hi := bucketRange(top)
		d.Max = min(time.Duration(hi+1)*time.Microsecond, s.Max)
	}
	return d
}

// Quantile returns the q-quantile (0 < q ≤ 1), or 0 without observations.
// It answers with the middle of the bucket that holds the rank, never more
// than the largest observation.
func (s Snapshot) Quantile(q float64) time.Duration {
	if s.N == 0 {
		return 0
	}
	rank := int64(q*float64(s.N) + 0.5)
	rank = max(1, min(rank, s.N))
	var seen int64
	for i, c := range s.Counts {
		seen += c
		if seen >= rank {
			lo, hi := bucketRange(i)
			mid := time.Duration(lo+(hi-lo)/2)*time.Microsecond + time.Microsecond/2
			if s.Max > 0 && mid > s.Max {
				mid = s.Max
			}
			return mid
		}
	}
	return s.Max
}
