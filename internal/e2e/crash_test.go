package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wache/wache/api"
	"github.com/wache/wache/client"
	"github.com/wache/wache/internal/harness"
)

var wacheBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wache-e2e-")
	if err != nil {
		panic(err)
	}
	wacheBin = filepath.Join(dir, "wache")
	out, err := exec.Command("go", "build", "-o", wacheBin, "github.com/wache/wache/cmd/wache").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build wache: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a `wache serve` subprocess.
type proc struct {
	cmd  *exec.Cmd
	url  string
	logs *os.File
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func startProc(t *testing.T, data, addr string, extra ...string) *proc {
	t.Helper()
	logs, err := os.OpenFile(filepath.Join(data, "server.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"serve", "--demo", "--data", data, "--addr", addr, "--auth-rate", "1000", "--log-level", "debug"}, extra...)
	cmd := exec.Command(wacheBin, args...)
	cmd.Stderr = logs
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, url: "http://" + addr, logs: logs}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		once := sync.Once{}
		for sc.Scan() {
			if strings.Contains(sc.Text(), "http://") {
				once.Do(func() { close(ready) })
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("server did not start")
	}
	t.Cleanup(func() { p.kill() })
	return p
}

func (p *proc) kill() {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
	}
	p.logs.Close()
}

func procLogin(t *testing.T, url, data, email string) *client.Client {
	t.Helper()
	ctx := context.Background()
	c, err := client.New(url, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.RequestCode(ctx, email); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Verify(ctx, email, harness.LatestCode(t, data, email), "crash test"); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCrashRecovery kills the server with SIGKILL while four clients send,
// restarts it on the same data, and checks that every envelope whose send
// was acknowledged is delivered, and none twice.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test starts subprocesses")
	}
	data := t.TempDir()
	addr := freeAddr(t)
	srv := startProc(t, data, addr)
	senders := []string{"anna.schmidt", "ben.mueller", "clara.wagner", "deniz.yilmaz"}
	clients := make([]*client.Client, len(senders))
	var emails []string
	for i, s := range senders {
		clients[i] = procLogin(t, srv.url, data, s+"@"+harness.Domain)
		emails = append(emails, s+"@"+harness.Domain)
	}
	reader := procLogin(t, srv.url, data, "leitstelle@"+harness.Domain)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	conv, err := reader.CreateConversation(ctx, api.CreateConversationRequest{Kind: "group", Name: "Einsatz", Members: emails})
	if err != nil {
		t.Fatal(err)
	}

	// A live receiver that reconnects through the crash.
	var live receiver
	liveIn, _ := client.OpenInbox(ctx, &client.MemState{})
	go reader.Listen(ctx, liveIn, client.ListenHandler{Envelope: live.handle})

	const perSender = 150
	var mu sync.Mutex
	acked := map[string]int64{} // client id → seq, for every acknowledged send
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < perSender; j++ {
				id := fmt.Sprintf("s%d-%04d", i, j)
				p := []byte(id)
				// Post retries through the outage with the same client id.
				res, err := c.Post(ctx, conv.ID, id, p)
				if err != nil {
					t.Errorf("send %s: %v", id, err)
					return
				}
				mu.Lock()
				acked[id] = res.Seq
				mu.Unlock()
			}
		}()
	}
	waitFor(t, "some sends before the crash", time.Minute, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) > 100
	})
	srv.kill() // SIGKILL: no shutdown, no flush
	mu.Lock()
	before := len(acked)
	mu.Unlock()
	time.Sleep(500 * time.Millisecond)
	srv = startProc(t, data, addr)
	wg.Wait()
	t.Logf("%d sends acknowledged before the crash, %d in all", before, len(acked))
	if len(acked) != len(senders)*perSender {
		t.Fatalf("%d sends acknowledged, want %d", len(acked), len(senders)*perSender)
	}

	// Everything acknowledged is stored once, with the sequence number the
	// sender was told.
	seen := map[string]int64{}
	var after int64
	for {
		envs, err := reader.Envelopes(ctx, conv.ID, after, 500)
		if err != nil {
			t.Fatal(err)
		}
		if len(envs) == 0 {
			break
		}
		for _, e := range envs {
			text := string(e.Payload)
			if _, dup := seen[text]; dup {
				t.Fatalf("%s stored twice", text)
			}
			seen[text] = e.Seq
			after = e.Seq
		}
	}
	for id, seq := range acked {
		if got, ok := seen[id]; !ok {
			t.Errorf("acknowledged %s (seq %d) is lost", id, seq)
		} else if got != seq {
			t.Errorf("%s stored as seq %d, sender was told %d", id, got, seq)
		}
	}
	// The live receiver got each exactly once across the crash.
	waitFor(t, "live receiver to catch up", time.Minute, func() bool { return live.count() >= len(acked) })
	time.Sleep(300 * time.Millisecond)
	live.mu.Lock()
	defer live.mu.Unlock()
	if len(live.texts) != len(acked) {
		t.Fatalf("live receiver got %d, want %d", len(live.texts), len(acked))
	}
	dup := map[string]bool{}
	for i, text := range live.texts {
		if dup[text] {
			t.Fatalf("live receiver got %s twice", text)
		}
		dup[text] = true
		if i > 0 && live.seqs[i] <= live.seqs[i-1] {
			t.Fatalf("live receiver: out of order at %d", i)
		}
	}
	resp, err := http.Get(srv.url + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz after restart: %v", err)
	}
}
