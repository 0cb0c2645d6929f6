package push

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestClientRefusesPrivateAddresses: the production client does not
// connect to loopback (what a DNS name pointing at 127.0.0.1 would reach),
// and no client follows redirects.
func TestClientRefusesPrivateAddresses(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()

	_, err := newClient(false, 2*time.Second).Post(srv.URL+"/x", "application/octet-stream", nil)
	if !errors.Is(err, errNotPublic) {
		t.Fatalf("production client reached loopback: %v", err)
	}
	if hits.Load() != 0 {
		t.Fatal("request arrived")
	}
	dev := newClient(true, 2*time.Second)
	resp, err := dev.Post(srv.URL+"/redirect", "application/octet-stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || hits.Load() != 1 {
		t.Fatalf("redirect followed: status %d, hits %d", resp.StatusCode, hits.Load())
	}
}
