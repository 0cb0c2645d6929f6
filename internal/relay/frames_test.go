package relay

import (
	"context"
	"encoding/json"
	"fmt"
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

func FuzzDecodeFrames(f *testing.F) {
	f.Add([]byte(`{"u":["a","b"],"f":{"type":"reminder","conv_id":"c","seq":3}}`))
	f.Add([]byte(`{"u":[],"f":{}}`))
	f.Add([]byte(`{"u":["a"],"f":null}`))
	f.Add([]byte(`{"u":"a"}`))
	f.Add([]byte{0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := decodeFrames(b)
		if err != nil {
			return
		}
		if len(w.U) == 0 || len(w.U) > maxFrameUsers || len(w.F) == 0 || len(w.F) > MaxFrameSize {
			t.Fatalf("decoded out-of-range frames: %d users, %d bytes", len(w.U), len(w.F))
		}
	})
}

func TestEnvelopePriorityRoundTrip(t *testing.T) {
	e := &wache.Envelope{ConvID: "c", Seq: 2, Payload: []byte("p"), Priority: PriorityAlarm, AckRequired: true}
	got, err := decodeEnvelope(encodeEnvelope(e))
	if err != nil || got.Priority != PriorityAlarm || !got.AckRequired {
		t.Fatalf("%+v %v", got, err)
	}
}

// frameSink records envelopes and frames.
type frameSink struct {
	sink
	fmu    sync.Mutex
	frames []string
}

func (s *frameSink) DeliverFrame(_ context.Context, f []byte) error {
	s.fmu.Lock()
	s.frames = append(s.frames, string(f))
	s.fmu.Unlock()
	return nil
}

func (s *frameSink) got() []string {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	return append([]string(nil), s.frames...)
}

// TestNotifyUsers: frames reach every live session of the named users,
// on every node (two relays on one broker), and nobody else's; frames
// for sinks without DeliverFrame are skipped.
func TestNotifyUsers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := sqldb.NewStore(ctx, dbtest.SQLite(t))
	must(t, err)
	now := time.Now().UTC()
	must(t, st.CreateOrg(ctx, &wache.Org{ID: "o", Name: "o", Domains: []string{"x.example"}, CreatedAt: now}))
	var users []*wache.User
	var devs []*wache.Device
	for i := 0; i < 3; i++ {
		u := &wache.User{ID: fmt.Sprint("u", i), OrgID: "o", Email: fmt.Sprintf("u%d@x.example", i), Roles: []wache.Role{wache.RoleOfficer}, CreatedAt: now}
		must(t, st.CreateUser(ctx, u))
		d := &wache.Device{ID: fmt.Sprint("d", i), UserID: u.ID, Name: "a", SigningKey: make([]byte, 32), CreatedAt: now, LastSeenAt: now}
		must(t, st.CreateDevice(ctx, d, []byte(d.ID)))
		users, devs = append(users, u), append(devs, d)
	}
	br := inproc.New()
	defer br.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	r1, err := New(st, br, log, nil, Options{})
	must(t, err)
	defer r1.Close()
	r2, err := New(st, br, log, nil, Options{})
	must(t, err)
	defer r2.Close()

	sinks := make([]*frameSink, 3)
	for i := range sinks {
		sinks[i] = &frameSink{sink: sink{sync: make(chan struct{})}}
		r := r1
		if i == 1 {
			r = r2 // another node
		}
		go r.Hub().NewSession(users[i], devs[i], sinks[i]).Run(ctx)
		<-sinks[i].sync
	}
	plain := &sink{sync: make(chan struct{})} // no DeliverFrame
	go r1.Hub().NewSession(users[0], devs[0], plain).Run(ctx)
	<-plain.sync

	frame := []byte(`{"type":"reminder","conv_id":"c","seq":7}`)
	must(t, r1.NotifyUsers(ctx, []string{"u0", "u1", "u1", "nobody"}, frame))
	deadline := time.Now().Add(5 * time.Second)
	for len(sinks[0].got()) < 1 || len(sinks[1].got()) < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("frames: %v %v", sinks[0].got(), sinks[1].got())
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	if len(sinks[0].got()) != 1 || len(sinks[1].got()) != 1 || len(sinks[2].got()) != 0 {
		t.Fatalf("frames per sink: %d %d %d", len(sinks[0].got()), len(sinks[1].got()), len(sinks[2].got()))
	}
	if sinks[0].got()[0] != string(frame) {
		t.Fatalf("frame changed: %s", sinks[0].got()[0])
	}
	for _, bad := range [][]byte{nil, []byte("not json"), make([]byte, MaxFrameSize+1)} {
		if err := r1.NotifyUsers(ctx, []string{"u0"}, bad); err == nil {
			t.Fatalf("accepted a bad frame of %d bytes", len(bad))
		}
	}
	// Many users are split into broker messages of bounded size.
	many := make([]string, 2500)
	for i := range many {
		many[i] = fmt.Sprint("x", i)
	}
	many = append(many, "u2")
	must(t, r1.NotifyUsers(ctx, many, frame))
	deadline = time.Now().Add(5 * time.Second)
	for len(sinks[2].got()) < 1 {
		if time.Now().After(deadline) {
			t.Fatal("u2 missed its frame in a large fan-out")
		}
		time.Sleep(10 * time.Millisecond)
	}
	var f map[string]any
	must(t, json.Unmarshal([]byte(sinks[2].got()[0]), &f))
}
