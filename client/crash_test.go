package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/wache/wache/api"
	"github.com/wache/wache/client"
	"github.com/wache/wache/client/attach"
	"github.com/wache/wache/internal/harness"
)

var debugFault = false

var errInjected = errors.New("injected storage failure")

// faultState is a State (over rawState) that breaks one write while
// armed: the nth Save fails, or (cancel) the caller's context is cancelled
// right before it. Like a real store it refuses to write for a context
// that has ended.
type faultState struct {
	*rawState
	mu     sync.Mutex
	armed  bool
	n      int
	count  int
	cancel context.CancelFunc
	hit    bool
}

func (s *faultState) arm(n int, cancel context.CancelFunc) {
	s.mu.Lock()
	s.armed, s.n, s.count, s.cancel, s.hit = true, n, 0, cancel, false
	s.mu.Unlock()
}

// disarm stops injecting and says whether the fault was reached.
func (s *faultState) disarm() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armed = false
	return s.hit
}

func (s *faultState) Save(ctx context.Context, k string, v []byte) error {
	s.mu.Lock()
	if s.armed {
		s.count++
		if debugFault {
			fmt.Println("save", s.count, k)
		}
		if s.count == s.n {
			s.hit = true
			if s.cancel == nil {
				s.mu.Unlock()
				return fmt.Errorf("save %s: %w", k, errInjected)
			}
			s.cancel()
		}
	}
	s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("save %s: %w", k, err)
	}
	return s.rawState.Save(ctx, k, v)
}

// crashDevice is a messenger with the app's history hook on a faultState;
// restart opens it again on the same state, as after a crash.
type crashDevice struct {
	st   *faultState
	m    *client.Messenger
	h    *client.History
	prof *client.Profile

	mu  sync.Mutex
	got map[string]int // conv/seq → OnMessage calls, across restarts
}

func newCrashDevice(t *testing.T, n *harness.Node, email string) *crashDevice {
	t.Helper()
	ctx := context.Background()
	_, p := n.Login(t, email)
	d := &crashDevice{st: &faultState{rawState: &rawState{}}, prof: p, got: map[string]int{}}
	if err := client.SaveProfile(ctx, d.st, p); err != nil {
		t.Fatal(err)
	}
	d.restart(t)
	if err := d.m.EnsureKeyPackages(ctx, 5, 10); err != nil {
		t.Fatal(err)
	}
	return d
}

func (d *crashDevice) restart(t *testing.T) {
	t.Helper()
	m, err := client.OpenMessenger(context.Background(), d.st)
	if err != nil {
		t.Fatal(err)
	}
	h := client.OpenHistory(d.st, d.prof.UserID)
	m.Record = func(ctx context.Context, msg client.Message) error {
		_, err := h.Record(ctx, msg)
		return err
	}
	m.OnMessage = func(msg client.Message) {
		d.mu.Lock()
		d.got[fmt.Sprintf("%s/%d", msg.ConvID, msg.Seq)]++
		d.mu.Unlock()
	}
	if debugFault {
		m.Log = slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	d.m, d.h = m, h
}

func (d *crashDevice) handed(conv string, seq int64) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.got[fmt.Sprintf("%s/%d", conv, seq)]
}

// entries returns the history entries of one seq.
func (d *crashDevice) entries(t *testing.T, conv string, seq int64) []client.Entry {
	t.Helper()
	es, err := d.h.Messages(context.Background(), conv, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []client.Entry
	for _, e := range es {
		if e.Seq == seq {
			out = append(out, e)
		}
	}
	return out
}

// TestProcessCrashConsistent: a message the server stored reaches the
// device exactly once and readable, whichever write of its processing
// fails, whether the context is cancelled in the middle (a reconnect), and
// whether the device goes on (redelivery on the next connection) or
// restarts from what it saved (a crash). For every step n of the
// processing of a text, an attachment with an acknowledgement request and
// a commit, the nth write fails (or the context ends before it), then the
// envelope is delivered again; afterwards the groups still agree.
func TestProcessCrashConsistent(t *testing.T) {
	n := harness.Start(t, harness.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	anna := newCrashDevice(t, n, "anna.schmidt@"+harness.Domain)
	ben := newCrashDevice(t, n, "ben.mueller@"+harness.Domain)
	clara := newCrashDevice(t, n, "clara.wagner@"+harness.Domain)
	if err := clara.m.EnsureKeyPackages(ctx, 40, 40); err != nil {
		t.Fatal(err)
	}
	conv, err := anna.m.CreateChat(ctx, api.CreateConversationRequest{Kind: "group", Name: "Streife 12", Members: []string{ben.prof.Email}})
	if err != nil {
		t.Fatal(err)
	}
	if err := ben.m.Sync(ctx, conv.ID); err != nil { // joins from the Welcome
		t.Fatal(err)
	}
	last := int64(0)
	next := func() []api.Envelope {
		t.Helper()
		envs, err := ben.m.API.Envelopes(ctx, conv.ID, last, 200)
		if err != nil {
			t.Fatal(err)
		}
		if len(envs) > 0 {
			last = envs[len(envs)-1].Seq
		}
		return envs
	}
	next() // the history up to here is processed

	var blobID [16]byte
	claraIn := false
	kinds := []struct {
		name string
		// produce makes anna cause one envelope; check verifies ben has it.
		produce func(t *testing.T, i int) string
		commit  bool
	}{
		{name: "text", produce: func(t *testing.T, i int) string {
			txt := fmt.Sprintf("Lage %d: Kennzeichen B-XY %d", i, i)
			if _, err := anna.m.Send(ctx, conv.ID, client.Payload{V: 1, Type: client.TypeText, Text: txt}); err != nil {
				t.Fatal(err)
			}
			return txt
		}},
		{name: "attachment", produce: func(t *testing.T, i int) string {
			blobID[0] = byte(i)
			ref := &attach.Ref{BlobID: fmt.Sprintf("%x", blobID), Key: bytes.Repeat([]byte{byte(i)}, 32), SHA256: bytes.Repeat([]byte{1}, 32),
				Size: 1234, MIME: "image/jpeg", Name: fmt.Sprintf("foto-%d.jpg", i)}
			if _, err := anna.m.SendWith(ctx, conv.ID, client.Payload{V: 1, Type: client.TypeAttachment, Attachment: ref},
				client.SendOptions{AckRequired: true}); err != nil {
				t.Fatal(err)
			}
			return ref.Name
		}},
		{name: "commit", commit: true, produce: func(t *testing.T, i int) string {
			var err error
			if claraIn {
				err = anna.m.RemoveMember(ctx, conv.ID, clara.prof.Email)
			} else {
				err = anna.m.AddMember(ctx, conv.ID, clara.prof.Email, "member")
			}
			if err != nil {
				t.Fatal(err)
			}
			claraIn = !claraIn
			return ""
		}},
	}
	modes := []string{"fail", "fail+restart", "cancel", "cancel+restart"}
	i := 0
	for _, k := range kinds {
		for _, mode := range modes {
			steps := 0
			for step := 1; ; step++ {
				i++
				want := k.produce(t, i)
				envs := next()
				if k.commit && len(envs) > 0 && envs[0].Kind != "commit" {
					t.Fatalf("%s: envelope %+v is no commit", k.name, envs[0])
				}
				if len(envs) != 1 && !k.commit {
					t.Fatalf("%s: %d new envelopes, want 1", k.name, len(envs))
				}
				env := envs[len(envs)-1]
				pctx, pcancel := context.WithCancel(ctx)
				var cancelAt context.CancelFunc
				if mode == "cancel" || mode == "cancel+restart" {
					cancelAt = pcancel
				}
				ben.st.arm(step, cancelAt)
				var err1 error
				for _, e := range envs {
					if _, err1 = ben.m.Process(pctx, e, nil); err1 != nil {
						break
					}
				}
				hit := ben.st.disarm()
				pcancel()
				// A failed write that Process does not report came after
				// the processing (the receipt flush that follows it).
				beyond := hit && cancelAt == nil && err1 == nil
				if mode == "fail+restart" || mode == "cancel+restart" {
					ben.restart(t)
				}
				for _, e := range envs { // delivered again
					if _, err := ben.m.Process(ctx, e, nil); err != nil {
						t.Fatalf("%s/%s step %d: redelivery: %v", k.name, mode, step, err)
					}
				}
				if k.commit {
					ga, _ := anna.m.Group(ctx, conv.ID)
					gb, _ := ben.m.Group(ctx, conv.ID)
					if gb == nil || ga.Epoch() != gb.Epoch() || len(ga.Members()) != len(gb.Members()) {
						t.Fatalf("%s/%s step %d: ben's group differs from anna's", k.name, mode, step)
					}
				} else {
					checkOnce(t, fmt.Sprintf("%s/%s step %d", k.name, mode, step), ben, env, want, mode)
					if k.name == "attachment" {
						ref, err := ben.m.AttachmentRef(ctx, conv.ID, env.Seq)
						if err != nil || ref.Name != want {
							t.Fatalf("%s/%s step %d: attachment reference %+v, %v", k.name, mode, step, ref, err)
						}
					}
				}
				// The group goes on: the next message is readable.
				txt := fmt.Sprintf("danach %d", i)
				if _, err := anna.m.Send(ctx, conv.ID, client.Payload{V: 1, Type: client.TypeText, Text: txt}); err != nil {
					t.Fatal(err)
				}
				after := next()
				for _, e := range after {
					if _, err := ben.m.Process(ctx, e, nil); err != nil {
						t.Fatalf("%s/%s step %d: next message: %v", k.name, mode, step, err)
					}
				}
				checkOnce(t, fmt.Sprintf("%s/%s step %d, next message", k.name, mode, step), ben, after[len(after)-1], txt, "")
				if !hit || beyond {
					break // every write of the processing had its turn
				}
				steps++
			}
			if steps < 2 {
				t.Fatalf("%s/%s: only %d writes in the processing: the fault injection does not reach it", k.name, mode, steps)
			}
			t.Logf("%s/%s: %d writes, each failed (or cancelled) once", k.name, mode, steps)
		}
	}
	// And back: ben's messages are readable for anna.
	if _, err := ben.m.Send(ctx, conv.ID, client.Payload{V: 1, Type: client.TypeText, Text: "Verstanden"}); err != nil {
		t.Fatal(err)
	}
	var got []client.Message
	anna.m.OnMessage = func(m client.Message) { got = append(got, m) }
	if err := anna.m.Sync(ctx, conv.ID); err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || got[len(got)-1].Payload.Text != "Verstanden" || got[len(got)-1].Undecryptable != "" {
		t.Fatalf("anna got %+v", got)
	}
}

// checkOnce: the message is in the history once, readable, and was handed
// to OnMessage once (after a restart the history alone may have it: the
// app shows what it loads from there).
func checkOnce(t *testing.T, what string, d *crashDevice, env api.Envelope, want, mode string) {
	t.Helper()
	es := d.entries(t, env.ConvID, env.Seq)
	if len(es) != 1 {
		t.Fatalf("%s: %d history entries for seq %d, want 1", what, len(es), env.Seq)
	}
	e := es[0]
	text := e.Payload.Text
	if e.Payload.Attachment != nil {
		text = e.Payload.Attachment.Name
	}
	if e.Undecryptable != "" || text != want {
		t.Fatalf("%s: history has %q (undecryptable: %q), want %q", what, text, e.Undecryptable, want)
	}
	n := d.handed(env.ConvID, env.Seq)
	restarted := mode == "fail+restart" || mode == "cancel+restart"
	if n > 1 || (n == 0 && !restarted) {
		t.Fatalf("%s: handed over %d times", what, n)
	}
}

// TestJoinCrashConsistent: joining a group from a Welcome survives a
// failed write at each step (or a crash right after it): the Welcome,
// delivered again, still makes the device a member that reads the group.
func TestJoinCrashConsistent(t *testing.T) {
	n := harness.Start(t, harness.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	anna := newCrashDevice(t, n, "anna.schmidt@"+harness.Domain)
	clara := newCrashDevice(t, n, "clara.wagner@"+harness.Domain)
	if err := clara.m.EnsureKeyPackages(ctx, 20, 20); err != nil {
		t.Fatal(err)
	}
	i := 0
	for _, restart := range []bool{false, true} {
		steps := 0
		for step := 1; ; step++ {
			i++
			conv, err := anna.m.CreateChat(ctx, api.CreateConversationRequest{Kind: "group", Name: fmt.Sprintf("Einsatz %d", i), Members: []string{clara.prof.Email}})
			if err != nil {
				t.Fatal(err)
			}
			dms, err := clara.m.API.DeviceMessages(ctx)
			if err != nil || len(dms) != 1 || dms[0].ConvID != conv.ID {
				t.Fatalf("device messages %+v, %v", dms, err)
			}
			clara.st.arm(step, nil)
			err1 := clara.m.HandleDeviceMessage(ctx, dms[0])
			hit := clara.st.disarm()
			if hit && err1 == nil {
				t.Fatalf("restart %v step %d: the failed write was not reported", restart, step)
			}
			if restart {
				clara.restart(t)
			}
			txt := fmt.Sprintf("Willkommen %d", i)
			if _, err := anna.m.Send(ctx, conv.ID, client.Payload{V: 1, Type: client.TypeText, Text: txt}); err != nil {
				t.Fatal(err)
			}
			var got []client.Message
			clara.m.OnMessage = func(m client.Message) { got = append(got, m) }
			if err := clara.m.Sync(ctx, conv.ID); err != nil { // the Welcome again, then the conversation
				t.Fatalf("restart %v step %d: %v", restart, step, err)
			}
			if len(got) != 1 || got[0].Payload.Text != txt || got[0].Undecryptable != "" {
				t.Fatalf("restart %v step %d: clara got %+v", restart, step, got)
			}
			if !hit {
				break
			}
			steps++
		}
		if steps < 2 {
			t.Fatalf("only %d writes in a join", steps)
		}
		t.Logf("join (restart %v): %d writes, each failed once", restart, steps)
	}
}
