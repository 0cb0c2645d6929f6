// Package load is Wache's load generator (the library behind
// bench/cmd/wacheload): it enrols devices through the real login flow,
// puts them into group conversations, keeps every device connected over
// WebSocket, sends stamped payloads at a given rate and measures
// send-to-acknowledgement and send-to-receipt latency. It talks to a
// server on loopback only: either one it starts in-process or a running
// `wache serve`.
package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
	"github.com/wache/wache/client"
	"github.com/wache/wache/internal/accounts"
	"github.com/wache/wache/internal/app"
	"github.com/wache/wache/internal/convs"
)

// Limits of one run.
const (
	MaxDevices  = 20000
	MaxDuration = 24 * time.Hour
)

// Config describes one load run.
type Config struct {
	Server  string // base URL of a running server; "" starts one in-process
	DataDir string // the server's data directory (login codes in DataDir/mail); in-process: "" = temporary
	DB      string // in-process only: postgres://… or "" for SQLite
	Broker  string // in-process only: inproc (default), nats-embedded
	Domain  string // service email domain of the load users
	Prefix  string // load users are <Prefix>-00000@<Domain>, …
	Tokens  string // optional file caching enrolled devices between runs

	Devices  int           // devices, one user each; all listen over WebSocket
	Senders  int           // the first Senders devices also send
	Convs    int           // group conversations; device i is in conversation i mod Convs
	Rate     float64       // envelopes per second over all senders; 0 = as fast as acks return
	Duration time.Duration // sending time
	Size     int           // payload bytes
	Drain    time.Duration // after sending, how long to wait for outstanding deliveries

	Progress io.Writer    // a line per second and notes; nil = silent
	Log      *slog.Logger // in-process server log; nil = discarded
}

// Validate checks the configuration and fills in defaults.
func (c *Config) Validate() error {
	if c.Domain == "" {
		c.Domain = accounts.DemoDomain
	}
	if c.Prefix == "" {
		c.Prefix = "load"
	}
	if c.Convs == 0 {
		c.Convs = 1
	}
	if c.Drain == 0 {
		c.Drain = 10 * time.Second
	}
	switch {
	case c.Devices < 1 || c.Devices > MaxDevices:
		return fmt.Errorf("--devices must be 1..%d", MaxDevices)
	case c.Senders < 1 || c.Senders > c.Devices:
		return fmt.Errorf("--senders must be 1..devices (%d)", c.Devices)
	case c.Convs < 1 || c.Convs > c.Devices:
		return fmt.Errorf("--convs must be 1..devices (%d)", c.Devices)
	case c.Rate < 0 || c.Rate > 1e6:
		return fmt.Errorf("--rate must be 0 (unpaced) .. 1000000 envelopes/s")
	case c.Duration <= 0 || c.Duration > MaxDuration:
		return fmt.Errorf("--duration must be > 0 and at most %v", MaxDuration)
	case c.Size < StampSize || c.Size > wache.MaxPayload:
		return fmt.Errorf("--size must be %d..%d bytes", StampSize, wache.MaxPayload)
	case c.Drain < 0 || c.Drain > 10*time.Minute:
		return fmt.Errorf("--drain must be 0..10m")
	case len(c.Prefix) > 40 || strings.Trim(strings.ToLower(c.Prefix), "abcdefghijklmnopqrstuvwxyz0123456789-") != "":
		return fmt.Errorf("--prefix must be up to 40 characters of a-z 0-9 -")
	case c.Server == "" && c.Tokens != "" && c.DataDir == "":
		return fmt.Errorf("--tokens needs a server that outlives the run: --server, or --data for the in-process one")
	case c.Server != "" && c.DataDir == "":
		return fmt.Errorf("--data (the server's data directory, where login codes are mailed to) is required with --server")
	case c.Server != "" && (c.DB != "" || c.Broker != ""):
		return fmt.Errorf("--db and --broker configure the in-process server; leave them out with --server")
	}
	if _, _, err := accounts.NormalizeEmail(Email(c.Prefix, c.Domain, 0)); err != nil {
		return fmt.Errorf("--domain: %w", err)
	}
	return nil
}

func (c *Config) logf(format string, args ...any) {
	if c.Progress != nil {
		fmt.Fprintf(c.Progress, "# "+format+"\n", args...)
	}
}

// checkLoopback refuses servers that are not on this machine: a load
// generator must never be pointed at someone else's service by mistake.
func checkLoopback(ctx context.Context, server string) error {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return fmt.Errorf("--server must be an http(s) URL such as http://127.0.0.1:8080")
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); ip != nil {
		if !ip.IsLoopback() {
			return fmt.Errorf("--server %s is not a loopback address; wacheload only loads this machine", host)
		}
		return nil
	}
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", host, err)
	}
	for _, ip := range ips {
		if !ip.IP.IsLoopback() {
			return fmt.Errorf("--server %s resolves to %s, not loopback; wacheload only loads this machine", host, ip.IP)
		}
	}
	return nil
}

// TuneDefaultTransport lets the process keep n idle connections per host.
// client.New uses http.DefaultTransport, which keeps 2: with more
// concurrent senders every other request would open a new TCP connection.
func TuneDefaultTransport(n int) {
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		t.MaxIdleConnsPerHost = max(t.MaxIdleConnsPerHost, n)
		t.MaxIdleConns = max(t.MaxIdleConns, n)
	}
}

// local is a server started in this process.
type local struct {
	url, data string
	app       *app.App
	hs        *http.Server
	tmp       string
}

func startLocal(ctx context.Context, c *Config) (*local, error) {
	l := &local{data: c.DataDir}
	if l.data == "" {
		dir, err := os.MkdirTemp("", "wacheload-*")
		if err != nil {
			return nil, err
		}
		l.tmp, l.data = dir, dir
	}
	log := c.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	a, err := app.New(ctx, app.Config{DataDir: l.data, DB: c.DB, Demo: true, Broker: c.Broker, AuthRate: 1e6, Log: log})
	if err != nil {
		l.stop()
		return nil, fmt.Errorf("start in-process server: %w", err)
	}
	l.app = a
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		l.stop()
		return nil, err
	}
	l.hs = &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go l.hs.Serve(ln)
	l.url = "http://" + ln.Addr().String()
	return l, nil
}

func (l *local) stop() {
	if l.app != nil {
		l.app.EndSessions()
	}
	if l.hs != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = l.hs.Shutdown(ctx)
		cancel()
	}
	if l.app != nil {
		_ = l.app.Close()
	}
	if l.tmp != "" {
		_ = os.RemoveAll(l.tmp)
	}
}

// Summary is the outcome of a run.
type Summary struct {
	Server                  string
	Devices, Senders, Convs int
	Elapsed                 time.Duration // sending phase
	Sent, Acked, Failed     int64
	Errors                  map[string]int64 // failed posts by error code
	Behind                  int64            // sends started over one interval late (rate too high)
	Delivered, Expected     int64            // device receipts of this run's envelopes
	Reconnects              int64
	Post, E2E               Snapshot // send→ack, send→receipt
}

// Write prints the summary.
func (s *Summary) Write(w io.Writer) {
	secs := s.Elapsed.Seconds()
	fmt.Fprintf(w, "server %s: %d devices, %d senders, %d conversations, %.1fs sending\n", s.Server, s.Devices, s.Senders, s.Convs, secs)
	fmt.Fprintf(w, "sent %d, acknowledged %d (%.0f/s), failed %d", s.Sent, s.Acked, float64(s.Acked)/secs, s.Failed)
	if len(s.Errors) > 0 {
		var codes []string
		for c, n := range s.Errors {
			codes = append(codes, fmt.Sprintf("%s=%d", c, n))
		}
		sort.Strings(codes)
		fmt.Fprintf(w, " (%s)", strings.Join(codes, " "))
	}
	if s.Behind > 0 {
		fmt.Fprintf(w, ", %d sends behind schedule", s.Behind)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "delivered %d of %d expected (%.0f/s), missing %d, reconnects %d\n",
		s.Delivered, s.Expected, float64(s.Delivered)/secs, max(0, s.Expected-s.Delivered), s.Reconnects)
	fmt.Fprintf(w, "send→ack     p50 %v  p99 %v  max %v\n", ms(s.Post.Quantile(0.5)), ms(s.Post.Quantile(0.99)), ms(s.Post.Max))
	fmt.Fprintf(w, "send→receive p50 %v  p99 %v  max %v\n", ms(s.E2E.Quantile(0.5)), ms(s.E2E.Quantile(0.99)), ms(s.E2E.Max))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

// Run performs one load run and returns its summary. It raises the
// process's open-file limit and the idle connections of
// http.DefaultTransport as the run needs.
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// Each device holds a WebSocket; in-process, the server side holds
	// another. Senders add pooled HTTP connections.
	need := uint64(cfg.Devices + cfg.Senders + 256)
	if cfg.Server == "" {
		need *= 2
	}
	if err := RaiseFileLimit(need); err != nil {
		return nil, err
	}
	TuneDefaultTransport(cfg.Senders + 16)
	server, dataDir := cfg.Server, cfg.DataDir
	if server == "" {
		l, err := startLocal(ctx, &cfg)
		if err != nil {
			return nil, err
		}
		defer l.stop()
		server, dataDir = l.url, l.data
		cfg.logf("in-process server at %s (data %s)", server, dataDir)
	} else if err := checkLoopback(ctx, server); err != nil {
		return nil, err
	}
	devs, err := enrol(ctx, &cfg, server, dataDir)
	if err != nil {
		return nil, err
	}
	r := &run{cfg: cfg, server: server, devs: devs, start: time.Now()}
	return r.do(ctx)
}

type run struct {
	cfg    Config
	server string
	devs   []device
	start  time.Time // stamps before this belong to earlier runs

	convIDs []string
	convOf  map[string]int // conversation id → index
	size    []int64        // devices per conversation

	sent, acked, failed, behind, delivered, reconnects atomic.Int64
	ackedBy                                            []atomic.Int64 // per conversation
	post, e2e                                          Hist
	errMu                                              sync.Mutex
	errs                                               map[string]int64
	online                                             atomic.Int64
}

func (r *run) do(ctx context.Context) (*Summary, error) {
	cfg := &r.cfg
	if err := r.createConvs(ctx); err != nil {
		return nil, err
	}
	lctx, stopListen := context.WithCancel(ctx)
	defer stopListen()
	var lwg sync.WaitGroup
	defer lwg.Wait()
	if err := r.listen(lctx, &lwg); err != nil {
		return nil, err
	}

	cfg.logf("sending for %v: %d senders, rate %s, %d-byte payloads", cfg.Duration, cfg.Senders, rateText(cfg.Rate), cfg.Size)
	sctx, stopSend := context.WithTimeout(ctx, cfg.Duration)
	defer stopSend()
	var swg sync.WaitGroup
	sendStart := time.Now()
	for j := 0; j < cfg.Senders; j++ {
		swg.Add(1)
		go func() {
			defer swg.Done()
			r.send(sctx, j)
		}()
	}
	sendDone := make(chan struct{})
	go func() { swg.Wait(); close(sendDone) }()

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var prev progress
	prev.at = sendStart
	draining := false
	var drainEnd time.Time
	var elapsed time.Duration
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-sendDone:
			if !draining {
				draining, sendDone = true, nil
				elapsed = time.Since(sendStart)
				drainEnd = time.Now().Add(cfg.Drain)
				cfg.logf("sending done; waiting up to %v for outstanding deliveries", cfg.Drain)
			}
		case <-tick.C:
			prev = r.progress(prev)
		}
		if draining && (r.delivered.Load() >= r.expected() || time.Now().After(drainEnd)) {
			break
		}
		if draining { // poll the drain quickly rather than once a second
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	stopListen()
	lwg.Wait()
	s := &Summary{Server: r.server, Devices: cfg.Devices, Senders: cfg.Senders, Convs: cfg.Convs, Elapsed: elapsed,
		Sent: r.sent.Load(), Acked: r.acked.Load(), Failed: r.failed.Load(), Behind: r.behind.Load(),
		Delivered: r.delivered.Load(), Expected: r.expected(), Reconnects: r.reconnects.Load(),
		Post: r.post.Snapshot(), E2E: r.e2e.Snapshot(), Errors: r.errs}
	return s, nil
}

func rateText(r float64) string {
	if r == 0 {
		return "unpaced"
	}
	return fmt.Sprintf("%.0f/s", r)
}

func (r *run) expected() int64 {
	var n int64
	for k := range r.ackedBy {
		n += r.ackedBy[k].Load() * r.size[k]
	}
	return n
}

// createConvs makes one group per conversation index, created by its first
// device with the others as members.
func (r *run) createConvs(ctx context.Context) error {
	cfg := &r.cfg
	r.convIDs = make([]string, cfg.Convs)
	r.convOf = map[string]int{}
	r.size = make([]int64, cfg.Convs)
	r.ackedBy = make([]atomic.Int64, cfg.Convs)
	for k := 0; k < cfg.Convs; k++ {
		var emails []string
		for i := k + cfg.Convs; i < cfg.Devices; i += cfg.Convs {
			emails = append(emails, r.devs[i].Email)
		}
		r.size[k] = int64(len(emails) + 1)
		c, err := client.New(r.server, r.devs[k].Token)
		if err != nil {
			return err
		}
		first := emails[:min(len(emails), convs.MaxInitialMembers)]
		conv, err := c.CreateConversation(ctx, api.CreateConversationRequest{Kind: "group",
			Name: fmt.Sprintf("wacheload %s #%d", r.start.Format("15:04:05"), k), Members: first})
		if err != nil {
			return fmt.Errorf("create conversation: %w", err)
		}
		for _, e := range emails[len(first):] {
			if err := c.AddMember(ctx, conv.ID, e, ""); err != nil {
				return fmt.Errorf("add member: %w", err)
			}
		}
		r.convIDs[k] = conv.ID
		r.convOf[conv.ID] = k
	}
	return nil
}

// listen connects every device and waits until each has its backlog.
func (r *run) listen(ctx context.Context, wg *sync.WaitGroup) error {
	cfg := &r.cfg
	start := time.Now()
	synced := make(chan struct{}, cfg.Devices)
	failed := make(chan error, cfg.Devices)
	// Dial a few at a time: a thousand simultaneous upgrades only queue.
	gate := make(chan struct{}, 32)
	for i := range r.devs {
		c, err := client.New(r.server, r.devs[i].Token)
		if err != nil {
			return err
		}
		in, err := client.OpenInbox(ctx, &client.MemState{})
		if err != nil {
			return err
		}
		var once, ponce sync.Once
		wg.Add(1)
		go func() {
			defer wg.Done()
			gate <- struct{}{}
			released := false
			release := func() {
				if !released {
					released = true
					<-gate
				}
			}
			defer ponce.Do(release)
			err := c.Listen(ctx, in, client.ListenHandler{
				Envelope: r.receive,
				Connected: func() {
					r.online.Add(1)
					ponce.Do(release)
				},
				Synced: func() { once.Do(func() { synced <- struct{}{} }) },
				Disconnect: func(error) {
					r.online.Add(-1)
					r.reconnects.Add(1)
				},
			})
			if err != nil && ctx.Err() == nil {
				failed <- fmt.Errorf("device %s stopped listening: %w", r.devs[i].Email, err)
			}
		}()
	}
	timeout := time.NewTimer(time.Minute + time.Duration(cfg.Devices)*20*time.Millisecond)
	defer timeout.Stop()
	for n := 0; n < cfg.Devices; n++ {
		select {
		case <-synced:
		case err := <-failed:
			return err
		case <-timeout.C:
			return fmt.Errorf("only %d of %d devices connected and synced in time", n, cfg.Devices)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	cfg.logf("%d devices connected and synced in %v", cfg.Devices, time.Since(start).Round(time.Millisecond))
	return nil
}

// receive is every device's envelope handler.
func (r *run) receive(_ context.Context, env api.Envelope) error {
	now := time.Now()
	if _, ok := r.convOf[env.ConvID]; !ok {
		return nil // another run's conversation
	}
	t, ok := ReadStamp(env.Payload)
	if !ok || t.Before(r.start) {
		return nil
	}
	r.delivered.Add(1)
	r.e2e.Record(now.Sub(t))
	return nil
}

// send is sender j's loop: post, record, pace.
func (r *run) send(ctx context.Context, j int) {
	cfg := &r.cfg
	k := j % cfg.Convs
	c, err := client.New(r.server, r.devs[j].Token)
	if err != nil {
		return
	}
	payload := NewPayload(cfg.Size)
	var interval time.Duration
	next := time.Now()
	if cfg.Rate > 0 {
		interval = time.Duration(float64(cfg.Senders) / cfg.Rate * float64(time.Second))
		next = next.Add(interval * time.Duration(j) / time.Duration(cfg.Senders)) // spread the senders
	}
	for ctx.Err() == nil {
		if interval > 0 {
			wait := time.Until(next)
			if wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
			} else if -wait > interval {
				r.behind.Add(1)
			}
			next = next.Add(interval)
			if time.Since(next) > time.Second { // far behind: do not burst to catch up
				next = time.Now()
			}
		}
		t0 := time.Now()
		Stamp(payload, t0)
		r.sent.Add(1)
		// The post is not cut short by the end of the sending time: an
		// envelope that is sent gets its answer.
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		_, err := c.PostOnce(pctx, r.convIDs[k], api.PostEnvelopeRequest{ClientID: client.NewClientID(), Payload: payload})
		cancel()
		if err != nil {
			r.failed.Add(1)
			code := wache.ErrorCode(err)
			if errors.Is(err, context.DeadlineExceeded) {
				code = "timeout"
			}
			r.errMu.Lock()
			if r.errs == nil {
				r.errs = map[string]int64{}
			}
			r.errs[code]++
			r.errMu.Unlock()
			continue
		}
		r.post.Record(time.Since(t0))
		r.acked.Add(1)
		r.ackedBy[k].Add(1)
	}
}

type progress struct {
	at                     time.Time
	sent, acked, delivered int64
	failed                 int64
	post, e2e              Snapshot
}

// progress prints one line about the last interval.
func (r *run) progress(prev progress) progress {
	now := progress{at: time.Now(), sent: r.sent.Load(), acked: r.acked.Load(), delivered: r.delivered.Load(),
		failed: r.failed.Load(), post: r.post.Snapshot(), e2e: r.e2e.Snapshot()}
	if r.cfg.Progress == nil {
		return now
	}
	secs := now.at.Sub(prev.at).Seconds()
	p, e := now.post.Sub(prev.post), now.e2e.Sub(prev.e2e)
	fmt.Fprintf(r.cfg.Progress, "%6.0fs  sent %6.0f/s  acked %6.0f/s  delivered %8.0f/s  send→ack p50 %8s p99 %8s  send→receive p50 %8s p99 %8s  failed %d  online %d/%d\n",
		now.at.Sub(r.start).Seconds(), float64(now.sent-prev.sent)/secs, float64(now.acked-prev.acked)/secs,
		float64(now.delivered-prev.delivered)/secs, ms(p.Quantile(0.5)), ms(p.Quantile(0.99)),
		ms(e.Quantile(0.5)), ms(e.Quantile(0.99)), now.failed, r.online.Load(), r.cfg.Devices)
	return now
}
