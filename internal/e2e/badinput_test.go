package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
	"github.com/wache/wache/client"
	"github.com/wache/wache/internal/harness"
)

type httpCase struct {
	name       string
	method     string
	path       string // {conv} is replaced by the test conversation's id
	token      string // "" none; otherwise a token name from the fixture
	body       string
	wantStatus int
	wantCode   string
}

// fixture is a node with users, devices and one conversation.
type fixture struct {
	n      *harness.Node
	conv   string
	tokens map[string]string
}

func newFixture(t *testing.T) *fixture {
	n := harness.Start(t, harness.Options{})
	f := &fixture{n: n, tokens: map[string]string{}}
	ctx := context.Background()
	_, pa := n.Login(t, "anna.schmidt@"+harness.Domain)
	_, pb := n.Login(t, "ben.mueller@"+harness.Domain)
	_, pc := n.Login(t, "clara.wagner@"+harness.Domain)
	_, pr := n.Login(t, "deniz.yilmaz@"+harness.Domain)
	f.tokens["anna"], f.tokens["ben"], f.tokens["outsider"], f.tokens["revoked"] = pa.Token, pb.Token, pc.Token, pr.Token
	anna, _ := client.New(n.URL, pa.Token)
	cv, err := anna.CreateConversation(ctx, api.CreateConversationRequest{Kind: "channel", Name: "Fahndung",
		Members: []string{"ben.mueller@" + harness.Domain, "deniz.yilmaz@" + harness.Domain}})
	if err != nil {
		t.Fatal(err)
	}
	f.conv = cv.ID
	p := []byte("first")
	if _, err := anna.Post(ctx, cv.ID, "first", p); err != nil {
		t.Fatal(err)
	}
	deniz, _ := client.New(n.URL, pr.Token)
	if err := deniz.RevokeDevice(ctx, pr.DeviceID); err != nil {
		t.Fatal(err)
	}
	f.tokens["malformed"] = "Bearer-ish nonsense"
	f.tokens["unknown"] = "wch_" + strings.Repeat("A", 43)
	return f
}

func (f *fixture) do(t *testing.T, c httpCase) (int, api.Error) {
	t.Helper()
	req, err := http.NewRequest(c.method, f.n.URL+strings.ReplaceAll(c.path, "{conv}", f.conv), strings.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+f.tokens[c.token])
	}
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

func envelopeBody(clientID string, payloadLen int) string {
	b, _ := json.Marshal(api.PostEnvelopeRequest{ClientID: clientID, Payload: bytes.Repeat([]byte{'x'}, payloadLen)})
	return string(b)
}

// TestBadInput sends malformed, oversized, unauthorised and forged requests;
// each gets a clear 4xx error and leaves the conversation unchanged.
func TestBadInput(t *testing.T) {
	f := newFixture(t)
	const ep = "/api/v1/conversations/{conv}/envelopes"
	cases := []httpCase{
		{"malformed json", "POST", ep, "anna", `{"client_id": "a", "payload": `, 400, wache.EINVALID},
		{"not json", "POST", ep, "anna", `hello`, 400, wache.EINVALID},
		{"empty body", "POST", ep, "anna", ``, 400, wache.EINVALID},
		{"unknown field", "POST", ep, "anna", `{"client_id":"a","payload":"eA==","seq":7}`, 400, wache.EINVALID},
		{"wrong type", "POST", ep, "anna", `{"client_id":5,"payload":"eA=="}`, 400, wache.EINVALID},
		{"bad base64", "POST", ep, "anna", `{"client_id":"a","payload":"%%%"}`, 400, wache.EINVALID},
		{"trailing data", "POST", ep, "anna", `{"client_id":"a","payload":"eA=="} {}`, 400, wache.EINVALID},
		{"empty payload", "POST", ep, "anna", `{"client_id":"a","payload":""}`, 400, wache.EINVALID},
		{"bad client id", "POST", ep, "anna", envelopeBody("a b/c", 10), 400, wache.EINVALID},
		{"long client id", "POST", ep, "anna", envelopeBody(strings.Repeat("a", 65), 10), 400, wache.EINVALID},
		{"oversize envelope", "POST", ep, "anna", envelopeBody("big", wache.MaxPayload+1), 413, wache.ETOOLARGE},
		{"oversize body", "POST", ep, "anna", `{"client_id":"a","payload":"` + strings.Repeat("A", 200<<10) + `"}`, 413, wache.ETOOLARGE},
		{"no token", "POST", ep, "", envelopeBody("n1", 10), 401, wache.EUNAUTHORIZED},
		{"malformed token", "POST", ep, "malformed", envelopeBody("n2", 10), 401, wache.EUNAUTHORIZED},
		{"unknown token", "POST", ep, "unknown", envelopeBody("n3", 10), 401, wache.EUNAUTHORIZED},
		{"revoked device", "POST", ep, "revoked", envelopeBody("n4", 10), 401, wache.EREVOKED},
		{"non-member post", "POST", ep, "outsider", envelopeBody("n5", 10), 404, wache.ENOTFOUND},
		{"non-member read", "GET", ep, "outsider", "", 404, wache.ENOTFOUND},
		{"non-member ack", "POST", "/api/v1/conversations/{conv}/ack", "outsider", `{"seq":1}`, 404, wache.ENOTFOUND},
		{"non-member details", "GET", "/api/v1/conversations/{conv}", "outsider", "", 404, wache.ENOTFOUND},
		{"non-member adds", "POST", "/api/v1/conversations/{conv}/members", "outsider", `{"email":"clara.wagner@polizei.example"}`, 404, wache.ENOTFOUND},
		{"reader posts in channel", "POST", ep, "ben", envelopeBody("n6", 10), 403, wache.EFORBIDDEN},
		{"unknown envelope kind", "POST", ep, "anna", `{"client_id":"k1","kind":"proposal","payload":"eA=="}`, 400, wache.EINVALID},
		{"negative epoch", "POST", ep, "anna", `{"client_id":"k2","kind":"commit","epoch":-1,"payload":"eA=="}`, 400, wache.EINVALID},
		{"garbage commit", "POST", ep, "anna", `{"client_id":"k3","kind":"commit","epoch":0,"payload":"eA=="}`, 400, wache.EINVALID},
		{"garbage key package", "POST", "/api/v1/keypackages", "anna", `{"key_packages":["eA=="]}`, 400, wache.EINVALID},
		{"too many key packages", "POST", "/api/v1/keypackages", "anna", `{"key_packages":[` + strings.TrimSuffix(strings.Repeat(`"eA==",`, 101), ",") + `]}`, 400, wache.EINVALID},
		{"empty key package", "POST", "/api/v1/keypackages", "anna", `{"key_packages":[""]}`, 400, wache.EINVALID},
		{"claim foreign domain", "POST", "/api/v1/keypackages/claim", "anna", `{"users":["x@gmail.com"]}`, 400, wache.EINVALID},
		{"claim nobody", "POST", "/api/v1/keypackages/claim", "anna", `{"users":[]}`, 400, wache.EINVALID},
		{"welcome from non-member", "POST", "/api/v1/conversations/{conv}/welcome", "outsider", `{"messages":[{"device_id":"x","payload":"eA=="}]}`, 404, wache.ENOTFOUND},
		{"welcome to unknown device", "POST", "/api/v1/conversations/{conv}/welcome", "anna", `{"messages":[{"device_id":"nope","payload":"eA=="}]}`, 404, wache.ENOTFOUND},
		{"ack unknown device message", "DELETE", "/api/v1/device-messages/nope", "anna", "", 404, wache.ENOTFOUND},
		{"directory of unknown user", "GET", "/api/v1/users/nope/devices", "anna", "", 404, wache.ENOTFOUND},
		{"reader adds member", "POST", "/api/v1/conversations/{conv}/members", "ben", `{"email":"clara.wagner@polizei.example"}`, 403, wache.EFORBIDDEN},
		{"ack beyond end", "POST", "/api/v1/conversations/{conv}/ack", "ben", `{"seq":99}`, 400, wache.EINVALID},
		{"ack negative", "POST", "/api/v1/conversations/{conv}/ack", "ben", `{"seq":-1}`, 400, wache.EINVALID},
		{"negative after", "GET", ep + "?after=-5", "ben", "", 400, wache.EINVALID},
		{"non-numeric after", "GET", ep + "?after=abc", "ben", "", 400, wache.EINVALID},
		{"unknown conversation", "POST", "/api/v1/conversations/nope/envelopes", "anna", envelopeBody("n7", 10), 404, wache.ENOTFOUND},
		{"foreign device revoke", "DELETE", "/api/v1/devices/someone-elses", "ben", "", 404, wache.ENOTFOUND},
		{"unknown endpoint", "GET", "/api/v1/nothing", "anna", "", 404, wache.ENOTFOUND},
		{"foreign domain", "POST", "/api/v1/auth/code", "", `{"email":"mallory@gmail.com"}`, 403, wache.EFORBIDDEN},
		{"lookalike domain", "POST", "/api/v1/auth/code", "", `{"email":"mallory@polizei.example.evil.com"}`, 403, wache.EFORBIDDEN},
		{"not an email", "POST", "/api/v1/auth/code", "", `{"email":"Anna <anna@polizei.example>"}`, 400, wache.EINVALID},
		{"verify without code", "POST", "/api/v1/auth/verify", "", `{"email":"clara.wagner@polizei.example","code":"123456","device_name":"x","signing_key":"` + base64.StdEncoding.EncodeToString(make([]byte, 32)) + `","signature":""}`, 401, wache.EUNAUTHORIZED},
		{"group without name", "POST", "/api/v1/conversations", "anna", `{"kind":"group","members":[]}`, 400, wache.EINVALID},
		{"unknown kind", "POST", "/api/v1/conversations", "anna", `{"kind":"secret","name":"x","members":[]}`, 400, wache.EINVALID},
		{"unknown member", "POST", "/api/v1/conversations", "anna", `{"kind":"group","name":"x","members":["ghost@polizei.example"]}`, 400, wache.EINVALID},
		{"direct with two", "POST", "/api/v1/conversations", "anna", `{"kind":"direct","members":["ben.mueller@polizei.example","clara.wagner@polizei.example"]}`, 400, wache.EINVALID},
	}
	ctx := context.Background()
	before, err := f.n.App.Store.Conversation(ctx, f.conv)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, e := f.do(t, c)
			if status != c.wantStatus || e.Error.Code != c.wantCode {
				t.Fatalf("got %d %q (%s), want %d %q", status, e.Error.Code, e.Error.Message, c.wantStatus, c.wantCode)
			}
			if e.Error.Message == "" {
				t.Fatal("error without a message")
			}
		})
	}
	after, err := f.n.App.Store.Conversation(ctx, f.conv)
	if err != nil {
		t.Fatal(err)
	}
	if after.LastSeq != before.LastSeq {
		t.Fatalf("bad input changed the conversation: last seq %d → %d", before.LastSeq, after.LastSeq)
	}
	ms, _ := f.n.App.Store.Members(ctx, f.conv)
	if len(ms) != 3 {
		t.Fatalf("bad input changed membership: %d members", len(ms))
	}
}

// TestBruteForcedCode: wrong codes are counted; after the limit even the
// right code is refused, and no device is created.
func TestBruteForcedCode(t *testing.T) {
	n := harness.Start(t, harness.Options{})
	ctx := context.Background()
	email := "anna.schmidt@" + harness.Domain
	c, _ := client.New(n.URL, "")
	if err := c.RequestCode(ctx, email); err != nil {
		t.Fatal(err)
	}
	right := harness.LatestCode(t, n.Data, email)
	wrong := "000000"
	if right == wrong {
		wrong = "111111"
	}
	for i := 0; i < 5; i++ {
		_, err := c.Verify(ctx, email, wrong, "attacker")
		code := wache.ErrorCode(err)
		if code != wache.EUNAUTHORIZED && !(i == 4 && code == wache.ERATELIMIT) {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
	}
	if _, err := c.Verify(ctx, email, right, "attacker"); wache.ErrorCode(err) != wache.ERATELIMIT {
		t.Fatalf("right code after 5 wrong ones: %v, want rate_limited", err)
	}
	u, _ := n.App.Store.UserByEmail(ctx, email)
	if ds, _ := n.App.Store.Devices(ctx, u.ID); len(ds) != 0 {
		t.Fatalf("%d devices created by a brute-force attempt", len(ds))
	}
	// Asking again right away is throttled.
	if err := c.RequestCode(ctx, email); wache.ErrorCode(err) != wache.ERATELIMIT {
		t.Fatalf("second code request at once: %v, want rate_limited", err)
	}
}

// TestForgedProofOfPossession: a device must sign with the key it enrols.
func TestForgedProofOfPossession(t *testing.T) {
	n := harness.Start(t, harness.Options{})
	ctx := context.Background()
	email := "anna.schmidt@" + harness.Domain
	c, _ := client.New(n.URL, "")
	if err := c.RequestCode(ctx, email); err != nil {
		t.Fatal(err)
	}
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	code := harness.LatestCode(t, n.Data, email)
	body, _ := json.Marshal(api.VerifyRequest{Email: email, Code: code, DeviceName: "x", SigningKey: pub,
		Signature: ed25519.Sign(other, []byte("wache-register-v1\x00"+email+"\x00"+code))})
	resp, err := http.Post(n.URL+"/api/v1/auth/verify", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("forged signature: status %d, want 400", resp.StatusCode)
	}
}

// TestRevokedDeviceOnOpenWebSocket: revoking a device closes its live
// connection at once and its client erases local state.
func TestRevokedDeviceOnOpenWebSocket(t *testing.T) {
	n := harness.Start(t, harness.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	phone, pPhone := n.Login(t, "anna.schmidt@"+harness.Domain)
	laptop, _ := n.Login(t, "anna.schmidt@"+harness.Domain)
	_ = phone
	in, _ := client.OpenInbox(ctx, &client.MemState{})
	connected := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- phone.Listen(ctx, in, client.ListenHandler{Envelope: func(context.Context, api.Envelope) error { return nil },
			Synced: func() { close(connected) }})
	}()
	<-connected
	if err := laptop.RevokeDevice(ctx, pPhone.DeviceID); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, client.ErrRevoked) {
			t.Fatalf("listen ended with %v, want ErrRevoked", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("revoked device still connected after 5s")
	}
	if _, err := phone.Me(ctx); wache.ErrorCode(err) != wache.EREVOKED {
		t.Fatalf("revoked token: %v, want device_revoked", err)
	}
}

// TestMembershipBoundaries: a member added later sees only what follows;
// a removed member stops receiving at once.
func TestMembershipBoundaries(t *testing.T) {
	n := harness.Start(t, harness.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	anna, _ := n.Device(t, "anna@"+harness.Domain)
	ben, _ := n.Device(t, "ben@"+harness.Domain)
	clara, _ := n.Device(t, "clara@"+harness.Domain)
	cv, err := anna.CreateConversation(ctx, api.CreateConversationRequest{Kind: "group", Name: "g", Members: []string{"ben@" + harness.Domain}})
	if err != nil {
		t.Fatal(err)
	}
	send := func(text string) {
		p := []byte(text)
		if _, err := anna.Post(ctx, cv.ID, client.NewClientID(), p); err != nil {
			t.Fatal(err)
		}
	}
	send("before clara")
	if err := anna.AddMember(ctx, cv.ID, "clara@"+harness.Domain, ""); err != nil {
		t.Fatal(err)
	}
	send("after clara")
	envs, err := clara.Envelopes(ctx, cv.ID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(envs) != 1 || string(envs[0].Payload) != "after clara" {
		t.Fatalf("late member sees %d envelopes, want only the one after joining", len(envs))
	}
	benUser, _ := n.App.Store.UserByEmail(ctx, "ben@"+harness.Domain)
	if err := anna.RemoveMember(ctx, cv.ID, benUser.ID); err != nil {
		t.Fatal(err)
	}
	send("after ben left")
	if _, err := ben.Envelopes(ctx, cv.ID, 0, 100); wache.ErrorCode(err) != wache.ENOTFOUND {
		t.Fatalf("removed member reads: %v, want not_found", err)
	}
}
