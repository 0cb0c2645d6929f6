package web_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/wache/wache/internal/harness"
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
	browserReady(t, "browser alarm tests")
	work := t.TempDir()
	bin := buildCLI(t, work)
	n := harness.Start(t, harness.Options{})
	runScript(t, "alarms.mjs", 10*time.Minute,
		"WACHE_URL="+n.URL,
		"WACHE_MAIL_DIR="+filepath.Join(n.Data, "mail"),
		"WACHE_BIN="+bin,
		"WACHE_WORK="+work,
	)
}
