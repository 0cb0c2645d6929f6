package web_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/wache/wache/internal/harness"
	"github.com/wache/wache/web"
)

// TestBrowserAlarms runs web/tests/alarms.mjs against a real node serving
// the embedded app: two officers and the dispatcher in Chromium, the
// admin as the wache CLI (alarm policy). A long-press SOS in one browser
// takes over the other's screen, which answers "coming"; the raiser sees
// it; the dispatch view lists the alarm with its live position; a priority
// message is acknowledged and the sender's receipts show it.
//
// Same preconditions as TestBrowser (make web, web/node_modules,
// /usr/bin/chromium); skipped without them unless
// WACHE_TEST_BROWSER_REQUIRED=1.
func TestBrowserAlarms(t *testing.T) {
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
		t.Skipf("browser alarm tests skipped: %s (set WACHE_TEST_BROWSER_REQUIRED=1 to fail instead)", what)
	}
	_, err := os.Stat("/usr/bin/chromium")
	need(err == nil, "/usr/bin/chromium is missing (apt-get install chromium)")
	_, err = os.Stat("node_modules/playwright-core")
	need(err == nil, "web/node_modules is missing (npm ci --prefix web)")
	_, err = exec.LookPath("node")
	need(err == nil, "node is missing")
	need(web.Built(web.Files()), "the app is not built into web/dist (make web)")
	_, err = os.Stat("dist/wache.wasm")
	need(err == nil, "web/dist/wache.wasm is missing (make web)")

	work := t.TempDir()
	bin := filepath.Join(work, "wache")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/wache/wache/cmd/wache").CombinedOutput(); err != nil {
		t.Fatalf("build wache: %v\n%s", err, out)
	}
	n := harness.Start(t, harness.Options{})
	results, _ := filepath.Abs("test-results")
	if err := os.MkdirAll(results, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "tests/alarms.mjs")
	cmd.Env = append(os.Environ(),
		"WACHE_URL="+n.URL,
		"WACHE_MAIL_DIR="+filepath.Join(n.Data, "mail"),
		"WACHE_BIN="+bin,
		"WACHE_WORK="+work,
		"WACHE_RESULTS="+results,
	)
	cmd.Stdout = testWriter{t}
	cmd.Stderr = testWriter{t}
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		t.Fatalf("browser alarm tests failed: %v (screenshots and logs in %s)", err, results)
	}
}
