package natsbroker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/wache/wache"
	"github.com/wache/wache/internal/broker"
	"github.com/wache/wache/internal/broker/brokertest"
)

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// namespace returns a namespace no other test (or test run) uses, so tests
// can share one external server.
func namespace(t testing.TB) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "wachetest." + hex.EncodeToString(b[:])
}

func embedded(t testing.TB, opts Options) *Broker {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := Embedded(ctx, opts)
	if err != nil {
		t.Fatalf("Embedded: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

var probe struct {
	once sync.Once
	url  string
	err  error
}

// externalURL returns the URL of the NATS server for tests, or skips. The
// server is probed once per test binary.
func externalURL(t testing.TB) string {
	t.Helper()
	probe.once.Do(func() {
		probe.url = os.Getenv("WACHE_TEST_NATS")
		if probe.url == "" {
			probe.url = "nats://127.0.0.1:4222"
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		b, err := Connect(ctx, probe.url, Options{Namespace: namespace(t), Logger: slog.New(slog.DiscardHandler)})
		if err == nil {
			b.Close()
		}
		probe.err = err
	})
	if probe.err != nil {
		if os.Getenv("WACHE_TEST_NATS_REQUIRED") == "1" {
			t.Fatalf("NATS at %s: %v (WACHE_TEST_NATS_REQUIRED=1)", probe.url, probe.err)
		}
		t.Skipf("no NATS server at %s (%v): set WACHE_TEST_NATS to its URL, or WACHE_TEST_NATS_REQUIRED=1 to fail instead", probe.url, probe.err)
	}
	return probe.url
}

func connect(t testing.TB, url string, opts Options) *Broker {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := Connect(ctx, url, opts)
	if err != nil {
		t.Fatalf("Connect(%s): %v", url, err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestEmbedded(t *testing.T) {
	brokertest.Run(t, func(t *testing.T) broker.Broker { return embedded(t, Options{}) })
}

func TestEmbeddedListensNowhere(t *testing.T) {
	b := embedded(t, Options{})
	if addr := b.srv.Addr(); addr != nil {
		t.Fatalf("embedded server listens on %v", addr)
	}
	if got := b.nc.MaxPayload(); got < 256<<10 {
		t.Fatalf("embedded server max payload %d, want at least 256 KiB", got)
	}
}

func TestExternal(t *testing.T) {
	url := externalURL(t)
	brokertest.Run(t, func(t *testing.T) broker.Broker {
		return connect(t, url, Options{Namespace: namespace(t)})
	})
}

// TestTwoNodes runs two brokers on one server, as two `wache serve` nodes.
func TestTwoNodes(t *testing.T) {
	url := externalURL(t)
	ns := namespace(t)
	n1 := connect(t, url, Options{Namespace: ns, Name: "node1"})
	n2 := connect(t, url, Options{Namespace: ns, Name: "node2"})
	r1, r2 := brokertest.NewRecorder(), brokertest.NewRecorder()
	brokertest.Subscribe(t, n1, "conv.*", r1.Handler)
	brokertest.Subscribe(t, n2, "conv.>", r2.Handler)

	for i := range 100 {
		brokertest.Publish(t, n1, "conv.a", fmt.Sprint("from1-", i))
		brokertest.Publish(t, n2, "conv.b", fmt.Sprint("from2-", i))
	}
	brokertest.Publish(t, n1, "conv.a", "end1")
	brokertest.Publish(t, n2, "conv.b", "end2")
	for name, r := range map[string]*brokertest.Recorder{"node1": r1, "node2": r2} {
		r.WaitData(t, "end1")
		r.WaitData(t, "end2")
		// Each message once; each node's messages in the order it sent them.
		var got1, got2 []string
		for _, m := range r.Msgs() {
			switch m.Subject {
			case "conv.a":
				got1 = append(got1, m.Data)
			case "conv.b":
				got2 = append(got2, m.Data)
			default:
				t.Fatalf("%s: unexpected subject %q", name, m.Subject)
			}
		}
		for node, got := range [][]string{got1, got2} {
			want := make([]string, 0, 101)
			for i := range 100 {
				want = append(want, fmt.Sprintf("from%d-%d", node+1, i))
			}
			want = append(want, fmt.Sprintf("end%d", node+1))
			if !slices.Equal(got, want) {
				t.Fatalf("%s received %d messages from node%d, want %d in order", name, len(got), node+1, len(want))
			}
		}
	}

	// A subscription is known cluster-wide when Subscribe returns: the
	// other node's very next publish reaches it.
	for i := range 20 {
		r := brokertest.NewRecorder()
		s := brokertest.Subscribe(t, n1, "late.x", r.Handler)
		brokertest.Publish(t, n2, "late.x", "first")
		r.WaitData(t, "first")
		if err := s.Unsubscribe(); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
	}
}

// TestNamespaces shows that deployments sharing a server do not see each
// other's messages.
func TestNamespaces(t *testing.T) {
	url := externalURL(t)
	a := connect(t, url, Options{Namespace: namespace(t)})
	b := connect(t, url, Options{Namespace: namespace(t)})
	ra, rb := brokertest.NewRecorder(), brokertest.NewRecorder()
	brokertest.Subscribe(t, a, ">", ra.Handler)
	brokertest.Subscribe(t, b, ">", rb.Handler)
	brokertest.Publish(t, a, "x", "for-a")
	brokertest.Publish(t, b, "x", "for-b")
	brokertest.Publish(t, b, "x", "end")
	if got := rb.WaitData(t, "end"); !slices.Equal(got, []string{"for-b", "end"}) {
		t.Fatalf("namespace b received %q", got)
	}
	// a's own message came before anything from b could have.
	if got := ra.WaitData(t, "for-a"); !slices.Equal(got, []string{"for-a"}) {
		t.Fatalf("namespace a received %q", got)
	}
	brokertest.Publish(t, a, "x", "end-a")
	if got := ra.WaitData(t, "end-a"); !slices.Equal(got, []string{"for-a", "end-a"}) {
		t.Fatalf("namespace a received %q", got)
	}
}

func TestBadOptions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, ns := range []string{"a.*", "a..b", ">", "a b", string(make([]byte, 65))} {
		if _, err := Embedded(ctx, Options{Namespace: ns}); wache.ErrorCode(err) != wache.EINVALID {
			t.Errorf("Embedded with namespace %q: %v, want %s", ns, err, wache.EINVALID)
		}
	}
	for _, u := range []string{"", ",", "nats://a:1,,nats://b:2", "http://127.0.0.1:4222", "nats://", "nats://user:secret@%zz"} {
		_, err := Connect(ctx, u, Options{})
		if wache.ErrorCode(err) != wache.EINVALID {
			t.Errorf("Connect(%q): %v, want %s", u, err, wache.EINVALID)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("Connect(%q): error shows the password: %v", u, err)
		}
	}
}

func TestConnectUnreachable(t *testing.T) {
	srv := startServer(t, -1)
	addr := srv.Addr().String()
	srv.Shutdown()
	srv.WaitForShutdown()

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := Connect(ctx, "nats://user:secret@"+addr, Options{Logger: testLogger(t)})
	if wache.ErrorCode(err) != wache.EUNAVAILABLE {
		t.Fatalf("Connect to a closed port: %v, want %s", err, wache.EUNAVAILABLE)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Fatalf("error shows the password: %v", err)
	}
	if !strings.Contains(err.Error(), "last error: ") {
		t.Fatalf("error does not say why: %v", err)
	}
}

// startServer starts a NATS server on 127.0.0.1 (port -1: any free port).
func startServer(t testing.TB, port int) *server.Server {
	t.Helper()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("test NATS server did not start")
	}
	t.Cleanup(srv.Shutdown)
	return srv
}

// TestReconnect restarts the server under two connected nodes: both
// reconnect on their own and their subscriptions work again.
func TestReconnect(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts a NATS server")
	}
	srv := startServer(t, -1)
	port := srv.Addr().(*net.TCPAddr).Port
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	n1 := connect(t, url, Options{Name: "node1"})
	n2 := connect(t, url, Options{Name: "node2"})
	r := brokertest.NewRecorder()
	brokertest.Subscribe(t, n1, "re.x", r.Handler)
	brokertest.Publish(t, n2, "re.x", "before")
	r.WaitData(t, "before")

	srv.Shutdown()
	srv.WaitForShutdown()
	startServer(t, port)
	brokertest.Eventually(t, "both nodes to reconnect", func() bool {
		return n1.nc.IsConnected() && n2.nc.IsConnected()
	})
	// The subscription was re-sent on reconnect; n2's publish may race with
	// it, so publish until one arrives (the broker is a hint path).
	brokertest.Eventually(t, "a message across the restarted server", func() bool {
		brokertest.Publish(t, n2, "re.x", "after")
		time.Sleep(5 * time.Millisecond)
		return slices.Contains(r.Data(), "after")
	})
}

// TestOneInterestPerPattern: local subscriptions of one pattern share one
// NATS subscription, which goes when the last of them does.
func TestOneInterestPerPattern(t *testing.T) {
	b := embedded(t, Options{})
	r1, r2, r3 := brokertest.NewRecorder(), brokertest.NewRecorder(), brokertest.NewRecorder()
	s1 := brokertest.Subscribe(t, b, "g.*", r1.Handler)
	s2 := brokertest.Subscribe(t, b, "g.*", r2.Handler)
	s3 := brokertest.Subscribe(t, b, "g.>", r3.Handler)
	if n := b.nc.NumSubscriptions(); n != 2 {
		t.Fatalf("%d NATS subscriptions for 2 patterns", n)
	}
	brokertest.Publish(t, b, "g.x", "1")
	for _, r := range []*brokertest.Recorder{r1, r2, r3} {
		if got := r.WaitData(t, "1"); !slices.Equal(got, []string{"1"}) {
			t.Fatalf("got %q", got)
		}
	}
	if err := s1.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	brokertest.Publish(t, b, "g.x", "2")
	if got := r2.WaitData(t, "2"); !slices.Equal(got, []string{"1", "2"}) {
		t.Fatalf("remaining subscriber of the pattern got %q", got)
	}
	r3.WaitData(t, "2")
	if got := r1.Data(); !slices.Equal(got, []string{"1"}) {
		t.Fatalf("unsubscribed got %q", got)
	}
	if err := s2.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if n := b.nc.NumSubscriptions(); n != 1 {
		t.Fatalf("%d NATS subscriptions after the last g.* left, want 1", n)
	}
	if err := s3.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	if n := b.nc.NumSubscriptions(); n != 0 || len(b.groups) != 0 || len(b.bySub) != 0 {
		t.Fatalf("after every subscription left: %d NATS subscriptions, %d groups, %d routes", n, len(b.groups), len(b.bySub))
	}
}

// TestInboxOverflow: when the router falls behind, NATS drops at the inbox,
// and each drop counts once for every subscription that missed it.
func TestInboxOverflow(t *testing.T) {
	const n = 10
	b := embedded(t, Options{inbox: 2})
	r1, r2 := brokertest.NewRecorder(), brokertest.NewRecorder()
	brokertest.Subscribe(t, b, "d.x", r1.Handler)
	brokertest.Subscribe(t, b, "d.x", r2.Handler)
	b.mu.Lock() // stalls the router at its first message
	for i := range n {
		brokertest.Publish(t, b, "d.x", fmt.Sprint(i))
	}
	// The server answers the flush after it sent us every message, so all
	// of them have been queued or dropped when Flush returns.
	err := b.nc.Flush()
	b.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	brokertest.Eventually(t, "delivered + dropped to add up", func() bool {
		return len(r1.Msgs())+len(r2.Msgs())+int(b.Dropped()) == 2*n
	})
	// At most the router's message and two in the inbox got through.
	if d := b.Dropped(); d < 2*(n-3) {
		t.Fatalf("dropped %d, want at least %d", d, 2*(n-3))
	}
	if !slices.Equal(r1.Data(), r2.Data()) {
		t.Fatalf("subscribers of one pattern got different messages: %q, %q", r1.Data(), r2.Data())
	}
	if got := r1.Data(); len(got) == 0 || got[0] != "0" {
		t.Fatalf("got %q, want the first message to arrive", got)
	}
}
