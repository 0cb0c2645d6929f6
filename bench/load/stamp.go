package load

import (
	"crypto/rand"
	"encoding/binary"
	"time"
)

// Payloads of the load generator are opaque to the server like any
// ciphertext: random bytes whose first StampSize bytes carry a marker and
// the send time, so that a receiving device (in this process or another one
// on the same machine) can compute the send-to-receipt latency without
// shared state.
const (
	stampMagic = "wld1"
	// StampSize is the smallest payload that carries a stamp.
	StampSize = len(stampMagic) + 8
)

// NewPayload returns size random bytes (size ≥ StampSize).
func NewPayload(size int) []byte {
	p := make([]byte, max(size, StampSize))
	_, _ = rand.Read(p)
	return p
}

// Stamp writes the marker and t into the start of p.
func Stamp(p []byte, t time.Time) {
	copy(p, stampMagic)
	binary.BigEndian.PutUint64(p[len(stampMagic):], uint64(t.UnixNano()))
}

// ReadStamp returns the send time written by Stamp; ok is false for a
// payload that does not come from the load generator.
func ReadStamp(p []byte) (t time.Time, ok bool) {
	if len(p) < StampSize || string(p[:len(stampMagic)]) != stampMagic {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(p[len(stampMagic):]))), true
}
