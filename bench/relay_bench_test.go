package bench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wache/wache/api"
	"github.com/wache/wache/bench/load"
	"github.com/wache/wache/client"
	"github.com/wache/wache/internal/harness"
)

// payloadSize is the envelope payload of every benchmark: a short message
// after MLS framing and padding.
const payloadSize = 1024

type backend struct {
	name string
	opts harness.Options
}

var stores = []backend{
	{"sqlite", harness.Options{}},
	{"postgres", harness.Options{Postgres: true}},
}

// quantile returns the q-quantile of sorted durations (nearest rank).
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// commitStats is what the relay's metrics say about its group commits.
type commitStats struct {
	commits, envelopes, seconds float64
}

func relayStats(tb testing.TB, n *harness.Node) commitStats {
	mfs, err := n.App.Registry.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	var s commitStats
	for _, mf := range mfs {
		if len(mf.GetMetric()) != 1 {
			continue
		}
		h := mf.GetMetric()[0].GetHistogram()
		switch mf.GetName() {
		case "wache_append_batch_size":
			s.commits, s.envelopes = float64(h.GetSampleCount()), h.GetSampleSum()
		case "wache_append_commit_seconds":
			s.seconds = h.GetSampleSum()
		}
	}
	return s
}

// BenchmarkPost measures envelopes accepted and durably stored per second
// over real HTTP: each sender is its own device (of its own user) posting
// 1 KiB payloads, one request at a time, either all into one group
// conversation or spread over eight. No device is online, so this is the
// ingest path alone: HTTP + JSON, authentication, membership check, group
// commit (fsync), broker publish.
func BenchmarkPost(b *testing.B) {
	const maxSenders, severalConvs = 64, 8
	load.TuneDefaultTransport(maxSenders + 16)
	for _, be := range stores {
		b.Run(be.name, func(b *testing.B) {
			n := harness.Start(b, be.opts)
			ctx := context.Background()
			senders := make([]*client.Client, maxSenders)
			var emails []string
			for i := range senders {
				email := fmt.Sprintf("sender%02d@%s", i, harness.Domain)
				senders[i], _ = n.Device(b, email)
				if i > 0 {
					emails = append(emails, email)
				}
			}
			newConv := func(name string) string {
				c, err := senders[0].CreateConversation(ctx, api.CreateConversationRequest{Kind: "group", Name: name, Members: emails})
				if err != nil {
					b.Fatal(err)
				}
				return c.ID
			}
			one := []string{newConv("one")}
			var several []string
			for k := 0; k < severalConvs; k++ {
				several = append(several, newConv(fmt.Sprintf("several %d", k)))
			}
			for _, cv := range []struct {
				name string
				ids  []string
			}{{"convs=1", one}, {fmt.Sprintf("convs=%d", severalConvs), several}} {
				for _, s := range []int{1, 8, 64} {
					b.Run(fmt.Sprintf("%s/senders=%d", cv.name, s), func(b *testing.B) {
						benchPost(b, n, senders[:s], cv.ids)
					})
				}
			}
		})
	}
}

func benchPost(b *testing.B, n *harness.Node, senders []*client.Client, convIDs []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	before := relayStats(b, n)
	var wg sync.WaitGroup
	b.ResetTimer()
	cpu0 := processCPU()
	start := time.Now()
	for j, c := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := load.NewPayload(payloadSize)
			for {
				i := int(next.Add(1) - 1)
				if i >= b.N {
					return
				}
				conv := convIDs[(i+j)%len(convIDs)]
				t0 := time.Now()
				load.Stamp(p, t0)
				if _, err := c.PostOnce(ctx, conv, api.PostEnvelopeRequest{ClientID: client.NewClientID(), Payload: p}); err != nil {
					errOnce.Do(func() { firstErr = err })
					return
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := processCPU() - cpu0
	b.StopTimer()
	if firstErr != nil {
		b.Fatalf("post: %v", firstErr)
	}
	after := relayStats(b, n)
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "env/s")
	b.ReportMetric(msf(quantile(lat, 0.5)), "p50-ms")
	b.ReportMetric(msf(quantile(lat, 0.99)), "p99-ms")
	// Client and server share the process: this is the CPU of both.
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/env")
	if c := after.commits - before.commits; c > 0 {
		b.ReportMetric((after.envelopes-before.envelopes)/c, "env/commit")
		b.ReportMetric((after.seconds-before.seconds)/c*1000, "commit-ms")
		// Share of the wall time the single writer was busy committing.
		b.ReportMetric((after.seconds-before.seconds)/elapsed.Seconds(), "writer-busy")
	}
}

// BenchmarkFanout measures the time from just before Post to the handler
// call on each online member device (client.Listen over WebSocket, an inbox
// each), one message at a time. Membership is per user and fan-out per
// device: 1 = 1 user × 1 device, 100 = 10 × 10, 1000 = 100 × 10; the sender
// is another user whose device is offline. Reported: the quantiles over all
// deliveries (deliver-*) and over messages, i.e. until the LAST device has
// it (last-*), and the sender's post latency. The client side of every
// connection runs in the same process and on the same cores as the server.
// Use -benchtime Nx (e.g. 20x): every iteration is one message.
func BenchmarkFanout(b *testing.B) {
	brokers := []struct{ name, spec string }{{"inproc", "inproc"}, {"nats", "nats-embedded"}}
	shapes := []struct{ users, perUser int }{{1, 1}, {10, 10}, {100, 10}}
	for _, be := range stores {
		for _, bk := range brokers {
			b.Run(be.name+"/"+bk.name, func(b *testing.B) {
				for _, sh := range shapes {
					b.Run(fmt.Sprintf("devices=%d", sh.users*sh.perUser), func(b *testing.B) {
						o := be.opts
						o.Broker = bk.spec
						benchFanout(b, o, sh.users, sh.perUser)
					})
				}
			})
		}
	}
}

// fanout tracks the receipts of each message (by sequence number).
type fanout struct {
	devices int
	mu      sync.Mutex
	msgs    map[int64]*msgState
}

type msgState struct {
	got  int
	last time.Duration
	lat  []time.Duration
	done chan struct{}
}

func (f *fanout) state(seq int64) *msgState {
	m := f.msgs[seq]
	if m == nil {
		m = &msgState{done: make(chan struct{}), lat: make([]time.Duration, 0, f.devices)}
		f.msgs[seq] = m
	}
	return m
}

func (f *fanout) receive(_ context.Context, env api.Envelope) error {
	now := time.Now()
	t0, ok := load.ReadStamp(env.Payload)
	if !ok {
		return nil
	}
	d := now.Sub(t0)
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.state(env.Seq)
	m.got++
	m.lat = append(m.lat, d)
	m.last = max(m.last, d)
	if m.got == f.devices {
		close(m.done)
	}
	return nil
}

func benchFanout(b *testing.B, o harness.Options, users, perUser int) {
	devices := users * perUser
	if err := load.RaiseFileLimit(uint64(2*devices + 512)); err != nil {
		b.Skip(err)
	}
	n := harness.Start(b, o)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	sender, _ := n.Device(b, "sender@"+harness.Domain)
	var emails []string
	var members []*client.Client
	for u := 0; u < users; u++ {
		email := fmt.Sprintf("member%03d@%s", u, harness.Domain)
		emails = append(emails, email)
		for d := 0; d < perUser; d++ {
			c, _ := n.Device(b, email)
			members = append(members, c)
		}
	}
	conv, err := sender.CreateConversation(ctx, api.CreateConversationRequest{Kind: "group", Name: "fanout", Members: emails})
	if err != nil {
		b.Fatal(err)
	}
	f := &fanout{devices: devices, msgs: map[int64]*msgState{}}
	lctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stop(); wg.Wait() }()
	synced := make(chan struct{}, devices)
	gate := make(chan struct{}, 32) // dial a few at a time
	for _, c := range members {
		in, err := client.OpenInbox(ctx, &client.MemState{})
		if err != nil {
			b.Fatal(err)
		}
		var once, rel sync.Once
		release := func() { rel.Do(func() { <-gate }) }
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer release()
			gate <- struct{}{}
			_ = c.Listen(lctx, in, client.ListenHandler{Envelope: f.receive, Connected: release,
				Synced: func() { once.Do(func() { synced <- struct{}{} }) }})
		}()
	}
	for i := 0; i < devices; i++ {
		select {
		case <-synced:
		case <-time.After(2 * time.Minute):
			b.Fatalf("only %d of %d devices synced", i, devices)
		}
	}
	payload := load.NewPayload(payloadSize)
	var posts []time.Duration
	send := func() *msgState {
		t0 := time.Now()
		load.Stamp(payload, t0)
		res, err := sender.PostOnce(ctx, conv.ID, api.PostEnvelopeRequest{ClientID: client.NewClientID(), Payload: payload})
		if err != nil {
			b.Fatalf("post: %v", err)
		}
		posts = append(posts, time.Since(t0))
		f.mu.Lock()
		m := f.state(res.Seq)
		f.mu.Unlock()
		select {
		case <-m.done:
		case <-time.After(time.Minute):
			f.mu.Lock()
			got := m.got
			f.mu.Unlock()
			b.Fatalf("message %d reached %d of %d devices in a minute", res.Seq, got, devices)
		}
		return m
	}
	send() // warm-up: first-use costs (connections, caches) are not the steady state
	posts = posts[:0]
	var all, last []time.Duration
	cpu0 := processCPU()
	for b.Loop() {
		m := send()
		f.mu.Lock()
		all = append(all, m.lat...)
		last = append(last, m.last)
		f.mu.Unlock()
	}
	cpu := processCPU() - cpu0
	slices.Sort(all)
	slices.Sort(last)
	slices.Sort(posts)
	// Server and all clients share the process: this is the CPU of both.
	b.ReportMetric(float64(cpu.Microseconds())/float64(len(all)), "cpu-µs/delivery")
	b.ReportMetric(msf(quantile(all, 0.5)), "deliver-p50-ms")
	b.ReportMetric(msf(quantile(all, 0.99)), "deliver-p99-ms")
	b.ReportMetric(msf(all[len(all)-1]), "deliver-max-ms")
	b.ReportMetric(msf(quantile(last, 0.5)), "last-p50-ms")
	b.ReportMetric(msf(quantile(last, 0.99)), "last-p99-ms")
	b.ReportMetric(msf(last[len(last)-1]), "last-max-ms")
	b.ReportMetric(msf(quantile(posts, 0.5)), "post-p50-ms")
}
