package push_test

import (
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
	"github.com/wache/wache/internal/harness"
	"github.com/wache/wache/internal/push"
)

// received is one request the fake push service got.
type received struct {
	path   string
	header http.Header
	body   []byte
}

// pushService is a real HTTP push service (RFC 8030 §5) started by the
// test: it records every push and answers with the status configured for
// the endpoint path (201 Created by default).
type pushService struct {
	*httptest.Server
	mu     sync.Mutex
	status map[string]int
	script map[string][]int  // answers in turn for a path; the last repeats
	after  map[string]string // Retry-After sent with a path's non-2xx answers
	got    chan received
}

func startPushService(t *testing.T) *pushService {
	p := &pushService{status: map[string]int{}, script: map[string][]int{}, after: map[string]string{}, got: make(chan received, 64)}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		p.got <- received{path: r.URL.Path, header: r.Header.Clone(), body: b}
		p.mu.Lock()
		st := p.status[r.URL.Path]
		if sc := p.script[r.URL.Path]; len(sc) > 0 {
			st = sc[0]
			if len(sc) > 1 {
				p.script[r.URL.Path] = sc[1:]
			}
		}
		after := p.after[r.URL.Path]
		p.mu.Unlock()
		if st == 0 {
			st = http.StatusCreated
		}
		if after != "" && st >= 300 {
			w.Header().Set("Retry-After", after)
		}
		w.WriteHeader(st)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *pushService) setStatus(path string, st int) {
	p.mu.Lock()
	p.status[path] = st
	p.mu.Unlock()
}

func (p *pushService) next(t *testing.T) received {
	t.Helper()
	return p.within(t, 15*time.Second)
}

func (p *pushService) within(t *testing.T, d time.Duration) received {
	t.Helper()
	select {
	case r := <-p.got:
		return r
	case <-time.After(d):
		t.Fatalf("push service received nothing within %v", d)
		return received{}
	}
}

func (p *pushService) none(t *testing.T) {
	t.Helper()
	select {
	case r := <-p.got:
		t.Fatalf("unexpected push to %s", r.path)
	default:
	}
}

// browser is the receiving side of a subscription: its key pair and secret.
type browser struct {
	key  *ecdh.PrivateKey
	auth []byte
}

func newBrowser(t *testing.T) browser { return newBrowserB(t) }

func newBrowserB(t testing.TB) browser {
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	a := make([]byte, 16)
	rand.Read(a)
	return browser{k, a}
}

func (b browser) subscription(endpoint string) api.PushSubscription {
	return api.PushSubscription{Endpoint: endpoint, Keys: api.PushKeys{
		P256dh: base64.RawURLEncoding.EncodeToString(b.key.PublicKey().Bytes()),
		Auth:   base64.RawURLEncoding.EncodeToString(b.auth)}}
}

// verifyVAPID checks the Authorization header of RFC 8292 §3: an ES256 JWT
// signed by the server's VAPID key, for the endpoint's origin, expiring
// within 24 hours, with a contact.
func verifyVAPID(t *testing.T, h string, vapidKey, origin string) {
	t.Helper()
	rest, ok := strings.CutPrefix(h, "vapid ")
	if !ok {
		t.Fatalf("Authorization %q is not a vapid scheme", h)
	}
	params := map[string]string{}
	for _, p := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		params[k] = v
	}
	if params["k"] != vapidKey {
		t.Fatalf("vapid k=%q, want the server's key %q", params["k"], vapidKey)
	}
	parts := strings.Split(params["t"], ".")
	if len(parts) != 3 {
		t.Fatalf("vapid t is not a JWT: %q", params["t"])
	}
	var hdr struct{ Typ, Alg string }
	if err := json.Unmarshal(b64(t, parts[0]), &hdr); err != nil || hdr.Alg != "ES256" {
		t.Fatalf("JWT header %s: alg must be ES256", b64(t, parts[0]))
	}
	pubBytes := b64(t, vapidKey)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pubBytes)
	if err != nil {
		t.Fatalf("VAPID key: %v", err)
	}
	sig := b64(t, parts[2])
	if len(sig) != 64 {
		t.Fatalf("ES256 signature has %d bytes, want 64", len(sig))
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(pub, digest[:], r, s) {
		t.Fatal("VAPID JWT signature does not verify with the server's public key")
	}
	// A signature that verifies must also fail for other data.
	bad := sha256.Sum256([]byte(parts[0] + "." + parts[1] + "x"))
	if ecdsa.Verify(pub, bad[:], r, s) {
		t.Fatal("signature check accepts anything")
	}
	var claims struct {
		Aud string `json:"aud"`
		Exp int64  `json:"exp"`
		Sub string `json:"sub"`
	}
	if err := json.Unmarshal(b64(t, parts[1]), &claims); err != nil {
		t.Fatalf("JWT claims: %v", err)
	}
	if claims.Aud != origin {
		t.Errorf("aud %q, want the endpoint origin %q", claims.Aud, origin)
	}
	now := time.Now().Unix()
	if claims.Exp <= now || claims.Exp > now+24*3600 {
		t.Errorf("exp %d not within 24 h of now %d", claims.Exp, now)
	}
	if claims.Sub != "mailto:push@"+harness.Domain {
		t.Errorf("sub %q, want a mailto: contact", claims.Sub)
	}
}

func forBackends(t *testing.T, f func(t *testing.T, pg bool)) {
	for _, pg := range []bool{false, true} {
		name := "sqlite"
		if pg {
			name = "postgres"
		}
		t.Run(name, func(t *testing.T) { f(t, pg) })
	}
}

// TestPushEndToEnd: a device subscribes through the real API of a real
// node; Notify reaches a real HTTP push service with VAPID, TTL, Urgency
// and Topic headers, and the body decrypts to the minimal JSON only.
func TestPushEndToEnd(t *testing.T) {
	forBackends(t, func(t *testing.T, pg bool) {
		ps := startPushService(t)
		n := harness.Start(t, harness.Options{Postgres: pg})
		ctx := context.Background()
		c, prof := n.Login(t, "anna.schmidt@"+harness.Domain)

		key, err := c.VAPIDKey(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if key != n.App.Push.PublicKey() || len(b64(t, key)) != 65 {
			t.Fatalf("vapid key %q", key)
		}
		br := newBrowser(t)
		if cnt, err := c.SubscribePush(ctx, br.subscription(ps.URL+"/wpush/anna-1")); err != nil || cnt != 1 {
			t.Fatalf("subscribe: %d, %v", cnt, err)
		}
		for _, tc := range []struct {
			n       push.Notification
			urgency string
			ttl     int
			want    string
		}{
			{push.Notification{Kind: push.KindAlarm}, "high", 3600, `{"k":"alarm"}`},
			{push.Notification{Kind: push.KindAlarm, Urgency: push.UrgencyNormal}, "high", 3600, `{"k":"alarm"}`},
			{push.Notification{Kind: push.KindReminder}, "high", 3600, `{"k":"reminder"}`},
			{push.Notification{Kind: push.KindMessage}, "normal", 86400, `{"k":"message"}`},
		} {
			// The same device twice and an unknown one: one push.
			if err := n.App.Push.Notify(ctx, []string{prof.DeviceID, "nope", prof.DeviceID}, tc.n); err != nil {
				t.Fatalf("notify %+v: %v", tc.n, err)
			}
			r := ps.next(t)
			if r.path != "/wpush/anna-1" {
				t.Fatalf("push went to %s", r.path)
			}
			for h, want := range map[string]string{
				"Content-Encoding": "aes128gcm", "Content-Type": "application/octet-stream",
				"Urgency": tc.urgency, "Ttl": strconv.Itoa(tc.ttl), "Topic": tc.n.Kind,
			} {
				if got := r.header.Get(h); got != want {
					t.Errorf("%s: header %s = %q, want %q", tc.n.Kind, h, got, want)
				}
			}
			verifyVAPID(t, r.header.Get("Authorization"), key, ps.URL)
			plain, err := decryptPush(r.body, br.key, br.auth, nil)
			if err != nil {
				t.Fatalf("decrypt push: %v", err)
			}
			if string(plain) != tc.want {
				t.Fatalf("payload %q, want %q", plain, tc.want)
			}
			if len(r.body) != 256 {
				t.Errorf("push body is %d bytes; every push should be 256", len(r.body))
			}
			// Another browser's keys cannot read it.
			other := newBrowser(t)
			if _, err := decryptPush(r.body, other.key, br.auth, nil); err == nil {
				t.Fatal("push decrypts with another key")
			}
		}
		if err := n.App.Push.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		ps.none(t)

		// Bad notifications are refused.
		for _, bad := range []push.Notification{{Kind: "chat"}, {Kind: push.KindMessage, Urgency: "very-high"}, {}} {
			if err := n.App.Push.Notify(ctx, []string{prof.DeviceID}, bad); wache.ErrorCode(err) != wache.EINVALID {
				t.Errorf("notify %+v: %v, want invalid", bad, err)
			}
		}

		// A revoked device's subscriptions are deleted and get nothing.
		if err := c.RevokeDevice(ctx, prof.DeviceID); err != nil {
			t.Fatal(err)
		}
		subs, err := n.App.Push.Subscriptions(ctx, prof.DeviceID)
		if err != nil || len(subs) != 0 {
			t.Fatalf("after revocation: %d subscriptions, %v", len(subs), err)
		}
		if err := n.App.Push.Notify(ctx, []string{prof.DeviceID}, push.Notification{Kind: push.KindAlarm}); err != nil {
			t.Fatal(err)
		}
		n.App.Push.Flush(ctx)
		ps.none(t)
	})
}

// TestPushGoneRemovesSubscription: 410 and 404 from the push service delete
// the subscription; a 500 keeps it.
func TestPushGoneRemovesSubscription(t *testing.T) {
	forBackends(t, func(t *testing.T, pg bool) {
		ps := startPushService(t)
		n := harness.Start(t, harness.Options{Postgres: pg})
		ctx := context.Background()
		c, prof := n.Login(t, "ben.mueller@"+harness.Domain)
		br := newBrowser(t)
		for _, p := range []string{"/live", "/gone", "/missing", "/broken"} {
			if _, err := c.SubscribePush(ctx, br.subscription(ps.URL+p)); err != nil {
				t.Fatal(err)
			}
		}
		ps.setStatus("/gone", http.StatusGone)
		ps.setStatus("/missing", http.StatusNotFound)
		ps.setStatus("/broken", http.StatusBadRequest) // refused for good: not tried again, kept
		if err := n.App.Push.Notify(ctx, []string{prof.DeviceID}, push.Notification{Kind: push.KindAlarm}); err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for range 4 {
			seen[ps.next(t).path] = true
		}
		if len(seen) != 4 {
			t.Fatalf("pushes reached %v", seen)
		}
		fctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		if err := n.App.Push.Flush(fctx); err != nil {
			t.Fatal(err)
		}
		subs, err := n.App.Push.Subscriptions(ctx, prof.DeviceID)
		if err != nil {
			t.Fatal(err)
		}
		var left []string
		for _, s := range subs {
			left = append(left, strings.TrimPrefix(s.Endpoint, ps.URL))
		}
		if strings.Join(left, ",") != "/live,/broken" && strings.Join(left, ",") != "/broken,/live" {
			t.Fatalf("subscriptions left %v, want /live and /broken", left)
		}
		// The next push goes only to the two that are left.
		if err := n.App.Push.Notify(ctx, []string{prof.DeviceID}, push.Notification{Kind: push.KindMessage}); err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{ps.next(t).path: true, ps.next(t).path: true}
		n.App.Push.Flush(fctx)
		ps.none(t)
		if !got["/live"] || !got["/broken"] {
			t.Fatalf("second push reached %v", got)
		}
	})
}

func rawRequest(t *testing.T, n *harness.Node, method, path, token, body string) (int, api.Error) {
	t.Helper()
	req, _ := http.NewRequest(method, n.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e api.Error
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &e)
	return resp.StatusCode, e
}

// TestPushBadInput: every malformed or foreign request gets a clear error
// with a code, and nothing is stored.
func TestPushBadInput(t *testing.T) {
	forBackends(t, testPushBadInput)
}

func testPushBadInput(t *testing.T, pg bool) {
	n := harness.Start(t, harness.Options{Postgres: pg})
	ctx := context.Background()
	anna, ap := n.Login(t, "anna.schmidt@"+harness.Domain)
	bob, bp := n.Login(t, "ben.mueller@"+harness.Domain)
	br := newBrowser(t)
	good := br.subscription("https://push.example.net/wpush/v2/abc")
	p256 := good.Keys.P256dh
	auth := good.Keys.Auth
	body := func(endpoint, p, a string) string {
		b, _ := json.Marshal(map[string]any{"endpoint": endpoint, "keys": map[string]string{"p256dh": p, "auth": a}})
		return string(b)
	}
	notOnCurve := base64.RawURLEncoding.EncodeToString(append([]byte{4}, make([]byte, 64)...))
	for _, c := range []struct {
		name, body, code string
	}{
		{"ftp endpoint", body("ftp://push.example.net/x", p256, auth), wache.EINVALID},
		{"javascript endpoint", body("javascript:alert(1)", p256, auth), wache.EINVALID},
		{"relative endpoint", body("/wpush/x", p256, auth), wache.EINVALID},
		{"credentials in endpoint", body("https://u:p@push.example.net/x", p256, auth), wache.EINVALID},
		{"fragment", body("https://push.example.net/x#y", p256, auth), wache.EINVALID},
		{"space in endpoint", body("https://push.example.net/a b", p256, auth), wache.EINVALID},
		{"no endpoint", body("", p256, auth), wache.EINVALID},
		{"long endpoint", body("https://push.example.net/"+strings.Repeat("a", 2100), p256, auth), wache.ETOOLARGE},
		{"oversized p256dh", body(good.Endpoint, strings.Repeat("A", 200), auth), wache.ETOOLARGE},
		{"oversized auth", body(good.Endpoint, p256, strings.Repeat("A", 500)), wache.ETOOLARGE},
		{"short p256dh", body(good.Endpoint, p256[:40], auth), wache.EINVALID},
		{"p256dh off the curve", body(good.Endpoint, notOnCurve, auth), wache.EINVALID},
		{"garbage base64 p256dh", body(good.Endpoint, "!!not*base64~~", auth), wache.EINVALID},
		{"garbage base64 auth", body(good.Endpoint, p256, "@@@@@@@@@@@@@@@@@@@@@@"), wache.EINVALID},
		{"mixed alphabets", body(good.Endpoint, p256, "ab-_cd+/efghijklmnopqr"), wache.EINVALID},
		{"too much padding", body(good.Endpoint, p256, auth+"==="), wache.EINVALID},
		{"auth 15 bytes", body(good.Endpoint, p256, base64.RawURLEncoding.EncodeToString(make([]byte, 15))), wache.EINVALID},
		{"missing keys", `{"endpoint":"https://push.example.net/x"}`, wache.EINVALID},
		{"unknown field", `{"endpoint":"https://push.example.net/x","keys":{},"extra":1}`, wache.EINVALID},
		{"wrong type", `{"endpoint":42}`, wache.EINVALID},
		{"not JSON", `<xml/>`, wache.EINVALID},
		{"empty", ``, wache.EINVALID},
		{"trailing data", body(good.Endpoint, p256, auth) + `{}`, wache.EINVALID},
		{"huge body", `{"endpoint":"` + strings.Repeat("a", 5000) + `"}`, wache.ETOOLARGE},
	} {
		st, e := rawRequest(t, n, "POST", "/api/v1/push/subscriptions", ap.Token, c.body)
		if e.Error.Code != c.code || st != api.HTTPStatus(c.code) || e.Error.Message == "" {
			t.Errorf("%s: %d %+v, want %s", c.name, st, e.Error, c.code)
		}
	}
	if subs, _ := n.App.Push.Subscriptions(ctx, ap.DeviceID); len(subs) != 0 {
		t.Fatalf("bad input stored %d subscriptions", len(subs))
	}

	// The browser's toJSON() shape (expirationTime: null) and padded or
	// standard base64 are accepted.
	for _, b := range []string{
		`{"endpoint":"https://push.example.net/a","expirationTime":null,"keys":{"p256dh":"` + p256 + `","auth":"` + auth + `"}}`,
		body("https://push.example.net/b", base64.StdEncoding.EncodeToString(br.key.PublicKey().Bytes()), base64.URLEncoding.EncodeToString(br.auth)),
	} {
		if st, e := rawRequest(t, n, "POST", "/api/v1/push/subscriptions", ap.Token, b); st != 200 {
			t.Fatalf("valid subscription refused: %d %+v", st, e)
		}
	}
	subs, _ := n.App.Push.Subscriptions(ctx, ap.DeviceID)
	if len(subs) != 2 || subs[0].Auth != auth || subs[1].P256dh != p256 {
		t.Fatalf("stored %+v; keys must be kept as base64url", subs)
	}

	// Unauthenticated: 401 on every push endpoint.
	for _, r := range [][2]string{{"GET", "/api/v1/push/vapid-key"}, {"POST", "/api/v1/push/subscriptions"}, {"DELETE", "/api/v1/push/subscriptions"}} {
		for _, tok := range []string{"", "wch_forged"} {
			if st, e := rawRequest(t, n, r[0], r[1], tok, body(good.Endpoint, p256, auth)); st != 401 || e.Error.Code != wache.EUNAUTHORIZED {
				t.Errorf("%s %s with token %q: %d %+v", r[0], r[1], tok, st, e)
			}
		}
	}

	// Another device's subscription: cannot be deleted, cannot be taken.
	bobSub := newBrowser(t).subscription("https://push.example.net/bob")
	if _, err := bob.SubscribePush(ctx, bobSub); err != nil {
		t.Fatal(err)
	}
	if err := anna.UnsubscribePush(ctx, bobSub.Endpoint); wache.ErrorCode(err) != wache.ENOTFOUND {
		t.Fatalf("anna deletes bob's subscription: %v", err)
	}
	if _, err := anna.SubscribePush(ctx, bobSub); wache.ErrorCode(err) != wache.ECONFLICT {
		t.Fatalf("anna takes bob's endpoint: %v", err)
	}
	if subs, _ := n.App.Push.Subscriptions(ctx, bp.DeviceID); len(subs) != 1 {
		t.Fatalf("bob's subscription changed: %+v", subs)
	}
	if err := anna.UnsubscribePush(ctx, "https://push.example.net/none"); wache.ErrorCode(err) != wache.ENOTFOUND {
		t.Fatalf("delete unknown: %v", err)
	}
	for _, b := range []string{`{}`, `{"endpoint":""}`, `nope`, `{"endpoint":"` + strings.Repeat("a", 3000) + `"}`} {
		if st, _ := rawRequest(t, n, "DELETE", "/api/v1/push/subscriptions", ap.Token, b); st != 400 && st != 413 {
			t.Errorf("delete with %q: %d", b[:min(len(b), 20)], st)
		}
	}
	if err := bob.UnsubscribePush(ctx, bobSub.Endpoint); err != nil {
		t.Fatalf("bob deletes his own: %v", err)
	}
	if err := bob.UnsubscribePush(ctx, bobSub.Endpoint); wache.ErrorCode(err) != wache.ENOTFOUND {
		t.Fatalf("second delete: %v", err)
	}

	// A device keeps its newest few subscriptions.
	var last string
	for i := range push.MaxSubscriptionsPerDevice + 3 {
		last = "https://push.example.net/rot/" + strconv.Itoa(i)
		cnt, err := bob.SubscribePush(ctx, newBrowser(t).subscription(last))
		if err != nil {
			t.Fatal(err)
		}
		if want := min(i+1, push.MaxSubscriptionsPerDevice); cnt != want {
			t.Fatalf("after %d subscriptions: count %d, want %d", i+1, cnt, want)
		}
		time.Sleep(2 * time.Millisecond) // distinct updated_at
	}
	subs, _ = n.App.Push.Subscriptions(ctx, bp.DeviceID)
	if len(subs) != push.MaxSubscriptionsPerDevice || subs[0].Endpoint != last {
		t.Fatalf("kept %d, newest %s", len(subs), subs[0].Endpoint)
	}
}

// TestProductionEndpointRules: without dev mode only https endpoints on
// public hosts are accepted.
func TestProductionEndpointRules(t *testing.T) {
	for _, c := range []struct {
		endpoint string
		ok       bool
	}{
		{"https://fcm.googleapis.com/fcm/send/abc:def", true},
		{"https://updates.push.services.mozilla.com/wpush/v2/gAAAA", true},
		{"https://web.push.apple.com/QGuQ", true},
		{"https://push.example.net:8443/x", true},
		{"https://8.8.8.8/x", true},
		{"http://push.example.net/x", false},
		{"https://localhost/x", false},
		{"https://push.localhost/x", false},
		{"https://127.0.0.1/x", false},
		{"https://10.1.2.3/x", false},
		{"https://192.168.0.1/x", false},
		{"https://169.254.169.254/latest/meta-data", false},
		{"https://100.64.0.1/x", false},
		{"https://0.0.0.0/x", false},
		{"https://[::1]/x", false},
		{"https://[fe80::1]/x", false},
		{"https://[fd00::1]/x", false},
		{"https://[::ffff:127.0.0.1]/x", false},
		{"https://intranet/x", false},
		{"https://push.example.net:0/x", false},
		{"https://push.example.net:999999/x", false},
	} {
		err := push.CheckEndpoint(c.endpoint, false)
		if (err == nil) != c.ok {
			t.Errorf("%s: %v, want ok=%v", c.endpoint, err, c.ok)
		}
		if err != nil && wache.ErrorCode(err) != wache.EINVALID {
			t.Errorf("%s: code %s", c.endpoint, wache.ErrorCode(err))
		}
	}
	// Dev mode allows plain http on loopback (the test push services).
	if err := push.CheckEndpoint("http://127.0.0.1:8080/x", true); err != nil {
		t.Fatal(err)
	}
}

// FuzzParseSubscription: arbitrary bytes never panic; they are accepted
// only as a well-formed subscription, refused otherwise with a code.
func FuzzParseSubscription(f *testing.F) {
	br := browser{}
	k, _ := ecdh.P256().GenerateKey(rand.Reader)
	br.key, br.auth = k, make([]byte, 16)
	good, _ := json.Marshal(br.subscription("https://push.example.net/x"))
	f.Add(good, false)
	f.Add(good, true)
	f.Add([]byte(`{"endpoint":"http://127.0.0.1/x","keys":{"p256dh":"AA","auth":"AA"}}`), true)
	f.Add([]byte(`{"endpoint":"https://[::1]/x","expirationTime":1e300,"keys":{"p256dh":"`+strings.Repeat("A", 87)+`","auth":"AAAAAAAAAAAAAAAAAAAAAA"}}`), false)
	f.Add([]byte(`{`), false)
	f.Add([]byte(`null`), false)
	f.Fuzz(func(t *testing.T, data []byte, dev bool) {
		sub, err := push.ParseSubscription(data, dev)
		if err != nil {
			var we *wache.Error
			if !errors.As(err, &we) || we.Message == "" {
				t.Fatalf("error without code: %v", err)
			}
			return
		}
		if push.CheckEndpoint(sub.Endpoint, dev) != nil || len(sub.Endpoint) > push.MaxEndpoint {
			t.Fatalf("accepted bad endpoint %q", sub.Endpoint)
		}
		p, err1 := base64.RawURLEncoding.DecodeString(sub.P256dh)
		a, err2 := base64.RawURLEncoding.DecodeString(sub.Auth)
		if err1 != nil || err2 != nil || len(p) != 65 || len(a) != 16 {
			t.Fatalf("accepted keys %q %q", sub.P256dh, sub.Auth)
		}
		if _, err := ecdh.P256().NewPublicKey(p); err != nil {
			t.Fatalf("accepted p256dh off the curve")
		}
		// Canonical: parsing the canonical form again gives the same.
		again, err := push.ValidateSubscription(api.PushSubscription{Endpoint: sub.Endpoint,
			Keys: api.PushKeys{P256dh: sub.P256dh, Auth: sub.Auth}}, dev)
		if err != nil || again != sub {
			t.Fatalf("not canonical: %+v vs %+v (%v)", again, sub, err)
		}
	})
}

// FuzzPushHandlers: arbitrary bodies to the push endpoints of a real node
// with a valid token get a clear 2xx or 4xx, never a 5xx.
func FuzzPushHandlers(f *testing.F) {
	n := harness.Start(f, harness.Options{})
	_, p := n.Login(f, "anna.schmidt@"+harness.Domain)
	h := n.App.Handler()
	k, _ := ecdh.P256().GenerateKey(rand.Reader)
	good, _ := json.Marshal(browser{k, make([]byte, 16)}.subscription("https://push.example.net/x"))
	for _, seed := range []string{string(good), `{"endpoint":"https://push.example.net/x"}`, `{`, `null`, `[]`, `{"keys":null}`} {
		f.Add(false, []byte(seed))
		f.Add(true, []byte(seed))
	}
	f.Fuzz(func(t *testing.T, del bool, body []byte) {
		method := "POST"
		if del {
			method = "DELETE"
		}
		req := httptest.NewRequest(method, "/api/v1/push/subscriptions", strings.NewReader(string(body)))
		req.Header.Set("Authorization", "Bearer "+p.Token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body.String())
		}
	})
}

// TestPushRetries: a push service's 429 and 5xx answers are tried again
// (after Retry-After when it asks for a wait), up to the attempt limit;
// other refusals are not; a wait longer than the kind allows drops the push.
func TestPushRetries(t *testing.T) {
	ps := startPushService(t)
	n := harness.Start(t, harness.Options{})
	ctx := context.Background()
	c, prof := n.Login(t, "ben.mueller@"+harness.Domain)
	svc, err := push.Open(ctx, n.App.Store.DB(), push.Options{Subject: "mailto:ops@" + harness.Domain, Dev: true,
		Attempts: 3, RetryBase: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	br := newBrowser(t)
	for _, tc := range []struct {
		path    string
		answers []int  // statuses in turn; the last repeats
		after   string // Retry-After on non-2xx answers
		kind    string
		want    int // requests the push service sees
	}{
		{"/flaky", []int{503, 502, 201}, "", push.KindAlarm, 3},
		{"/busy", []int{429, 201}, "1", push.KindAlarm, 2},
		{"/down", []int{500}, "", push.KindMessage, 3},
		{"/bad", []int{400}, "", push.KindAlarm, 1},
		{"/later", []int{429}, "3600", push.KindAlarm, 1}, // an hour: the alarm is stale by then
	} {
		t.Run(strings.TrimPrefix(tc.path, "/"), func(t *testing.T) {
			ps.mu.Lock()
			ps.script[tc.path], ps.after[tc.path] = tc.answers, tc.after
			ps.mu.Unlock()
			if _, err := c.SubscribePush(ctx, br.subscription(ps.URL+tc.path)); err != nil {
				t.Fatal(err)
			}
			defer c.UnsubscribePush(ctx, ps.URL+tc.path)
			if err := svc.Notify(ctx, []string{prof.DeviceID}, push.Notification{Kind: tc.kind}); err != nil {
				t.Fatal(err)
			}
			fctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			defer cancel()
			if err := svc.Flush(fctx); err != nil {
				t.Fatal(err)
			}
			got := 0
			for drained := false; !drained; {
				select {
				case r := <-ps.got:
					if r.path != tc.path {
						t.Errorf("push to %s", r.path)
					}
					got++
				default:
					drained = true
				}
			}
			if got != tc.want {
				t.Errorf("push service saw %d requests, want %d", got, tc.want)
			}
		})
	}
}
