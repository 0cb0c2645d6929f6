package server

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
)

func testEnvelope(conv string, seq int64) *wache.Envelope {
	return &wache.Envelope{ConvID: conv, Seq: seq, SenderID: "u1", SenderDevice: "d1", ClientID: fmt.Sprintf("c%d", seq),
		Kind: wache.EnvApp, Epoch: 3, CreatedAt: time.Date(2026, 11, 24, 6, 0, 0, 0, time.UTC), Payload: []byte{0, 1, 2, seq8(seq)},
		Priority: "alarm", AckRequired: true}
}

func seq8(seq int64) byte { return byte(seq) }

func TestFrameCacheEnvelope(t *testing.T) {
	c := newFrameCache(4)
	decode := func(b []byte) api.Envelope {
		t.Helper()
		var f api.Frame
		if err := json.Unmarshal(b, &f); err != nil || f.Type != api.FrameEnvelope || f.Envelope == nil {
			t.Fatalf("frame %s: %v", b, err)
		}
		return *f.Envelope
	}
	for _, tc := range []struct {
		conv string
		seq  int64
	}{{"a", 1}, {"a", 2}, {"b", 1}} {
		env := testEnvelope(tc.conv, tc.seq)
		b1, err := c.envelope(env)
		if err != nil {
			t.Fatal(err)
		}
		got := decode(b1)
		want := apiEnvelope(env)
		if got.ConvID != want.ConvID || got.Seq != want.Seq || string(got.Payload) != string(want.Payload) ||
			got.Priority != want.Priority || !got.AckRequired || !got.CreatedAt.Equal(want.CreatedAt) {
			t.Errorf("%s/%d: decoded %+v, want %+v", tc.conv, tc.seq, got, want)
		}
		// A second device's delivery of the same envelope (a different
		// pointer, as read from the store) shares the encoded bytes.
		b2, err := c.envelope(testEnvelope(tc.conv, tc.seq))
		if err != nil {
			t.Fatal(err)
		}
		if &b1[0] != &b2[0] {
			t.Errorf("%s/%d: encoded twice", tc.conv, tc.seq)
		}
	}
}

func TestFrameCacheBounded(t *testing.T) {
	c := newFrameCache(4)
	first, _ := c.envelope(testEnvelope("a", 1))
	for seq := int64(2); seq <= 10; seq++ {
		if _, err := c.envelope(testEnvelope("a", seq)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(c.m); n != 4 {
		t.Fatalf("cache holds %d frames, want at most 4", n)
	}
	again, _ := c.envelope(testEnvelope("a", 1))
	if &first[0] == &again[0] {
		t.Error("evicted frame still served from the cache")
	}
	if string(first) != string(again) {
		t.Errorf("re-encoded frame differs:\n%s\n%s", first, again)
	}
}

func TestFrameCacheConcurrent(t *testing.T) {
	c := newFrameCache(8)
	var wg sync.WaitGroup
	out := make([][]byte, 64)
	for i := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], _ = c.envelope(testEnvelope("a", int64(1+i%3)))
		}()
	}
	wg.Wait()
	for i, b := range out {
		if string(b) != string(out[i%3]) {
			t.Fatalf("frame %d differs from frame %d", i, i%3)
		}
	}
	if n := len(c.m); n != 3 {
		t.Errorf("cache holds %d frames, want 3", n)
	}
}

// TestFrameCacheAlarm: an SOS envelope delivered live carries the alarm it
// raised; the same envelope read back from the store (no alarm attached)
// is a plain frame, cached apart; an attachment that does not decode is
// left out rather than failing the delivery.
func TestFrameCacheAlarm(t *testing.T) {
	c := newFrameCache(8)
	for _, tc := range []struct {
		name    string
		alarm   []byte
		wantID  string
		wantNil bool
	}{
		{"live with alarm", []byte(`{"id":"a1","state":"raised","conv_ids":["a"]}`), "a1", false},
		{"from the store", nil, "", true},
		{"broken attachment", []byte(`{"id":`), "", true},
	} {
		env := testEnvelope("a", 1)
		env.Alarm = tc.alarm
		if tc.name == "broken attachment" {
			env.Seq = 2 // not the cached live frame of seq 1
		}
		b, err := c.envelope(env)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var f api.Frame
		if err := json.Unmarshal(b, &f); err != nil || f.Envelope == nil || f.Envelope.Seq != env.Seq {
			t.Fatalf("%s: frame %s: %v", tc.name, b, err)
		}
		if (f.Alarm == nil) != tc.wantNil || f.Alarm != nil && (f.Alarm.ID != tc.wantID || f.Alarm.State != "raised") {
			t.Errorf("%s: alarm %+v", tc.name, f.Alarm)
		}
	}
}
