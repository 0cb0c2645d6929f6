package server

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
)

// frameCacheSize is how many encoded envelope frames a node keeps: enough
// for every envelope of a burst that is still being fanned out.
const frameCacheSize = 512

type frameKey struct {
	conv  string
	seq   int64
	alarm bool // the live frame that carries the alarm the envelope raised
}

// frameCache keeps the encoded WebSocket frames of recent envelopes. An
// envelope's frame is the same for every device (it carries ciphertext and
// routing data only), so a fan-out to thousands of devices, an SOS to a
// whole unit, encodes it once instead of once per device.
type frameCache struct {
	mu   sync.Mutex
	m    map[frameKey][]byte
	ring []frameKey // insertion order; the oldest entry is evicted
	next int
}

func newFrameCache(size int) *frameCache {
	return &frameCache{m: make(map[frameKey][]byte, size), ring: make([]frameKey, size)}
}

// envelope returns the encoded frame for env, with the alarm it raised
// when the relay delivers one along (env.Alarm). Envelopes are immutable
// once stored, so a cached frame never goes stale. The returned bytes are
// shared: callers must not modify them.
func (c *frameCache) envelope(env *wache.Envelope) ([]byte, error) {
	k := frameKey{env.ConvID, env.Seq, len(env.Alarm) > 0}
	c.mu.Lock()
	b, ok := c.m[k]
	c.mu.Unlock()
	if ok {
		return b, nil
	}
	e := apiEnvelope(env)
	f := api.Frame{Type: api.FrameEnvelope, Envelope: &e}
	if k.alarm {
		// Made by a node of this cluster; should it not decode, the envelope
		// goes alone (clients ask for the alarm list when an SOS arrives
		// for an alarm they do not know).
		var a api.Alarm
		if json.Unmarshal(env.Alarm, &a) == nil && a.ID != "" {
			f.Alarm = &a
		}
	}
	b, err := json.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("encode envelope frame: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[k]; ok { // encoded concurrently by another session
		return old, nil
	}
	if len(c.ring) == 0 {
		return b, nil
	}
	if prev := c.ring[c.next]; prev != (frameKey{}) {
		delete(c.m, prev)
	}
	c.ring[c.next] = k
	c.next = (c.next + 1) % len(c.ring)
	c.m[k] = b
	return b, nil
}
