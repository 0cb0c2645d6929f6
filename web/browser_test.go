package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wache/wache/internal/harness"
	"github.com/wache/wache/web"
)

// TestBrowser runs the Playwright tests of the browser app (web/tests/run.mjs)
// against a real node serving the embedded app: two officers in Chromium,
// the wache CLI as a third member of the same MLS group, and the bad cases
// (wrong code, revoked session, server gone, corrupted IndexedDB).
//
// It needs `make web` (the app built into web/dist before this test binary
// is compiled), web/node_modules and /usr/bin/chromium; without them it
// skips, unless WACHE_TEST_BROWSER_REQUIRED=1 (set by .ci/run).
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests are long; skipped with -short")
	}
	need := func(ok bool, what string) {
		if ok {
			return
		}
		if os.Getenv("WACHE_TEST_BROWSER_REQUIRED") == "1" {
			t.Fatalf("browser tests required but %s", what)
		}
		t.Skipf("browser tests skipped: %s (set WACHE_TEST_BROWSER_REQUIRED=1 to fail instead)", what)
	}
	_, err := os.Stat("/usr/bin/chromium")
	need(err == nil, "/usr/bin/chromium is missing (apt-get install chromium)")
	_, err = os.Stat("node_modules/playwright-core")
	need(err == nil, "web/node_modules is missing (npm ci --prefix web)")
	_, err = exec.LookPath("node")
	need(err == nil, "node is missing")
	files := web.Files()
	need(web.Built(files), "the app is not built into web/dist (make web)")
	_, err = os.Stat("dist/wache.wasm")
	need(err == nil, "web/dist/wache.wasm is missing (make web)")

	work := t.TempDir()
	bin := filepath.Join(work, "wache")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/wache/wache/cmd/wache").CombinedOutput(); err != nil {
		t.Fatalf("build wache: %v\n%s", err, out)
	}

	n := harness.Start(t, harness.Options{})
	// The browsers reach the node through a TCP proxy the test can cut, so
	// "the server goes away" is a real loss of every connection.
	px := startProxy(t, strings.TrimPrefix(n.URL, "http://"))
	ctl := startControl(t, px)

	results, _ := filepath.Abs("test-results")
	if err := os.MkdirAll(results, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "tests/run.mjs")
	cmd.Env = append(os.Environ(),
		"WACHE_URL=http://"+px.addr(),
		"WACHE_MAIL_DIR="+filepath.Join(n.Data, "mail"),
		"WACHE_CONTROL="+ctl,
		"WACHE_BIN="+bin,
		"WACHE_WORK="+work,
		"WACHE_RESULTS="+results,
	)
	cmd.Stdout = testWriter{t}
	cmd.Stderr = testWriter{t}
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		t.Fatalf("browser tests failed: %v (screenshots and logs in %s)", err, results)
	}
	if b, err := os.ReadFile(filepath.Join(results, "measurements.json")); err == nil {
		var m map[string]any
		if json.Unmarshal(b, &m) == nil {
			t.Logf("measurements: %s", b)
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// proxy forwards TCP connections to the node; down() closes every open
// connection and refuses new ones until up().
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down_  bool
	conns  map[net.Conn]struct{}
}

func startProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.down() })
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down_ {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c] = struct{}{}
		p.mu.Unlock()
		go p.pipe(c)
	}
}

func (p *proxy) pipe(c net.Conn) {
	defer p.forget(c)
	s, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[s] = struct{}{}
	p.mu.Unlock()
	defer p.forget(s)
	done := make(chan struct{}, 2)
	go func() { io.Copy(s, c); done <- struct{}{} }()
	go func() { io.Copy(c, s); done <- struct{}{} }()
	<-done
}

func (p *proxy) forget(c net.Conn) {
	c.Close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *proxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down_ = true
	for c := range p.conns {
		c.Close()
	}
}

func (p *proxy) up() {
	p.mu.Lock()
	p.down_ = false
	p.mu.Unlock()
}

// startControl serves /down and /up for the node script (loopback, test only).
func startControl(t *testing.T, px *proxy) string {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /down", func(w http.ResponseWriter, r *http.Request) { px.down() })
	mux.HandleFunc("POST /up", func(w http.ResponseWriter, r *http.Request) { px.up() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Log(err)
		}
	}()
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}
