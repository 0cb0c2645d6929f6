package relay

import (
	"bytes"
	"context"
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
	f.Add([]byte(`{"c":"c","s":-1}`))
	f.Add([]byte(`{"p":"!!"}`))
	f.Add([]byte{0xff, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		env, err := decodeEnvelope(b)
		if err != nil {
			return
		}
		if env.ConvID == "" || env.Seq <= 0 || len(env.Payload) > wache.MaxPayload {
			t.Fatalf("decoded an invalid envelope: %+v", env)
		}
		again, err := decodeEnvelope(encodeEnvelope(env))
		if err != nil || again.Seq != env.Seq || !bytes.Equal(again.Payload, env.Payload) {
			t.Fatalf("round trip changed the envelope: %v", err)
		}
	})
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
func TestSessionSkipsExpiredItems(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := sqldb.NewStore(ctx, dbtest.SQLite(t))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	org := &wache.Org{ID: "o", Name: "o", Domains: []string{"x.example"}, CreatedAt: now}
	must(t, st.CreateOrg(ctx, org))
	u := &wache.User{ID: "u", OrgID: "o", Email: "u@x.example", Roles: []wache.Role{wache.RoleOfficer}, CreatedAt: now}
	must(t, st.CreateUser(ctx, u))
	sender := &wache.Device{ID: "d1", UserID: "u", Name: "a", SigningKey: make([]byte, 32), CreatedAt: now, LastSeenAt: now}
	reader := &wache.Device{ID: "d2", UserID: "u", Name: "b", SigningKey: make([]byte, 32), CreatedAt: now, LastSeenAt: now}
	must(t, st.CreateDevice(ctx, sender, []byte("t1")))
	must(t, st.CreateDevice(ctx, reader, []byte("t2")))
	conv := &wache.Conversation{ID: "c", OrgID: "o", Kind: wache.ConvGroup, Name: "g", CreatedBy: "u", CreatedAt: now}
	must(t, st.CreateConversation(ctx, conv, []wache.Member{{ConvID: "c", UserID: "u", Role: wache.MemberAdmin, JoinedAt: now}}))

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

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
