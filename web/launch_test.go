package web_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wache/wache/web"
)

// needFor returns the precondition check of a browser test: it skips the
// test when something is missing, or fails it when
// WACHE_TEST_BROWSER_REQUIRED=1 (set by .ci/run).
func needFor(t *testing.T, name string) func(ok bool, what string) {
	return func(ok bool, what string) {
		t.Helper()
		if ok {
			return
		}
		if os.Getenv("WACHE_TEST_BROWSER_REQUIRED") == "1" {
			t.Fatalf("%s required but %s", name, what)
		}
		t.Skipf("%s skipped: %s (set WACHE_TEST_BROWSER_REQUIRED=1 to fail instead)", name, what)
	}
}

// browserReady checks what every browser test needs: not -short, Debian's
// Chromium, playwright-core in web/node_modules, node, and the app built
// into web/dist (make web). It returns the check for further needs.
func browserReady(t *testing.T, name string) func(ok bool, what string) {
	t.Helper()
	if testing.Short() {
		t.Skip("browser tests are long; skipped with -short")
	}
	need := needFor(t, name)
	_, err := os.Stat("/usr/bin/chromium")
	need(err == nil, "/usr/bin/chromium is missing (apt-get install chromium)")
	_, err = os.Stat("node_modules/playwright-core")
	need(err == nil, "web/node_modules is missing (npm ci --prefix web)")
	_, err = exec.LookPath("node")
	need(err == nil, "node is missing")
	need(web.Built(web.Files()), "the app is not built into web/dist (make web)")
	_, err = os.Stat("dist/wache.wasm")
	need(err == nil, "web/dist/wache.wasm is missing (make web)")
	return need
}

// buildCLI builds the wache command into dir (scripts use it as a member
// or an administrator).
func buildCLI(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "wache")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/wache/wache/cmd/wache").CombinedOutput(); err != nil {
		t.Fatalf("build wache: %v\n%s", err, out)
	}
	return bin
}

// runScript runs node web/tests/<script> with env added (and
// WACHE_RESULTS, web/test-results, for screenshots and logs), its output in
// the test log, and fails the test if the script fails. It returns the
// results directory.
func runScript(t *testing.T, script string, timeout time.Duration, env ...string) string {
	t.Helper()
	results, _ := filepath.Abs("test-results")
	if err := os.MkdirAll(results, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join("tests", script))
	cmd.Env = append(append(os.Environ(), env...), "WACHE_RESULTS="+results)
	cmd.Stdout = testWriter{t}
	cmd.Stderr = testWriter{t}
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s failed: %v (screenshots and logs in %s)", script, err, results)
	}
	return results
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
