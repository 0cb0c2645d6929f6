package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/internal/broker/inproc"
	"github.com/wache/wache/internal/store/dbtest"
	"github.com/wache/wache/internal/store/sqldb"
)

func FuzzDecodeEnvelope(f *testing.F) {
	f.Add(encodeEnvelope(&wache.Envelope{ConvID: "c", Seq: 1, SenderID: "u", SenderDevice: "d", ClientID: "x", CreatedAt: time.UnixMilli(5), Payload: []byte("p")}))
	f.Add(encodeEnvelope(&wache.Envelope{ConvID: "c", Seq: 2, Payload: []byte("p"), Alarm: []byte(`{"id":"a","state":"raised"}`)}))
	f.Add([]byte(`{"c":"c","s":-1}`))
	f.Add([]byte(`{"p":"!!"}`))
	f.Add([]byte{0xff, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := decodeEnvelope(b)
		if err != nil {
			return
		}
		if env.ConvID == "" || env.Seq <= 0 || len(env.Payload) > wache.MaxPayload || len(env.Alarm) > MaxAttached {
			t.Fatalf("decoded an invalid envelope: %+v", env)
		}
		again, err := decodeEnvelope(encodeEnvelope(env))
		if err != nil || again.Seq != env.Seq || !bytes.Equal(again.Payload, env.Payload) || !sameJSON(again.Alarm, env.Alarm) {
			t.Fatalf("round trip changed the envelope: %v", err)
		}
	})
}

// sameJSON compares two JSON texts ignoring insignificant white space
// (encoding compacts an attached alarm).
func sameJSON(a, b []byte) bool {
	var ca, cb bytes.Buffer
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	return json.Compact(&ca, a) == nil && json.Compact(&cb, b) == nil && bytes.Equal(ca.Bytes(), cb.Bytes())
}

func TestValidClientID(t *testing.T) {
	for id, want := range map[string]bool{
		"a": true, "0a1b-C_d.e": true, "": false, "a b": false, "ä": false, "a/b": false,
		string(make([]byte, 65)): false, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa": true,
	} {
		if got := validClientID(id); got != want {
			t.Errorf("validClientID(%q) = %v, want %v", id, got, want)
		}
	}
}

// sink records deliveries.
type sink struct {
	mu   sync.Mutex
	seqs []int64
	sync chan struct{}
}

func (s *sink) Deliver(_ context.Context, e *wache.Envelope) error {
	s.mu.Lock()
	s.seqs = append(s.seqs, e.Seq)
	s.mu.Unlock()
	return nil
}

func (s *sink) Synced(context.Context) error { close(s.sync); return nil }

func (s *sink) DeliverDeviceMessage(context.Context, *wache.DeviceMessage) error { return nil }

// TestSessionSkipsExpiredItems: a device whose backlog was deleted by
// retention is moved past the gap instead of waiting forever, and then
// receives new items live.
// oneUser is a store on SQLite with user "u" and its devices "d1" and
// "d2", both members of conversation "c".
func oneUser(t *testing.T, ctx context.Context) (st *sqldb.Store, u *wache.User, d1, d2 *wache.Device) {
	t.Helper()
	st, err := sqldb.NewStore(ctx, dbtest.SQLite(t))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	must(t, st.CreateOrg(ctx, &wache.Org{ID: "o", Name: "o", Domains: []string{"x.example"}, CreatedAt: now}))
	u = &wache.User{ID: "u", OrgID: "o", Email: "u@x.example", Roles: []wache.Role{wache.RoleOfficer}, CreatedAt: now}
	must(t, st.CreateUser(ctx, u))
	d1 = &wache.Device{ID: "d1", UserID: "u", Name: "a", SigningKey: make([]byte, 32), CreatedAt: now, LastSeenAt: now}
	d2 = &wache.Device{ID: "d2", UserID: "u", Name: "b", SigningKey: make([]byte, 32), CreatedAt: now, LastSeenAt: now}
	must(t, st.CreateDevice(ctx, d1, []byte("t1")))
	must(t, st.CreateDevice(ctx, d2, []byte("t2")))
	must(t, st.CreateConversation(ctx, &wache.Conversation{ID: "c", OrgID: "o", Kind: wache.ConvGroup, Name: "g", CreatedBy: "u", CreatedAt: now},
		[]wache.Member{{ConvID: "c", UserID: "u", Role: wache.MemberAdmin, JoinedAt: now}}))
	return st, u, d1, d2
}

func TestSessionSkipsExpiredItems(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, u, sender, reader := oneUser(t, ctx)

	r, err := New(st, inproc.New(), slog.New(slog.NewTextHandler(io.Discard, nil)), nil, Options{Resync: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i := 0; i < 5; i++ {
		if _, err := r.Post(ctx, u, sender, "c", Message{ClientID: "old-" + string(rune('a'+i)), Payload: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := st.DeleteEnvelopesBefore(ctx, time.Now().Add(time.Second)); err != nil || n != 5 {
		t.Fatalf("retention deleted %d, %v", n, err)
	}
	s := &sink{sync: make(chan struct{})}
	sess := r.Hub().NewSession(u, reader, s)
	go sess.Run(ctx)
	<-s.sync
	if _, err := r.Post(ctx, u, sender, "c", Message{ClientID: "new", Payload: []byte("y")}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		got := append([]int64(nil), s.seqs...)
		s.mu.Unlock()
		if len(got) == 1 && got[0] == 6 {
			break
		}
		if len(got) > 1 || time.Now().After(deadline) {
			t.Fatalf("delivered %v, want [6]", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := sess.Ack("c", 7); wache.ErrorCode(err) != wache.EINVALID {
		t.Fatalf("ack beyond delivery: %v", err)
	}
	if err := sess.Ack("c", 6); err != nil {
		t.Fatal(err)
	}
}

// TestPostHeld: an envelope stored with PostHeld reaches no live session
// until Publish, which delivers it with the alarm attached; a duplicate is
// not handed back for publishing (it went out when it was first stored).
func TestPostHeld(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, u, d, _ := oneUser(t, ctx)
	br := inproc.New()
	defer br.Close()
	var mu sync.Mutex
	var notes []*wache.Envelope
	sub, err := br.Subscribe("conv.*", func(_ string, b []byte) {
		env, err := decodeEnvelope(b)
		if err == nil {
			mu.Lock()
			notes = append(notes, env)
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	r, err := New(st, br, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, Options{Resync: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	waitNotes := func(n int) []*wache.Envelope {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			mu.Lock()
			got := append([]*wache.Envelope(nil), notes...)
			mu.Unlock()
			if len(got) >= n || time.Now().After(deadline) {
				return got
			}
		}
	}

	held, res, err := r.PostHeld(ctx, u, d, "c", Message{ClientID: "sos", Payload: []byte("ct"), Priority: PriorityAlarm, AckRequired: true})
	if err != nil || held == nil || res.Seq != 1 || held.Seq != 1 {
		t.Fatalf("PostHeld: %+v %+v %v", held, res, err)
	}
	// A message posted after it is told about; the held one was not (the
	// broker keeps the order, so it would have come first).
	if _, err := r.Post(ctx, u, d, "c", Message{ClientID: "next", Payload: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if got := waitNotes(1); len(got) != 1 || got[0].Seq != 2 {
		t.Fatalf("notifications %v, want only seq 2", got)
	}
	held.Alarm = []byte(`{"id":"a1","state":"raised"}`)
	r.Publish(held)
	got := waitNotes(2)
	if len(got) != 2 || got[1].Seq != 1 || string(got[1].Alarm) != string(held.Alarm) {
		t.Fatalf("after Publish: %+v", got)
	}
	// A retry of the same post is a duplicate: nothing to publish.
	again, res, err := r.PostHeld(ctx, u, d, "c", Message{ClientID: "sos", Payload: []byte("ct"), Priority: PriorityAlarm, AckRequired: true})
	if err != nil || again != nil || !res.Duplicate || res.Seq != 1 {
		t.Fatalf("duplicate PostHeld: %+v %+v %v", again, res, err)
	}
	// Read back from the store, the envelope has no alarm attached.
	envs, err := st.Envelopes(ctx, "c", 0, 1)
	if err != nil || len(envs) != 1 || envs[0].Alarm != nil {
		t.Fatalf("stored: %+v %v", envs, err)
	}
}

func TestDecodeEnvelopeBoundsAlarm(t *testing.T) {
	big := append(append([]byte(`"`), bytes.Repeat([]byte("a"), MaxAttached)...), '"')
	for _, tc := range []struct {
		name  string
		alarm []byte
		ok    bool
	}{{"none", nil, true}, {"small", []byte(`{"id":"a"}`), true}, {"too large", big, false}} {
		b := encodeEnvelope(&wache.Envelope{ConvID: "c", Seq: 1, Payload: []byte("p"), Alarm: tc.alarm})
		env, err := decodeEnvelope(b)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if err == nil && string(env.Alarm) != string(tc.alarm) {
			t.Errorf("%s: alarm %q, want %q", tc.name, env.Alarm, tc.alarm)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
