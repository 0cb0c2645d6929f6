package blob_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
	"github.com/wache/wache/internal/blob"
	"github.com/wache/wache/internal/blob/blobtest"
)

// call is one raw HTTP request against the blob endpoints.
type call struct {
	method string
	path   string // below /api/v1/blobs/
	dev    *blobtest.Device
	hdr    map[string]string
	body   []byte
}

type result struct {
	status int
	code   string // error code of a JSON error body
	hdr    http.Header
	body   []byte
}

func do(t *testing.T, e *blobtest.Env, c call) result {
	t.Helper()
	var body io.Reader
	if c.body != nil {
		body = bytes.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, e.URL+blob.BasePath+c.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if c.method != http.MethodGet {
		req.Header.Set("Tus-Resumable", "1.0.0")
	}
	if c.dev != nil {
		req.Header.Set("Authorization", "Bearer "+c.dev.Token)
	}
	for k, v := range c.hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := result{status: resp.StatusCode, hdr: resp.Header, body: b}
	if resp.StatusCode >= 400 && c.method != http.MethodHead {
		var e api.Error
		if err := json.Unmarshal(b, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
			t.Errorf("%s %s: status %d with a non-JSON error body %q", c.method, c.path, resp.StatusCode, b)
		}
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s %s: error with Content-Type %q", c.method, c.path, resp.Header.Get("Content-Type"))
		}
		r.code = e.Error.Code
	}
	return r
}

func meta(convID string) string {
	return "conv_id " + base64.StdEncoding.EncodeToString([]byte(convID))
}

// create starts an upload and returns its id.
func create(t *testing.T, e *blobtest.Env, d *blobtest.Device, conv string, size int) string {
	t.Helper()
	r := do(t, e, call{method: "POST", dev: d, hdr: map[string]string{"Upload-Length": strconv.Itoa(size), "Upload-Metadata": meta(conv)}})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	loc := r.hdr.Get("Location")
	return loc[strings.LastIndexByte(loc, '/')+1:]
}

func patch(t *testing.T, e *blobtest.Env, d *blobtest.Device, id string, off int, data []byte) result {
	t.Helper()
	return do(t, e, call{method: "PATCH", path: id, dev: d, body: data,
		hdr: map[string]string{"Upload-Offset": strconv.Itoa(off), "Content-Type": "application/offset+octet-stream"}})
}

func TestProtocol(t *testing.T) {
	for _, backend := range blobtest.Backends {
		t.Run(backend, func(t *testing.T) {
			e := blobtest.Start(t, backend, blob.Options{MaxSize: 1 << 20})
			alice, bob, eve := e.User(t, "anna"), e.User(t, "ben"), e.User(t, "eva")
			alice2 := e.Device(t, alice.User)
			conv := e.Conv(t, alice, bob)
			data := bytes.Repeat([]byte("ciphertext!"), 100)
			size := strconv.Itoa(len(data))
			good := map[string]string{"Upload-Length": size, "Upload-Metadata": meta(conv)}
			id := create(t, e, alice, conv, len(data))
			if !blobIDOK(id) {
				t.Fatalf("blob id %q", id)
			}
			octet := "application/offset+octet-stream"
			tests := []struct {
				name   string
				c      call
				status int
				code   string
			}{
				{"options without token", call{method: "OPTIONS"}, 200, ""},
				{"create without token", call{method: "POST", hdr: good}, 401, wache.EUNAUTHORIZED},
				{"create with unknown token", call{method: "POST", dev: &blobtest.Device{Token: "wch_unknown"}, hdr: good}, 401, wache.EUNAUTHORIZED},
				{"create by non-member", call{method: "POST", dev: eve, hdr: good}, 404, wache.ENOTFOUND},
				{"create in unknown conversation", call{method: "POST", dev: alice, hdr: map[string]string{"Upload-Length": size, "Upload-Metadata": meta("nope")}}, 404, wache.ENOTFOUND},
				{"create without conv_id", call{method: "POST", dev: alice, hdr: map[string]string{"Upload-Length": size}}, 400, wache.EINVALID},
				{"create with a file name", call{method: "POST", dev: alice, hdr: map[string]string{"Upload-Length": size,
					"Upload-Metadata": meta(conv) + ",filename " + base64.StdEncoding.EncodeToString([]byte("geheim.pdf"))}}, 400, wache.EINVALID},
				{"create with deferred length", call{method: "POST", dev: alice, hdr: map[string]string{"Upload-Defer-Length": "1", "Upload-Metadata": meta(conv)}}, 400, wache.EINVALID},
				{"create without length", call{method: "POST", dev: alice, hdr: map[string]string{"Upload-Metadata": meta(conv)}}, 400, wache.EINVALID},
				{"create oversize", call{method: "POST", dev: alice, hdr: map[string]string{"Upload-Length": strconv.Itoa(1<<20 + 1), "Upload-Metadata": meta(conv)}}, 413, wache.ETOOLARGE},
				{"create without Tus-Resumable", call{method: "POST", dev: alice, hdr: map[string]string{"Tus-Resumable": "", "Upload-Length": size, "Upload-Metadata": meta(conv)}}, 412, wache.EINVALID},
				{"method override", call{method: "POST", path: id, dev: alice, hdr: map[string]string{"X-HTTP-Method-Override": "PATCH"}}, 400, wache.EINVALID},
				{"head by owner", call{method: "HEAD", path: id, dev: alice}, 200, ""},
				{"head by member", call{method: "HEAD", path: id, dev: bob}, 404, ""},
				{"head by owner's other device", call{method: "HEAD", path: id, dev: alice2}, 404, ""},
				{"patch by member", call{method: "PATCH", path: id, dev: bob, body: data, hdr: map[string]string{"Upload-Offset": "0", "Content-Type": octet}}, 404, wache.ENOTFOUND},
				{"download before completion", call{method: "GET", path: id, dev: bob}, 409, wache.ECONFLICT},
				{"patch at wrong offset", call{method: "PATCH", path: id, dev: alice, body: data[:5], hdr: map[string]string{"Upload-Offset": "7", "Content-Type": octet}}, 409, wache.ECONFLICT},
				{"patch without content type", call{method: "PATCH", path: id, dev: alice, body: data[:5], hdr: map[string]string{"Upload-Offset": "0"}}, 400, wache.EINVALID},
				{"patch past the size", call{method: "PATCH", path: id, dev: alice, body: append(data, 1), hdr: map[string]string{"Upload-Offset": "0", "Content-Type": octet}}, 413, wache.ETOOLARGE},
				{"patch first part", call{method: "PATCH", path: id, dev: alice, body: data[:500], hdr: map[string]string{"Upload-Offset": "0", "Content-Type": octet}}, 204, ""},
				{"patch the rest", call{method: "PATCH", path: id, dev: alice, body: data[500:], hdr: map[string]string{"Upload-Offset": "500", "Content-Type": octet}}, 204, ""},
				{"download by member", call{method: "GET", path: id, dev: bob}, 200, ""},
				{"download by uploader", call{method: "GET", path: id, dev: alice2}, 200, ""},
				{"range download", call{method: "GET", path: id, dev: bob, hdr: map[string]string{"Range": "bytes=10-19"}}, 206, ""},
				{"download by non-member", call{method: "GET", path: id, dev: eve}, 404, wache.ENOTFOUND},
				{"download without token", call{method: "GET", path: id}, 401, wache.EUNAUTHORIZED},
				{"download unknown blob", call{method: "GET", path: strings.Repeat("ab", 16), dev: bob}, 404, wache.ENOTFOUND},
				{"download malformed id", call{method: "GET", path: "..%2f..%2fwache.db", dev: bob}, 404, wache.ENOTFOUND},
				{"download upper-case id", call{method: "GET", path: strings.ToUpper(id), dev: bob}, 404, wache.ENOTFOUND},
				{"put", call{method: "PUT", path: id, dev: alice}, 405, wache.EINVALID},
				{"get the collection", call{method: "GET", dev: alice}, 405, wache.EINVALID},
				{"delete by member", call{method: "DELETE", path: id, dev: bob}, 404, wache.ENOTFOUND},
			}
			for _, tc := range tests {
				r := do(t, e, tc.c)
				if r.status != tc.status || r.code != tc.code {
					t.Errorf("%s: got %d %q (%s), want %d %q", tc.name, r.status, r.code, r.body, tc.status, tc.code)
				}
				switch tc.name {
				case "options without token":
					if r.hdr.Get("Tus-Version") != "1.0.0" || r.hdr.Get("Tus-Max-Size") != strconv.Itoa(1<<20) {
						t.Errorf("options: headers %v", r.hdr)
					}
				case "create without token":
					if r.hdr.Get("WWW-Authenticate") != "Bearer" {
						t.Errorf("401 without WWW-Authenticate")
					}
				case "head by owner":
					if r.hdr.Get("Upload-Offset") != "0" || r.hdr.Get("Upload-Length") != size {
						t.Errorf("head: offset %q length %q", r.hdr.Get("Upload-Offset"), r.hdr.Get("Upload-Length"))
					}
					if r.hdr.Get("Upload-Metadata") != "" {
						t.Errorf("head reveals metadata %q", r.hdr.Get("Upload-Metadata"))
					}
				case "download by member":
					if !bytes.Equal(r.body, data) || r.hdr.Get("Content-Type") != "application/octet-stream" {
						t.Errorf("download: %d bytes, type %q", len(r.body), r.hdr.Get("Content-Type"))
					}
				case "range download":
					if !bytes.Equal(r.body, data[10:20]) {
						t.Errorf("range: got %q", r.body)
					}
				}
			}

			// A member who leaves loses access.
			if err := e.Store.RemoveMember(context.Background(), conv, bob.User.ID); err != nil {
				t.Fatal(err)
			}
			if r := do(t, e, call{method: "GET", path: id, dev: bob}); r.status != 404 {
				t.Errorf("download after leaving: %d", r.status)
			}
			// The uploader deletes the blob.
			if r := do(t, e, call{method: "DELETE", path: id, dev: alice}); r.status != 204 {
				t.Errorf("delete: %d %s", r.status, r.body)
			}
			if r := do(t, e, call{method: "GET", path: id, dev: alice}); r.status != 404 {
				t.Errorf("download after delete: %d", r.status)
			}
			assertGone(t, e, id)
		})
	}
}

func blobIDOK(id string) bool {
	if len(id) != 32 {
		return false
	}
	return strings.Trim(id, "0123456789abcdef") == ""
}

func assertGone(t *testing.T, e *blobtest.Env, id string) {
	t.Helper()
	for _, p := range []string{filepath.Join(e.Dir, id), filepath.Join(e.Dir, id+".info")} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s still exists (%v)", filepath.Base(p), err)
		}
	}
	var n int
	if err := e.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM blobs WHERE id = ?`, id).Scan(&n); err != nil || n != 0 {
		t.Errorf("row still there: %d (%v)", n, err)
	}
}

func TestCreationWithUpload(t *testing.T) {
	e := blobtest.Start(t, "sqlite", blob.Options{})
	alice, bob := e.User(t, "anna"), e.User(t, "ben")
	conv := e.Conv(t, alice, bob)
	data := []byte("a small photo's ciphertext")
	r := do(t, e, call{method: "POST", dev: alice, body: data, hdr: map[string]string{"Upload-Length": strconv.Itoa(len(data)),
		"Upload-Metadata": meta(conv), "Content-Type": "application/offset+octet-stream"}})
	if r.status != 201 || r.hdr.Get("Upload-Offset") != strconv.Itoa(len(data)) {
		t.Fatalf("create with upload: %d offset %q %s", r.status, r.hdr.Get("Upload-Offset"), r.body)
	}
	loc := r.hdr.Get("Location")
	id := loc[strings.LastIndexByte(loc, '/')+1:]
	if g := do(t, e, call{method: "GET", path: id, dev: bob}); g.status != 200 || !bytes.Equal(g.body, data) {
		t.Fatalf("download: %d %q", g.status, g.body)
	}
}

func TestRevokedDevice(t *testing.T) {
	e := blobtest.Start(t, "sqlite", blob.Options{})
	alice := e.User(t, "anna")
	conv := e.Conv(t, alice)
	if err := e.Store.RevokeDevice(context.Background(), alice.Device.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	r := do(t, e, call{method: "POST", dev: alice, hdr: map[string]string{"Upload-Length": "10", "Upload-Metadata": meta(conv)}})
	if r.status != 401 || r.code != wache.EREVOKED {
		t.Fatalf("revoked device: %d %q", r.status, r.code)
	}
}

func TestQuota(t *testing.T) {
	for _, backend := range blobtest.Backends {
		t.Run(backend, func(t *testing.T) {
			e := blobtest.Start(t, backend, blob.Options{Quota: 1000, Retention: 7 * 24 * time.Hour})
			alice := e.User(t, "anna")
			conv := e.Conv(t, alice)
			hdr := func(n int) map[string]string {
				return map[string]string{"Upload-Length": strconv.Itoa(n), "Upload-Metadata": meta(conv)}
			}
			create(t, e, alice, conv, 600) // counts although never completed
			r := do(t, e, call{method: "POST", dev: alice, hdr: hdr(600)})
			if r.status != 429 || r.code != wache.ERATELIMIT {
				t.Fatalf("over quota: %d %q", r.status, r.code)
			}
			var msg api.Error
			json.Unmarshal(r.body, &msg)
			if !strings.Contains(msg.Error.Message, "quota") {
				t.Errorf("quota message %q", msg.Error.Message)
			}
			ra, _ := strconv.Atoi(r.hdr.Get("Retry-After"))
			if ra < 6*24*3600 || ra > 7*24*3600+1 {
				t.Errorf("Retry-After %q, want about 7 days", r.hdr.Get("Retry-After"))
			}
			if r := do(t, e, call{method: "POST", dev: alice, hdr: hdr(1001)}); r.status != 413 || r.code != wache.ETOOLARGE {
				t.Errorf("larger than the quota: %d %q", r.status, r.code)
			}
			if r := do(t, e, call{method: "POST", dev: alice, hdr: hdr(400)}); r.status != 201 {
				t.Errorf("within quota: %d %s", r.status, r.body)
			}
			e.Clock.Advance(7*24*time.Hour + time.Minute)
			if r := do(t, e, call{method: "POST", dev: alice, hdr: hdr(600)}); r.status != 201 {
				t.Errorf("after the window: %d %s", r.status, r.body)
			}
		})
	}
}

// TestQuotaConcurrent: parallel creations must not overrun the quota.
func TestQuotaConcurrent(t *testing.T) {
	for _, backend := range blobtest.Backends {
		t.Run(backend, func(t *testing.T) {
			e := blobtest.Start(t, backend, blob.Options{Quota: 1000})
			alice := e.User(t, "anna")
			conv := e.Conv(t, alice)
			var wg sync.WaitGroup
			statuses := make([]int, 40)
			for i := range statuses {
				wg.Add(1)
				go func() {
					defer wg.Done()
					statuses[i] = do(t, e, call{method: "POST", dev: alice, hdr: map[string]string{"Upload-Length": "100", "Upload-Metadata": meta(conv)}}).status
				}()
			}
			wg.Wait()
			created := 0
			for _, s := range statuses {
				switch s {
				case 201:
					created++
				case 429:
				default:
					t.Errorf("unexpected status %d", s)
				}
			}
			if created != 10 {
				t.Fatalf("%d uploads of 100 bytes created under a 1000-byte quota, want 10 (%v)", created, statuses)
			}
		})
	}
}

func TestUploadTimeout(t *testing.T) {
	for _, backend := range blobtest.Backends {
		t.Run(backend, func(t *testing.T) {
			e := blobtest.Start(t, backend, blob.Options{UploadTimeout: time.Hour})
			alice := e.User(t, "anna")
			conv := e.Conv(t, alice)
			id := create(t, e, alice, conv, 100)
			if r := patch(t, e, alice, id, 0, make([]byte, 50)); r.status != 204 {
				t.Fatalf("patch: %d", r.status)
			}
			done := create(t, e, alice, conv, 10)
			if r := patch(t, e, alice, done, 0, make([]byte, 10)); r.status != 204 {
				t.Fatalf("patch: %d", r.status)
			}
			e.Clock.Advance(time.Hour + time.Second)
			if r := patch(t, e, alice, id, 50, make([]byte, 50)); r.status != 410 || r.code != wache.EEXPIRED {
				t.Fatalf("late patch: %d %q", r.status, r.code)
			}
			n, err := e.Svc.Sweep(context.Background())
			if err != nil || n != 1 {
				t.Fatalf("sweep: %d %v, want 1 stale upload", n, err)
			}
			assertGone(t, e, id)
			if r := do(t, e, call{method: "GET", path: done, dev: alice}); r.status != 200 {
				t.Errorf("completed blob after the sweep: %d", r.status)
			}
		})
	}
}

func TestRetention(t *testing.T) {
	for _, backend := range blobtest.Backends {
		t.Run(backend, func(t *testing.T) {
			e := blobtest.Start(t, backend, blob.Options{Retention: 30 * 24 * time.Hour})
			alice := e.User(t, "anna")
			conv := e.Conv(t, alice)
			old := create(t, e, alice, conv, 4)
			patch(t, e, alice, old, 0, []byte("abcd"))
			e.Clock.Advance(20 * 24 * time.Hour)
			young := create(t, e, alice, conv, 4)
			patch(t, e, alice, young, 0, []byte("efgh"))
			e.Clock.Advance(10*24*time.Hour + time.Minute)
			// Expired blobs are unreadable even before the sweep runs.
			if r := do(t, e, call{method: "GET", path: old, dev: alice}); r.status != 404 {
				t.Errorf("expired blob before sweep: %d", r.status)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { e.Svc.RunRetention(ctx, time.Hour); close(done) }()
			deadline := time.Now().Add(10 * time.Second)
			for {
				var n int
				e.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM blobs`).Scan(&n)
				if n == 1 || time.Now().After(deadline) {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
			<-done
			assertGone(t, e, old)
			if r := do(t, e, call{method: "GET", path: young, dev: alice}); r.status != 200 || string(r.body) != "efgh" {
				t.Errorf("young blob: %d %q", r.status, r.body)
			}
		})
	}
}

// TestLostCompletion: when the completion could not be recorded, a blob
// whose bytes all arrived is still served and not swept as stale.
func TestLostCompletion(t *testing.T) {
	e := blobtest.Start(t, "sqlite", blob.Options{UploadTimeout: time.Hour})
	alice := e.User(t, "anna")
	conv := e.Conv(t, alice)
	id := create(t, e, alice, conv, 4)
	patch(t, e, alice, id, 0, []byte("abcd"))
	if _, err := e.DB.Exec(context.Background(), `UPDATE blobs SET completed_at = NULL WHERE id = ?`, id); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(2 * time.Hour)
	if n, err := e.Svc.Sweep(context.Background()); err != nil || n != 0 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	if r := do(t, e, call{method: "GET", path: id, dev: alice}); r.status != 200 || string(r.body) != "abcd" {
		t.Fatalf("download: %d %q", r.status, r.body)
	}
}

func TestClosed(t *testing.T) {
	e := blobtest.Start(t, "sqlite", blob.Options{})
	alice := e.User(t, "anna")
	e.Svc.Close()
	if r := do(t, e, call{method: "GET", path: strings.Repeat("0", 32), dev: alice}); r.status != 503 {
		t.Fatalf("after Close: %d", r.status)
	}
}
