package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/wache/wache/api"
)

// wireServer speaks the server's side of the live protocol: it writes the
// given envelopes, then "synced", and records every frame the client sends.
type wireServer struct {
	envs   []api.Envelope
	alarms map[int64]*api.Alarm // sent with the envelope of this seq
	mu     sync.Mutex
	got    []api.Frame
	conn   int
}

func (s *wireServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{api.Subprotocol}})
	if err != nil {
		return
	}
	defer c.CloseNow()
	s.mu.Lock()
	s.conn++
	s.mu.Unlock()
	ctx := r.Context()
	go func() {
		for i := range s.envs {
			if wsjson.Write(ctx, c, api.Frame{Type: api.FrameEnvelope, Envelope: &s.envs[i], Alarm: s.alarms[s.envs[i].Seq]}) != nil {
				return
			}
		}
		_ = wsjson.Write(ctx, c, api.Frame{Type: api.FrameSynced})
	}()
	for {
		var f api.Frame
		if err := wsjson.Read(ctx, c, &f); err != nil {
			return
		}
		s.mu.Lock()
		s.got = append(s.got, f)
		s.mu.Unlock()
	}
}

// acks returns the ack frames received so far.
func (s *wireServer) acks() []api.Frame {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []api.Frame
	for _, f := range s.got {
		if f.Type == api.FrameAck {
			out = append(out, f)
		}
	}
	return out
}

// dialWire starts srv and returns a client for it and a context that ends
// with the test.
func dialWire(t *testing.T, srv http.Handler) (*Client, context.Context, context.CancelFunc) {
	t.Helper()
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	c, err := New(hs.URL, "token")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return c, ctx, cancel
}

// processFunc adapts a function to Processor.
type processFunc func(env api.Envelope) error

func (p processFunc) Process(_ context.Context, env api.Envelope, fn func(api.Envelope) error) (bool, error) {
	if err := p(env); err != nil {
		return false, err
	}
	return true, fn(env)
}

// TestListenCoalescesAcks: a backlog (or an alarm burst) is acknowledged
// with one frame per conversation carrying the newest processed sequence
// number, not with one frame per envelope; an envelope that fails leaves
// everything before it acknowledged and itself not.
func TestListenCoalescesAcks(t *testing.T) {
	mk := func(conv string, n int) []api.Envelope {
		var out []api.Envelope
		for i := 1; i <= n; i++ {
			out = append(out, api.Envelope{ConvID: conv, Seq: int64(i), Kind: "app", Payload: []byte("x")})
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		envs     []api.Envelope
		failAt   string // conv/seq whose processing fails
		wantAcks map[string]int64
	}{
		{"backlog in two conversations", append(mk("c1", 120), mk("c2", 3)...), "", map[string]int64{"c1": 120, "c2": 3}},
		{"one envelope", mk("c1", 1), "", map[string]int64{"c1": 1}},
		{"failure mid-backlog", mk("c1", 40), "c1/31", map[string]int64{"c1": 30}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := &wireServer{envs: tc.envs}
			c, ctx, cancel := dialWire(t, srv)
			synced := make(chan struct{}, 1)
			failed := make(chan struct{}, 1)
			errFail := errors.New("cannot store")
			p := processFunc(func(env api.Envelope) error {
				if tc.failAt != "" && env.ConvID+"/"+strconv.FormatInt(env.Seq, 10) == tc.failAt {
					select {
					case failed <- struct{}{}:
					default:
					}
					cancel() // no reconnect: the test looks at one connection
					return errFail
				}
				return nil
			})
			done := make(chan error, 1)
			go func() {
				done <- c.Listen(ctx, p, ListenHandler{
					Envelope: func(context.Context, api.Envelope) error { return nil },
					Synced:   func() { synced <- struct{}{} },
				})
			}()
			if tc.failAt == "" {
				select {
				case <-synced:
				case <-time.After(10 * time.Second):
					t.Fatal("not synced")
				}
			} else {
				<-failed
			}
			// Wait for the acks (at most a few ack delays).
			deadline := time.Now().Add(10 * time.Second)
			for {
				got := map[string]int64{}
				for _, f := range srv.acks() {
					got[f.ConvID] = max(got[f.ConvID], f.Seq)
				}
				if equalAcks(got, tc.wantAcks) || time.Now().After(deadline) {
					if !equalAcks(got, tc.wantAcks) {
						t.Fatalf("acked %v, want %v", got, tc.wantAcks)
					}
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
			<-done
			// A burst costs a few ack frames, not one per envelope (the
			// client may flush more than once if the burst spans the ack
			// delay, but never anywhere near one per envelope).
			if n, max := len(srv.acks()), 2*len(tc.wantAcks)+2; n > max {
				t.Errorf("%d ack frames for %d envelopes, want at most %d", n, len(tc.envs), max)
			}
			for _, f := range srv.acks() {
				if w := tc.wantAcks[f.ConvID]; f.Seq > w {
					t.Errorf("acked %s/%d beyond %d", f.ConvID, f.Seq, w)
				}
			}
		})
	}
}

func equalAcks(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return true
}

// TestListenAlarmWithEnvelope: an SOS envelope that comes with the alarm it
// raised is handed over first, then the alarm, as if two frames had come.
func TestListenAlarmWithEnvelope(t *testing.T) {
	srv := &wireServer{envs: []api.Envelope{{ConvID: "c1", Seq: 1, Kind: "app", Priority: "alarm", Payload: []byte("x")},
		{ConvID: "c1", Seq: 2, Kind: "app", Payload: []byte("y")}},
		alarms: map[int64]*api.Alarm{1: {ID: "a1", State: "raised"}}}
	c, ctx, _ := dialWire(t, srv)
	var mu sync.Mutex
	var events []string
	note := func(s string) { mu.Lock(); events = append(events, s); mu.Unlock() }
	synced := make(chan struct{})
	go c.Listen(ctx, processFunc(func(api.Envelope) error { return nil }), ListenHandler{
		Envelope: func(_ context.Context, e api.Envelope) error {
			note("envelope " + strconv.FormatInt(e.Seq, 10))
			return nil
		},
		Alarm:  func(a api.Alarm) { note("alarm " + a.ID) },
		Synced: func() { close(synced) },
	})
	select {
	case <-synced:
	case <-time.After(10 * time.Second):
		t.Fatal("not synced")
	}
	mu.Lock()
	defer mu.Unlock()
	if got, want := strings.Join(events, ", "), "envelope 1, alarm a1, envelope 2"; got != want {
		t.Fatalf("events %q, want %q", got, want)
	}
}
