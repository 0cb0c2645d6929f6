package server

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
)

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestStaticApp(t *testing.T) {
	wasm := bytes.Repeat([]byte("\x00asm wache "), 1000)
	fsys := fstest.MapFS{
		"index.html":             {Data: []byte("<!doctype html><title>Wache</title>")},
		"sw.js":                  {Data: []byte("self.x=1")},
		"manifest.webmanifest":   {Data: []byte("{}")},
		"wache.wasm":             {Data: wasm},
		"wache.wasm.gz":          {Data: gz(t, wasm)},
		"wasm_exec.js":           {Data: []byte("go")},
		"wasm_exec.js.gz":        {Data: gz(t, []byte("stale"))}, // must never be served
		"assets/index-AbC123.js": {Data: []byte("console.log(1)")},
	}
	h := staticHandler(fsys)
	type want struct {
		status   int
		ctype    string
		cache    string
		encoding string
		body     string // prefix
	}
	for _, tc := range []struct {
		name, method, path, accept string
		want                       want
	}{
		{"root", "GET", "/", "", want{200, "text/html; charset=utf-8", "no-cache", "", "<!doctype html>"}},
		{"client route", "GET", "/chats/123", "", want{200, "text/html; charset=utf-8", "no-cache", "", "<!doctype html>"}},
		{"hashed asset", "GET", "/assets/index-AbC123.js", "", want{200, "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", "", "console"}},
		{"service worker", "GET", "/sw.js", "gzip", want{200, "text/javascript; charset=utf-8", "no-cache", "", "self.x"}},
		{"manifest", "GET", "/manifest.webmanifest", "", want{200, "application/manifest+json", "no-cache", "", "{}"}},
		{"wasm plain", "GET", "/wache.wasm", "br", want{200, "application/wasm", "no-cache", "", "\x00asm"}},
		{"wasm gzip", "GET", "/wache.wasm", "gzip, deflate, br", want{200, "application/wasm", "no-cache", "gzip", "\x1f\x8b"}},
		{"wasm gzip refused", "GET", "/wache.wasm", "gzip;q=0", want{200, "application/wasm", "no-cache", "", "\x00asm"}},
		{"stale gz twin ignored", "GET", "/wasm_exec.js", "gzip", want{200, "text/javascript; charset=utf-8", "no-cache", "", "go"}},
		{"missing file", "GET", "/nothing.js", "", want{404, "", "no-store", "", ""}},
		{"traversal", "GET", "/../../etc/hosts.txt", "", want{404, "", "no-store", "", ""}},
		{"traversal to app", "GET", "/../sw.js", "", want{200, "text/javascript; charset=utf-8", "no-cache", "", "self.x"}},
		{"head", "HEAD", "/", "", want{200, "text/html; charset=utf-8", "no-cache", "", ""}},
		{"post", "POST", "/", "", want{405, "", "", "", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, "http://x"+tc.path, nil)
			if tc.accept != "" {
				req.Header.Set("Accept-Encoding", tc.accept)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			res := rec.Result()
			if res.StatusCode != tc.want.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.want.status)
			}
			if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self' 'wasm-unsafe-eval'") || strings.Contains(csp, "unsafe-eval'") && !strings.Contains(csp, "'wasm-unsafe-eval'") {
				t.Errorf("CSP %q", csp)
			}
			if tc.want.status != 200 {
				if tc.want.cache != "" && res.Header.Get("Cache-Control") != tc.want.cache {
					t.Errorf("Cache-Control %q", res.Header.Get("Cache-Control"))
				}
				return
			}
			if got := res.Header.Get("Content-Type"); got != tc.want.ctype {
				t.Errorf("Content-Type %q, want %q", got, tc.want.ctype)
			}
			if got := res.Header.Get("Cache-Control"); got != tc.want.cache {
				t.Errorf("Cache-Control %q, want %q", got, tc.want.cache)
			}
			if got := res.Header.Get("Content-Encoding"); got != tc.want.encoding {
				t.Errorf("Content-Encoding %q, want %q", got, tc.want.encoding)
			}
			body, _ := io.ReadAll(res.Body)
			if tc.method == "GET" && res.Header.Get("Content-Length") != strconv.Itoa(len(body)) {
				t.Errorf("Content-Length %q for %d bytes", res.Header.Get("Content-Length"), len(body))
			}
			if !bytes.HasPrefix(body, []byte(tc.want.body)) {
				t.Errorf("body %q", body[:min(len(body), 40)])
			}
		})
	}
}

func TestStaticRevalidation(t *testing.T) {
	h := staticHandler(fstest.MapFS{"index.html": {Data: []byte("<!doctype html>")}})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	etag := rec.Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("If-None-Match", etag)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified {
		t.Fatalf("status %d, want 304", rec.Code)
	}
}

func TestStaticNotBuilt(t *testing.T) {
	h := staticHandler(fstest.MapFS{"README.txt": {Data: []byte("x")}})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "make web") {
		t.Fatalf("status %d body %q", rec.Code, rec.Body.String())
	}
}
