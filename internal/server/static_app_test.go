package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/wache/wache/internal/harness"
)

// TestAppServedByNode: a real node serves the embedded app (or, in a build
// without `make web`, the page saying how to build it) with the app's CSP,
// while the API keeps its own.
func TestAppServedByNode(t *testing.T) {
	n := harness.Start(t, harness.Options{})
	resp, err := http.Get(n.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		if !strings.Contains(string(body), "<") || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
			t.Fatalf("index: %s %q", resp.Header.Get("Content-Type"), body)
		}
	case http.StatusServiceUnavailable:
		if !strings.Contains(string(body), "make web") {
			t.Fatalf("not-built page: %q", body)
		}
	default:
		t.Fatalf("GET /: %d", resp.StatusCode)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "'wasm-unsafe-eval'") || strings.Contains(csp, "'unsafe-eval'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("app CSP %q", csp)
	}
	if resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatal("security headers missing on the app")
	}
	// The API is not shadowed by the app.
	resp, err = http.Get(n.URL + "/api/v1/nothing")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Security-Policy") != "default-src 'none'; frame-ancestors 'none'" {
		t.Fatalf("API: %d %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
}
