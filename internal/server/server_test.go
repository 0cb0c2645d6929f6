package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wache/wache/api"
	"github.com/wache/wache/internal/harness"
)

// FuzzAPIBodies sends arbitrary bodies to the write endpoints with a valid
// token: the answer is always a clear 2xx or 4xx, never a 5xx or a panic.
func FuzzAPIBodies(f *testing.F) {
	n := harness.Start(f, harness.Options{})
	c, _ := n.Device(f, "anna@"+harness.Domain)
	cv, err := c.CreateConversation(context.Background(), api.CreateConversationRequest{Kind: "group", Name: "f", Members: nil})
	if err != nil {
		f.Fatal(err)
	}
	_, tok := deviceToken(f, n)
	h := n.App.Handler()
	paths := []string{"/api/v1/conversations/" + cv.ID + "/envelopes", "/api/v1/conversations/" + cv.ID + "/ack",
		"/api/v1/conversations", "/api/v1/conversations/" + cv.ID + "/members", "/api/v1/auth/verify"}
	for i, seed := range []string{`{"client_id":"a","payload":"eA=="}`, `{"seq":1}`, `{"kind":"group","name":"x","members":[]}`,
		`{"email":"x@polizei.example"}`, `{"email":"a@polizei.example","code":"123456"}`, `{`, `null`, `[]`, `{"payload":null}`} {
		f.Add(uint8(i), []byte(seed))
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		req := httptest.NewRequest("POST", paths[int(which)%len(paths)], strings.NewReader(string(body)))
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body.String())
		}
	})
}

// deviceToken enrols a member device and returns its token.
func deviceToken(f *testing.F, n *harness.Node) (string, string) {
	_, p := n.Login(f, "anna@"+harness.Domain)
	return p.DeviceID, p.Token
}

func TestSecurityHeaders(t *testing.T) {
	n := harness.Start(t, harness.Options{})
	for _, path := range []string{"/healthz", "/api/v1/me", "/api/v1/nothing"} {
		resp, err := http.Get(n.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for k, want := range map[string]string{
			"X-Content-Type-Options":  "nosniff",
			"X-Frame-Options":         "DENY",
			"Cache-Control":           "no-store",
			"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
			"Content-Type":            "application/json; charset=utf-8",
		} {
			if got := resp.Header.Get(k); got != want {
				t.Errorf("%s: %s = %q, want %q", path, k, got, want)
			}
		}
	}
}

func TestMetricsAndHealth(t *testing.T) {
	n := harness.Start(t, harness.Options{})
	resp, err := http.Get(n.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 1<<16)
	for {
		k, err := resp.Body.Read(buf)
		b.Write(buf[:k])
		if err != nil {
			break
		}
	}
	for _, m := range []string{"wache_envelopes_accepted_total", "wache_live_sessions", "go_goroutines"} {
		if !strings.Contains(b.String(), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
}
