package web_test

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wache/wache/internal/harness"
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
	browserReady(t, "browser tests")
	work := t.TempDir()
	bin := buildCLI(t, work)

	n := harness.Start(t, harness.Options{})
	// The browsers reach the node through a TCP proxy the test can cut, so
	// "the server goes away" is a real loss of every connection.
	px := startProxy(t, strings.TrimPrefix(n.URL, "http://"))
	ctl := startControl(t, px)

	results := runScript(t, "run.mjs", 12*time.Minute,
		"WACHE_URL=http://"+px.addr(),
		"WACHE_MAIL_DIR="+filepath.Join(n.Data, "mail"),
		"WACHE_CONTROL="+ctl,
		"WACHE_BIN="+bin,
		"WACHE_WORK="+work,
	)
	if b, err := os.ReadFile(filepath.Join(results, "measurements.json")); err == nil {
		var m map[string]any
		if json.Unmarshal(b, &m) == nil {
			t.Logf("measurements: %s", b)
		}
	}
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
