// Package brokertest is the behavioural test suite that every
// broker.Broker implementation passes.
//
// The tests never rely on sleeps: to show that a message did not arrive,
// they publish a later message that must arrive and rely on per-publisher
// ordering. Waits are bounded (WaitTimeout) so that a broken broker fails
// instead of hanging.
package brokertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/internal/broker"
)

// WaitTimeout bounds every wait for a message.
const WaitTimeout = 10 * time.Second

// DropCounter is what Run needs besides broker.Broker: the number of
// messages dropped because a subscription's queue was full.
type DropCounter interface {
	Dropped() uint64
}

// floodSize is published at one blocked handler; implementations must bound
// per-subscription queues below it.
const floodSize = 20000

// Run runs the suite. newBroker returns a fresh broker that implements
// DropCounter and sees no other traffic; Run closes it (closing twice must
// be harmless, so newBroker may also register a Close with t.Cleanup).
func Run(t *testing.T, newBroker func(t *testing.T) broker.Broker) {
	open := func(t *testing.T) broker.Broker {
		t.Helper()
		b := newBroker(t)
		t.Cleanup(func() {
			if err := b.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return b
	}
	t.Run("Match", func(t *testing.T) { testMatch(t, open) })
	t.Run("Order", func(t *testing.T) { testOrder(t, open(t)) })
	t.Run("FanOut", func(t *testing.T) { testFanOut(t, open(t)) })
	t.Run("Unsubscribe", func(t *testing.T) { testUnsubscribe(t, open(t)) })
	t.Run("Reentrant", func(t *testing.T) { testReentrant(t, open(t)) })
	t.Run("SlowHandler", func(t *testing.T) { testSlowHandler(t, open(t)) })
	t.Run("Payload", func(t *testing.T) { testPayload(t, open(t)) })
	t.Run("Invalid", func(t *testing.T) { testInvalid(t, open(t)) })
	t.Run("Context", func(t *testing.T) { testContext(t, open(t)) })
	t.Run("Panic", func(t *testing.T) { testPanic(t, open(t)) })
	t.Run("Close", func(t *testing.T) { testClose(t, open(t)) })
	t.Run("ConcurrentPublishers", func(t *testing.T) { testConcurrent(t, open(t)) })
}

// Msg is one received message.
type Msg struct {
	Subject string
	Data    string
}

// Recorder records what its Handler receives.
type Recorder struct {
	mu     sync.Mutex
	msgs   []Msg
	notify chan struct{}
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder { return &Recorder{notify: make(chan struct{}, 1)} }

// Handler records each message.
func (r *Recorder) Handler(subject string, data []byte) {
	r.mu.Lock()
	r.msgs = append(r.msgs, Msg{subject, string(data)})
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// Msgs returns a copy of what was received so far.
func (r *Recorder) Msgs() []Msg {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.msgs)
}

// Data returns the data of every message received so far.
func (r *Recorder) Data() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.msgs))
	for i, m := range r.msgs {
		out[i] = m.Data
	}
	return out
}

// WaitData waits until a message with data arrives and returns all data
// received up to then.
func (r *Recorder) WaitData(t testing.TB, data string) []string {
	t.Helper()
	r.Wait(t, fmt.Sprintf("message %q", data), func(ms []Msg) bool {
		return slices.ContainsFunc(ms, func(m Msg) bool { return m.Data == data })
	})
	return r.Data()
}

// WaitCount waits until n messages arrived.
func (r *Recorder) WaitCount(t testing.TB, n int) {
	t.Helper()
	r.Wait(t, fmt.Sprintf("%d messages", n), func(ms []Msg) bool { return len(ms) >= n })
}

// Wait waits until cond holds for the received messages.
func (r *Recorder) Wait(t testing.TB, what string, cond func([]Msg) bool) {
	t.Helper()
	deadline := time.NewTimer(WaitTimeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		ok, n := cond(r.msgs), len(r.msgs)
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-r.notify:
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s (%d messages received)", WaitTimeout, what, n)
		}
	}
}

// Eventually waits until cond holds, polling.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(WaitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", WaitTimeout, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// Publish publishes and fails the test on error.
func Publish(t testing.TB, b broker.Broker, subject, data string) {
	t.Helper()
	if err := b.Publish(context.Background(), subject, []byte(data)); err != nil {
		t.Fatalf("Publish(%q): %v", subject, err)
	}
}

// Subscribe subscribes and fails the test on error.
func Subscribe(t testing.TB, b broker.Broker, pattern string, h broker.Handler) broker.Subscription {
	t.Helper()
	s, err := b.Subscribe(pattern, h)
	if err != nil {
		t.Fatalf("Subscribe(%q): %v", pattern, err)
	}
	return s
}

// MatchCases is a table of subjects, patterns and whether they match.
var MatchCases = []struct {
	Subject, Pattern string
	Match            bool
}{
	{"a", "a", true},
	{"a", "b", false},
	{"A", "a", false},
	{"ab", "a", false},
	{"a", "ab", false},
	{"a.b", "a.b", true},
	{"a.b", "a", false},
	{"a", "a.b", false},
	{"a.bc", "a.b", false},
	{"a.b", "a.b.c", false},
	{"a", "*", true},
	{"a.b", "*", false},
	{"a.b", "a.*", true},
	{"a", "a.*", false},
	{"a.b.c", "a.*", false},
	{"a.b", "*.b", true},
	{"a.c", "*.b", false},
	{"a.b", "*.*", true},
	{"a.b.c", "*.*", false},
	{"a.b.c", "a.*.c", true},
	{"a.b.d", "a.*.c", false},
	{"a", ">", true},
	{"a.b.c", ">", true},
	{"a.b", "a.>", true},
	{"a.b.c.d", "a.>", true},
	{"a", "a.>", false},
	{"b.c", "a.>", false},
	{"a.b.c", "*.>", true},
	{"a", "*.>", false},
	{"a.b.c", "a.*.>", true},
	{"a.b", "a.*.>", false},
	{"a.b.c", "*.b.>", true},
	{"a.x.c", "*.b.>", false},
	{"conv.01HZX3.msg", "conv.*.msg", true},
	{"conv.01HZX3.ack", "conv.*.msg", false},
	{"device.7.inbox", "device.7.>", true},
	{"device.70.inbox", "device.7.>", false},
	{"x-y_z.1$2", "x-y_z.*", true},
}

// sentinel returns a subject that pattern matches.
func sentinel(pattern string) string {
	toks := strings.Split(pattern, ".")
	for i, tok := range toks {
		if tok == "*" || tok == ">" {
			toks[i] = "sentinel"
		}
	}
	return strings.Join(toks, ".")
}

func testMatch(t *testing.T, open func(*testing.T) broker.Broker) {
	for _, c := range MatchCases {
		t.Run(c.Subject+"~"+c.Pattern, func(t *testing.T) {
			b := open(t)
			r := NewRecorder()
			Subscribe(t, b, c.Pattern, r.Handler)
			Publish(t, b, c.Subject, "probe")
			// The sentinel comes after the probe, so once it is here the
			// probe is here too if it ever will be.
			Publish(t, b, sentinel(c.Pattern), "sentinel")
			got := r.WaitData(t, "sentinel")
			want := []string{"sentinel"}
			if c.Match {
				want = []string{"probe", "sentinel"}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("subject %q, pattern %q: received %q, want %q", c.Subject, c.Pattern, got, want)
			}
			if c.Match && r.Msgs()[0].Subject != c.Subject {
				t.Fatalf("handler got subject %q, want %q", r.Msgs()[0].Subject, c.Subject)
			}
		})
	}
}

func seqs(n int, prefix string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + strconv.Itoa(i)
	}
	return out
}

func testOrder(t *testing.T, b broker.Broker) {
	const n = 5000 // below the queue bound: no drops even if handlers lag
	exact, wild := NewRecorder(), NewRecorder()
	Subscribe(t, b, "order.x", exact.Handler)
	Subscribe(t, b, "order.>", wild.Handler)
	want := seqs(n, "")
	for _, d := range want {
		Publish(t, b, "order.x", d)
	}
	for name, r := range map[string]*Recorder{"exact": exact, "wildcard": wild} {
		r.WaitCount(t, n)
		if got := r.Data(); !slices.Equal(got, want) {
			t.Fatalf("%s subscriber: %d messages out of order; first difference at %d", name, len(got), firstDiff(got, want))
		}
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func testFanOut(t *testing.T, b broker.Broker) {
	const n = 1000
	patterns := []string{"fan.x", "fan.x", "fan.*", "fan.>", "*.x", ">"}
	recs := make([]*Recorder, len(patterns))
	for i, p := range patterns {
		recs[i] = NewRecorder()
		Subscribe(t, b, p, recs[i].Handler)
	}
	other := NewRecorder()
	Subscribe(t, b, "fan.y", other.Handler)
	want := append(seqs(n, ""), "end")
	for _, d := range want {
		Publish(t, b, "fan.x", d)
	}
	Publish(t, b, "fan.y", "other-end")
	for i, r := range recs {
		// Everything ends with "end": nothing is missing or doubled.
		r.WaitData(t, "end")
		var got []string
		for _, m := range r.Msgs() {
			if m.Subject == "fan.x" {
				got = append(got, m.Data)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("subscriber %d (%q): got %d messages, want each of %d exactly once in order", i, patterns[i], len(got), len(want))
		}
	}
	if got := other.WaitData(t, "other-end"); len(got) != 1 {
		t.Fatalf("subscriber of fan.y got %d messages, want 1", len(got))
	}
}

func testUnsubscribe(t *testing.T, b broker.Broker) {
	gone, stays := NewRecorder(), NewRecorder()
	subGone := Subscribe(t, b, "u.x", gone.Handler)
	Subscribe(t, b, "u.*", stays.Handler)
	Publish(t, b, "u.x", "1")
	gone.WaitData(t, "1")
	stays.WaitData(t, "1")
	if err := subGone.Unsubscribe(); err != nil {
		t.Fatalf("Unsubscribe: %v", err)
	}
	if err := subGone.Unsubscribe(); err != nil {
		t.Fatalf("second Unsubscribe: %v", err)
	}
	Publish(t, b, "u.x", "2")
	Publish(t, b, "u.x", "end")
	if got := stays.WaitData(t, "end"); !slices.Equal(got, []string{"1", "2", "end"}) {
		t.Fatalf("remaining subscriber got %q", got)
	}
	if got := gone.Data(); !slices.Equal(got, []string{"1"}) {
		t.Fatalf("unsubscribed handler got %q, want only \"1\"", got)
	}

	// The same pattern can be subscribed again.
	again := NewRecorder()
	Subscribe(t, b, "u.x", again.Handler)
	Publish(t, b, "u.x", "3")
	if got := again.WaitData(t, "3"); !slices.Equal(got, []string{"3"}) {
		t.Fatalf("new subscriber got %q", got)
	}

	// Messages queued behind a handler are discarded when it unsubscribes,
	// even from within the handler itself.
	var self broker.Subscription
	var selfCalls atomic.Int32
	ready := make(chan struct{})
	self = Subscribe(t, b, "u.self", func(string, []byte) {
		<-ready
		if selfCalls.Add(1) == 1 {
			if err := self.Unsubscribe(); err != nil {
				t.Errorf("Unsubscribe from handler: %v", err)
			}
		}
	})
	witness := NewRecorder()
	Subscribe(t, b, "u.self", witness.Handler)
	for _, d := range []string{"a", "b", "c", "end"} {
		Publish(t, b, "u.self", d)
	}
	witness.WaitData(t, "end") // all four are queued at the handler too
	close(ready)
	Publish(t, b, "u.x", "4")
	again.WaitData(t, "4")
	Eventually(t, "the self-unsubscribing handler to run", func() bool { return selfCalls.Load() >= 1 })
	// Give a broken broker a chance to deliver the queued rest: send one more
	// round through a live subscription after the handler returned.
	Publish(t, b, "u.x", "5")
	again.WaitData(t, "5")
	if n := selfCalls.Load(); n != 1 {
		t.Fatalf("handler that unsubscribed itself was called %d times, want 1", n)
	}
}

func testReentrant(t *testing.T, b broker.Broker) {
	// A handler may publish, subscribe and unsubscribe without deadlock.
	out := NewRecorder()
	Subscribe(t, b, "re.out", out.Handler)
	var late broker.Subscription
	var mu sync.Mutex
	lateRec := NewRecorder()
	Subscribe(t, b, "re.in", func(subject string, data []byte) {
		mu.Lock()
		if late == nil {
			s, err := b.Subscribe("re.late", lateRec.Handler)
			if err != nil {
				t.Errorf("Subscribe from handler: %v", err)
			}
			late = s
		}
		mu.Unlock()
		// Published after subscribing: once "ping" is out, re.late is live.
		if err := b.Publish(context.Background(), "re.out", data); err != nil {
			t.Errorf("Publish from handler: %v", err)
		}
	})
	Publish(t, b, "re.in", "ping")
	if got := out.WaitData(t, "ping"); !slices.Equal(got, []string{"ping"}) {
		t.Fatalf("got %q", got)
	}
	Publish(t, b, "re.late", "hello")
	lateRec.WaitData(t, "hello")
	mu.Lock()
	defer mu.Unlock()
	if late == nil {
		t.Fatal("handler did not subscribe")
	}
	if err := late.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
}

func testSlowHandler(t *testing.T, b broker.Broker) {
	dc, ok := b.(DropCounter)
	if !ok {
		t.Fatalf("%T does not implement Dropped() uint64", b)
	}
	release := make(chan struct{})
	var slowGot, fastGot atomic.Int64
	Subscribe(t, b, "slow.x", func(string, []byte) {
		select {
		case <-release:
		case <-time.After(WaitTimeout):
		}
		slowGot.Add(1)
	})
	Subscribe(t, b, "slow.x", func(string, []byte) { fastGot.Add(1) })

	// The publisher must finish while the slow handler blocks: it never
	// waits for a handler, it drops instead.
	published := make(chan error, 1)
	go func() {
		for i := range floodSize {
			if err := b.Publish(context.Background(), "slow.x", []byte(strconv.Itoa(i))); err != nil {
				published <- err
				return
			}
		}
		published <- nil
	}()
	select {
	case err := <-published:
		if err != nil {
			t.Fatalf("Publish: %v", err)
		}
	case <-time.After(WaitTimeout):
		close(release)
		t.Fatalf("Publish blocked behind a slow handler")
	}
	// The other subscriber of the same subject is not held up.
	Eventually(t, "the fast subscriber to receive while the slow one blocks", func() bool { return fastGot.Load() > 0 })
	Eventually(t, "drops at the blocked subscriber", func() bool { return dc.Dropped() > 0 })
	close(release)
	// Every message is either delivered once or counted as dropped.
	Eventually(t, "delivered + dropped to add up to published", func() bool {
		return slowGot.Load()+fastGot.Load()+int64(dc.Dropped()) == 2*floodSize
	})
	// And the slow subscriber works again afterwards.
	rec := NewRecorder()
	Subscribe(t, b, "slow.y", rec.Handler)
	Publish(t, b, "slow.y", "after")
	rec.WaitData(t, "after")
	if got, sum := dc.Dropped(), slowGot.Load()+fastGot.Load()+int64(dc.Dropped()); sum != 2*floodSize {
		t.Fatalf("delivered+dropped = %d (dropped %d), want %d", sum, got, 2*floodSize)
	}
}

func testPayload(t *testing.T, b broker.Broker) {
	var mu sync.Mutex
	var kept [][]byte
	done := make(chan struct{}, 8)
	Subscribe(t, b, "pay.x", func(_ string, data []byte) {
		mu.Lock()
		kept = append(kept, data) // handlers may keep data
		mu.Unlock()
		done <- struct{}{}
	})
	wait := func() {
		t.Helper()
		select {
		case <-done:
		case <-time.After(WaitTimeout):
			t.Fatal("timed out waiting for a message")
		}
	}
	buf := []byte("original")
	if err := b.Publish(context.Background(), "pay.x", buf); err != nil {
		t.Fatal(err)
	}
	copy(buf, "OVERWRIT") // the caller reuses its buffer at once
	wait()
	copy(buf, "second..")
	if err := b.Publish(context.Background(), "pay.x", buf); err != nil {
		t.Fatal(err)
	}
	copy(buf, "XXXXXXXX")
	wait()

	big := make([]byte, 256<<10)
	for i := range big {
		big[i] = byte(i * 7)
	}
	if err := b.Publish(context.Background(), "pay.x", big); err != nil {
		t.Fatalf("Publish of 256 KiB: %v", err)
	}
	wait()
	if err := b.Publish(context.Background(), "pay.x", nil); err != nil {
		t.Fatalf("Publish of nil data: %v", err)
	}
	wait()

	mu.Lock()
	defer mu.Unlock()
	if string(kept[0]) != "original" || string(kept[1]) != "second.." {
		t.Fatalf("handler saw %q, %q: the broker did not copy the publisher's buffer", kept[0], kept[1])
	}
	if !bytes.Equal(kept[2], big) {
		t.Fatalf("256 KiB message arrived changed (%d bytes)", len(kept[2]))
	}
	if len(kept[3]) != 0 {
		t.Fatalf("empty message arrived with %d bytes", len(kept[3]))
	}

	err := b.Publish(context.Background(), "pay.x", make([]byte, broker.MaxPayload+1))
	if code := wache.ErrorCode(err); code != wache.ETOOLARGE {
		t.Fatalf("Publish of MaxPayload+1 bytes: error %v (code %q), want %s", err, code, wache.ETOOLARGE)
	}
}

func testInvalid(t *testing.T, b broker.Broker) {
	long := strings.Repeat("a.", broker.MaxSubjectLen/2) + "b" // MaxSubjectLen+1
	badSubjects := []string{"", ".", "a.", ".a", "a..b", "*", ">", "a.*", "a.>", "a.*.b", "a*", "a>b",
		"a b", "a\tb", "a\nb", "a\x00b", "ä", "a.\x7f", long}
	for _, s := range badSubjects {
		err := b.Publish(context.Background(), s, []byte("x"))
		if code := wache.ErrorCode(err); code != wache.EINVALID {
			t.Errorf("Publish(%q): error %v (code %q), want %s", s, err, code, wache.EINVALID)
		}
	}
	badPatterns := []string{"", ".", "a.", ".a", "a..b", ">.a", "a.>.b", "a.>.>", "a*", "*a", "a.b>",
		"a b", "a\tb", "ä.*", long}
	for _, p := range badPatterns {
		s, err := b.Subscribe(p, func(string, []byte) {})
		if code := wache.ErrorCode(err); code != wache.EINVALID || s != nil {
			t.Errorf("Subscribe(%q): %v, error %v (code %q), want no subscription and %s", p, s, err, code, wache.EINVALID)
		}
	}
	if _, err := b.Subscribe("a", nil); wache.ErrorCode(err) != wache.EINVALID {
		t.Errorf("Subscribe with nil handler: error %v, want %s", err, wache.EINVALID)
	}

	// The longest valid subject works end to end.
	longest := strings.Repeat("a.", broker.MaxSubjectLen/2-1) + "bc"
	if len(longest) != broker.MaxSubjectLen {
		t.Fatalf("test bug: subject of %d bytes", len(longest))
	}
	r := NewRecorder()
	Subscribe(t, b, longest, r.Handler)
	Publish(t, b, longest, "longest")
	if got := r.WaitData(t, "longest"); len(got) != 1 || r.Msgs()[0].Subject != longest {
		t.Fatalf("longest subject: got %v", r.Msgs())
	}
}

func testContext(t *testing.T, b broker.Broker) {
	r := NewRecorder()
	Subscribe(t, b, "ctx.x", r.Handler)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Publish(ctx, "ctx.x", []byte("cancelled")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Publish with cancelled context: %v, want context.Canceled", err)
	}
	Publish(t, b, "ctx.x", "end")
	if got := r.WaitData(t, "end"); !slices.Equal(got, []string{"end"}) {
		t.Fatalf("got %q: a cancelled publish was delivered", got)
	}
}

func testPanic(t *testing.T, b broker.Broker) {
	r := NewRecorder()
	Subscribe(t, b, "panic.x", func(subject string, data []byte) {
		if string(data) == "boom" {
			panic("brokertest: deliberate handler panic")
		}
		r.Handler(subject, data)
	})
	Publish(t, b, "panic.x", "boom")
	Publish(t, b, "panic.x", "after")
	if got := r.WaitData(t, "after"); !slices.Equal(got, []string{"after"}) {
		t.Fatalf("got %q", got)
	}
}

func testClose(t *testing.T, b broker.Broker) {
	const n = 200
	var got atomic.Int64
	sub := Subscribe(t, b, "close.x", func(string, []byte) {
		time.Sleep(50 * time.Microsecond) // so that Close finds a queue
		got.Add(1)
	})
	for i := range n {
		Publish(t, b, "close.x", strconv.Itoa(i))
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// Close drains: what was published before it reached the handler.
	if g := got.Load(); g != n {
		t.Fatalf("after Close, handler had %d of %d messages published before it", g, n)
	}
	if err := b.Publish(context.Background(), "close.x", []byte("late")); !errors.Is(err, broker.ErrClosed) {
		t.Fatalf("Publish after Close: %v, want broker.ErrClosed", err)
	}
	if s, err := b.Subscribe("close.x", func(string, []byte) {}); !errors.Is(err, broker.ErrClosed) || s != nil {
		t.Fatalf("Subscribe after Close: %v, %v, want broker.ErrClosed", s, err)
	}
	if err := sub.Unsubscribe(); err != nil {
		t.Fatalf("Unsubscribe after Close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if g := got.Load(); g != n {
		t.Fatalf("handler ran after Close: %d calls, want %d", g, n)
	}
}

func testConcurrent(t *testing.T, b broker.Broker) {
	const pubs, each = 8, 500 // 4000 in all: below the queue bound
	all := NewRecorder()
	Subscribe(t, b, "cp.>", all.Handler)
	own := make([]*Recorder, pubs)
	for p := range own {
		own[p] = NewRecorder()
		Subscribe(t, b, "cp."+strconv.Itoa(p), own[p].Handler)
	}
	var wg sync.WaitGroup
	errs := make(chan error, pubs)
	for p := range pubs {
		wg.Go(func() {
			subject := "cp." + strconv.Itoa(p)
			for i := range each {
				if err := b.Publish(context.Background(), subject, []byte(strconv.Itoa(i))); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Publish: %v", err)
	}
	want := seqs(each, "")
	for p, r := range own {
		r.WaitCount(t, each)
		if got := r.Data(); !slices.Equal(got, want) {
			t.Fatalf("publisher %d: its subscriber got %d messages, out of order at %d", p, len(got), firstDiff(got, want))
		}
	}
	all.WaitCount(t, pubs*each)
	// Interleaved, but each publisher's messages in its order.
	next := make(map[string]int)
	for _, m := range all.Msgs() {
		if want := strconv.Itoa(next[m.Subject]); m.Data != want {
			t.Fatalf("wildcard subscriber: %s sent %q, want %q next", m.Subject, m.Data, want)
		}
		next[m.Subject]++
	}
	if len(all.Msgs()) != pubs*each {
		t.Fatalf("wildcard subscriber got %d messages, want %d", len(all.Msgs()), pubs*each)
	}
}
