package alarm_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/wache/wache"
	"github.com/wache/wache/api"
	"github.com/wache/wache/internal/accounts"
	"github.com/wache/wache/internal/broker/natsbroker"
	"github.com/wache/wache/internal/harness"
)

// HTTP-level tests against a real node: raw requests, so that what is
// tested is the wire contract, not a client library.

type caller struct {
	t     testing.TB
	base  string
	token string
	user  *wache.User
}

// login enrols a device for a seeded demo user directly in the store.
func login(t testing.TB, n *harness.Node, name string) *caller {
	t.Helper()
	ctx := context.Background()
	u, err := n.App.Store.UserByEmail(ctx, name+"@"+harness.Domain)
	if err != nil {
		t.Fatalf("user %s: %v", name, err)
	}
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	tok := make([]byte, 32)
	rand.Read(tok)
	token := "wch_" + base64.RawURLEncoding.EncodeToString(tok)
	now := time.Now().UTC()
	d := &wache.Device{ID: accounts.NewID(), UserID: u.ID, Name: "test", SigningKey: pub, CreatedAt: now, LastSeenAt: now}
	if err := n.App.Store.CreateDevice(ctx, d, accounts.HashToken(token)); err != nil {
		t.Fatal(err)
	}
	return &caller{t: t, base: n.URL, token: token, user: u}
}

// do sends a request (body: nil, a string taken as raw JSON, or a value to
// encode) and returns the status and body.
func (c *caller) do(method, path string, body any) (int, []byte) {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, out
}

// ok sends a request that must succeed and decodes the answer into out.
func (c *caller) ok(method, path string, body, out any) {
	c.t.Helper()
	st, b := c.do(method, path, body)
	if st >= 300 {
		c.t.Fatalf("%s %s: %d %s", method, path, st, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

// world is the demo organisation with alarm conversations for PI Mitte.
type world struct {
	n                                   *harness.Node
	anna, ben, clara, deniz, lst, admin *caller
	alarmC, dispatchC, escC             string
}

func newWorld(t testing.TB, n *harness.Node, window int) *world {
	t.Helper()
	w := &world{n: n}
	for _, p := range []struct {
		c    **caller
		name string
	}{{&w.anna, "anna.schmidt"}, {&w.ben, "ben.mueller"}, {&w.clara, "clara.wagner"}, {&w.deniz, "deniz.yilmaz"},
		{&w.lst, "leitstelle"}, {&w.admin, "admin"}} {
		*p.c = login(t, n, p.name)
	}
	group := func(name string, members ...string) string {
		var c api.Conversation
		w.anna.ok("POST", "/api/v1/conversations", api.CreateConversationRequest{Kind: "group", Name: name, Members: members}, &c)
		return c.ID
	}
	d := "@" + harness.Domain
	w.alarmC = group("Alarm PI Mitte", "ben.mueller"+d)
	w.dispatchC = group("Leitstelle PI Mitte", "ben.mueller"+d, "leitstelle"+d)
	w.escC = group("Nachbarn", "ben.mueller"+d, "clara.wagner"+d, "deniz.yilmaz"+d)
	var units []api.Unit
	w.anna.ok("GET", "/api/v1/units", nil, &units)
	unit := ""
	for _, u := range units {
		if u.Name == "PI Mitte" {
			unit = u.ID
		}
	}
	if unit == "" || w.anna.user.UnitID != unit {
		t.Fatalf("no PI Mitte unit in %v", units)
	}
	w.admin.ok("PUT", "/api/v1/units/"+unit+"/alarm-policy", api.AlarmPolicy{AlarmConvID: w.alarmC, DispatchConvID: w.dispatchC,
		EscalationConvID: w.escC, MinComing: 2, WindowSeconds: window}, nil)
	return w
}

func (w *world) raiseReq(id string) api.RaiseAlarmRequest {
	return api.RaiseAlarmRequest{ClientID: id,
		Envelopes: []api.AlarmEnvelope{{ConvID: w.alarmC, ClientID: id + "-a", Payload: []byte("c1")},
			{ConvID: w.dispatchC, ClientID: id + "-d", Payload: []byte("c2")}},
		Escalation: &api.AlarmEnvelope{ConvID: w.escC, ClientID: id + "-e", Payload: []byte("c3")}}
}

func errCode(b []byte) string {
	var e api.Error
	_ = json.Unmarshal(b, &e)
	return e.Error.Code
}

func TestHTTPBadInput(t *testing.T) {
	n := harness.Start(t, harness.Options{})
	w := newWorld(t, n, 60)
	var a api.Alarm
	w.anna.ok("POST", "/api/v1/alarms", w.raiseReq("sos-http"), &a)
	var post api.PostEnvelopeResponse
	w.anna.ok("POST", "/api/v1/conversations/"+w.alarmC+"/envelopes", api.PostEnvelopeRequest{ClientID: "ack-http", Payload: []byte("x"),
		Priority: "urgent", AckRequired: true}, &post)
	env := fmt.Sprintf("/api/v1/conversations/%s/envelopes/%d", w.alarmC, post.Seq)
	anon := &caller{t: t, base: n.URL}
	big := `{"client_id":"x","envelopes":[{"conv_id":"c","client_id":"y","payload":"` + strings.Repeat("A", 600<<10) + `"}]}`

	for _, tc := range []struct {
		name         string
		who          *caller
		method, path string
		body         any
		status       int
		code         string
	}{
		{"raise without token", anon, "POST", "/api/v1/alarms", w.raiseReq("x"), 401, wache.EUNAUTHORIZED},
		{"raise malformed JSON", w.ben, "POST", "/api/v1/alarms", `{"client_id":`, 400, wache.EINVALID},
		{"raise unknown field", w.ben, "POST", "/api/v1/alarms", `{"client_id":"a","lat":52.5}`, 400, wache.EINVALID},
		{"raise wrong type", w.ben, "POST", "/api/v1/alarms", `{"client_id":5}`, 400, wache.EINVALID},
		{"raise too large", w.ben, "POST", "/api/v1/alarms", big, 413, wache.ETOOLARGE},
		{"raise no envelopes", w.ben, "POST", "/api/v1/alarms", `{"client_id":"a"}`, 400, wache.EINVALID},
		{"raise bad base64", w.ben, "POST", "/api/v1/alarms", `{"client_id":"a","envelopes":[{"conv_id":"c","client_id":"b","payload":"!!"}]}`, 400, wache.EINVALID},
		{"raise without policy", w.clara, "POST", "/api/v1/alarms", w.raiseReq("c"), 400, wache.EINVALID},
		{"raise into others' conversation", w.clara, "POST", "/api/v1/alarms", api.RaiseAlarmRequest{ClientID: "c",
			Envelopes: []api.AlarmEnvelope{{ConvID: w.alarmC, ClientID: "c1", Payload: []byte("x")}}}, 400, wache.EINVALID},
		{"answer own alarm", w.anna, "POST", "/api/v1/alarms/" + a.ID + "/responses", api.AlarmResponseRequest{Response: "coming"}, 403, wache.EFORBIDDEN},
		{"answer someone else's alarm", w.clara, "POST", "/api/v1/alarms/" + a.ID + "/responses", api.AlarmResponseRequest{Response: "coming"}, 404, wache.ENOTFOUND},
		{"answer unknown alarm", w.ben, "POST", "/api/v1/alarms/nope/responses", api.AlarmResponseRequest{Response: "coming"}, 404, wache.ENOTFOUND},
		{"answer maybe", w.ben, "POST", "/api/v1/alarms/" + a.ID + "/responses", api.AlarmResponseRequest{Response: "maybe"}, 400, wache.EINVALID},
		{"answer negative eta", w.ben, "POST", "/api/v1/alarms/" + a.ID + "/responses", `{"response":"coming","eta_s":-5}`, 400, wache.EINVALID},
		{"answer huge eta", w.ben, "POST", "/api/v1/alarms/" + a.ID + "/responses", `{"response":"coming","eta_s":1e12}`, 400, wache.EINVALID},
		{"end without right", w.ben, "POST", "/api/v1/alarms/" + a.ID + "/end", `{}`, 403, wache.EFORBIDDEN},
		{"end someone else's alarm", w.clara, "POST", "/api/v1/alarms/" + a.ID + "/end", `{}`, 404, wache.ENOTFOUND},
		{"end empty body", w.anna, "POST", "/api/v1/alarms/" + a.ID + "/end", ``, 400, wache.EINVALID},
		{"replace escalation by another", w.ben, "PUT", "/api/v1/alarms/" + a.ID + "/escalation", api.AlarmEnvelope{ConvID: w.escC, ClientID: "r", Payload: []byte("x")}, 403, wache.EFORBIDDEN},
		{"get hidden alarm", w.clara, "GET", "/api/v1/alarms/" + a.ID, nil, 404, wache.ENOTFOUND},
		{"list bad state", w.lst, "GET", "/api/v1/alarms?state=open", nil, 400, wache.EINVALID},
		{"list bad limit", w.lst, "GET", "/api/v1/alarms?limit=abc", nil, 400, wache.EINVALID},
		{"list limit too large", w.lst, "GET", "/api/v1/alarms?limit=100000", nil, 400, wache.EINVALID},
		{"policy by officer", w.anna, "PUT", "/api/v1/units/" + w.anna.user.UnitID + "/alarm-policy", api.AlarmPolicy{AlarmConvID: w.alarmC, DispatchConvID: w.dispatchC}, 403, wache.EFORBIDDEN},
		{"policy without unit", w.lst, "GET", "/api/v1/alarms/policy", nil, 404, wache.ENOTFOUND},
		{"receipt bad seq", w.ben, "POST", "/api/v1/conversations/" + w.alarmC + "/envelopes/abc/receipt", api.ReceiptRequest{State: "read"}, 400, wache.EINVALID},
		{"receipt zero seq", w.ben, "POST", "/api/v1/conversations/" + w.alarmC + "/envelopes/0/receipt", api.ReceiptRequest{State: "read"}, 400, wache.EINVALID},
		{"receipt bad state", w.ben, "POST", env + "/receipt", api.ReceiptRequest{State: "seen"}, 400, wache.EINVALID},
		{"receipt by sender", w.anna, "POST", env + "/receipt", api.ReceiptRequest{State: "acknowledged"}, 403, wache.EFORBIDDEN},
		{"receipt by non-member", w.clara, "POST", env + "/receipt", api.ReceiptRequest{State: "acknowledged"}, 404, wache.ENOTFOUND},
		{"receipts by plain member", w.ben, "GET", env + "/receipts", nil, 403, wache.EFORBIDDEN},
		{"receipts pending=2", w.anna, "GET", env + "/receipts?pending=2", nil, 400, wache.EINVALID},
		{"receipts limit too large", w.anna, "GET", env + "/receipts?limit=5000", nil, 400, wache.EINVALID},
		{"receipts negative limit", w.anna, "GET", env + "/receipts?limit=-1", nil, 400, wache.EINVALID},
		{"close by plain member", w.ben, "POST", env + "/close", nil, 403, wache.EFORBIDDEN},
		{"post unknown priority", w.anna, "POST", "/api/v1/conversations/" + w.alarmC + "/envelopes", api.PostEnvelopeRequest{ClientID: "p1", Payload: []byte("x"), Priority: "flash"}, 400, wache.EINVALID},
		{"post commit with priority", w.anna, "POST", "/api/v1/conversations/" + w.alarmC + "/envelopes", api.PostEnvelopeRequest{ClientID: "p2", Kind: "commit", Payload: []byte("x"), AckRequired: true}, 400, wache.EINVALID},
		{"post remind too short", w.anna, "POST", "/api/v1/conversations/" + w.alarmC + "/envelopes", api.PostEnvelopeRequest{ClientID: "p3", Payload: []byte("x"), AckRequired: true, RemindAfter: 5}, 400, wache.EINVALID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, b := tc.who.do(tc.method, tc.path, tc.body)
			if st != tc.status || errCode(b) != tc.code {
				t.Fatalf("%d %s, want %d %s", st, b, tc.status, tc.code)
			}
		})
	}

	// Then the good paths, checking state did not move on bad input.
	var got api.Alarm
	w.lst.ok("GET", "/api/v1/alarms/"+a.ID, nil, &got)
	if got.State != api.AlarmRaised || len(got.Responses) != 0 || len(got.Timeline) != 1 {
		t.Fatalf("bad input changed the alarm: %+v", got)
	}
	st, b := w.anna.do("POST", "/api/v1/alarms", w.raiseReq("sos-http-2"))
	if st != 200 || !strings.Contains(string(b), `"duplicate":true`) {
		t.Fatalf("second press: %d %s", st, b)
	}
	w.ben.ok("POST", env+"/receipt", api.ReceiptRequest{State: "acknowledged"}, nil)
	var r api.Receipts
	w.anna.ok("GET", env+"/receipts", nil, &r)
	if r.Recipients != 1 || r.Acknowledged != 1 || len(r.Members) != 1 || r.Members[0].AcknowledgedAt == nil {
		t.Fatalf("receipts %+v", r)
	}
	if st, _ := w.anna.do("POST", env+"/close", nil); st != 204 {
		t.Fatalf("close: %d", st)
	}
	var ended api.Alarm
	w.lst.ok("POST", "/api/v1/alarms/"+a.ID+"/end", api.EndAlarmRequest{FalseAlarm: true}, &ended)
	if ended.State != api.AlarmFalse {
		t.Fatalf("ended %s", ended.State)
	}
	st, b = w.anna.do("POST", "/api/v1/alarms/"+a.ID+"/end", api.EndAlarmRequest{})
	if st != 409 || errCode(b) != wache.ECONFLICT {
		t.Fatalf("end twice: %d %s", st, b)
	}
}

// TestHTTPLiveFrames: devices connected over WebSocket receive the alarm
// frames, and the envelopes arrive with priority and ack_required; also
// when the device is connected to another node than the raiser (two nodes
// on one PostgreSQL with NATS, embedded or external).
func TestHTTPLiveFrames(t *testing.T) {
	for _, setup := range []string{"one-node", "two-nodes-embedded-nats", "two-nodes-external-nats"} {
		t.Run(setup, func(t *testing.T) {
			var a, b *harness.Node
			switch setup {
			case "one-node":
				a = harness.Start(t, harness.Options{})
				b = a
			case "two-nodes-embedded-nats":
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				shared, err := natsbroker.Embedded(ctx, natsbroker.Options{})
				cancel()
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { shared.Close() })
				a = harness.Start(t, harness.Options{Postgres: true, Shared: shared})
				b = harness.Start(t, harness.Options{DBURL: a.DBURL, Shared: shared})
			default:
				conn, err := net.DialTimeout("tcp", "127.0.0.1:4222", time.Second)
				if err != nil {
					t.Skipf("no NATS at 127.0.0.1:4222: %v", err)
				}
				conn.Close()
				a = harness.Start(t, harness.Options{Postgres: true, Broker: "nats://127.0.0.1:4222"})
				b = harness.Start(t, harness.Options{DBURL: a.DBURL, Broker: "nats://127.0.0.1:4222"})
			}
			liveFrames(t, a, b)
		})
	}
}

func liveFrames(t *testing.T, a, b *harness.Node) {
	w := newWorld(t, a, 60)
	benOnB := login(t, b, "ben.mueller")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, strings.Replace(b.URL, "http", "ws", 1)+"/api/v1/ws", &websocket.DialOptions{
		Subprotocols: []string{api.Subprotocol}, HTTPHeader: http.Header{"Authorization": {"Bearer " + benOnB.token}}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	var mu sync.Mutex
	var frames []api.Frame
	synced := make(chan struct{})
	go func() {
		for {
			_, b, err := conn.Read(ctx)
			if err != nil {
				return
			}
			var f api.Frame
			if json.Unmarshal(b, &f) == nil {
				if f.Type == api.FrameSynced {
					close(synced)
				}
				mu.Lock()
				frames = append(frames, f)
				mu.Unlock()
			}
		}
	}()
	<-synced
	var al api.Alarm
	w.anna.ok("POST", "/api/v1/alarms", w.raiseReq("live"), &al)
	w.ben.ok("POST", "/api/v1/alarms/"+al.ID+"/responses", api.AlarmResponseRequest{Response: "coming", ETASeconds: 90}, nil)
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		// The SOS envelopes carry the raised alarm (one frame per envelope,
		// across nodes too); the response comes as an alarm frame.
		var raiseFrames, alarmEnvs, carried int
		var last *api.Alarm
		for _, f := range frames {
			switch {
			case f.Type == api.FrameAlarm && f.Alarm != nil && f.Alarm.ID == al.ID:
				if len(f.Alarm.Responses) == 0 {
					raiseFrames++
				}
				last = f.Alarm
			case f.Type == api.FrameEnvelope && f.Envelope.Priority == "alarm" && f.Envelope.AckRequired:
				alarmEnvs++
				if f.Alarm != nil && f.Alarm.ID == al.ID && f.Alarm.State == api.AlarmRaised {
					carried++
				}
			}
		}
		mu.Unlock()
		if alarmEnvs == 2 && carried == 2 && last != nil && len(last.Responses) == 1 {
			if raiseFrames != 0 {
				t.Fatalf("the raise came as %d alarm frames besides the envelopes", raiseFrames)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("frames: %d alarm envelopes, %d with the alarm, last alarm frame %+v", alarmEnvs, carried, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRestartEscalatesOnce: a node stops mid-alarm; after a restart on the
// same data (SQLite: the same directory; PostgreSQL: the same schema, two
// nodes at once) the persisted deadline fires exactly once.
func TestRestartEscalatesOnce(t *testing.T) {
	for _, pg := range []bool{false, true} {
		name := map[bool]string{false: "sqlite", true: "postgres"}[pg]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			n1 := harness.Start(t, harness.Options{Postgres: pg})
			w := newWorld(t, n1, 10) // the policy minimum
			var a api.Alarm
			w.anna.ok("POST", "/api/v1/alarms", w.raiseReq("restart"), &a)
			n1.Stop()

			nodes := []*harness.Node{harness.Start(t, harness.Options{DataDir: n1.Data, DBURL: n1.DBURL})}
			if pg {
				nodes = append(nodes, harness.Start(t, harness.Options{DataDir: t.TempDir(), DBURL: n1.DBURL}))
			}
			lst := login(t, nodes[0], "leitstelle")
			deadline := time.Now().Add(25 * time.Second)
			var got api.Alarm
			for {
				lst.ok("GET", "/api/v1/alarms/"+a.ID, nil, &got)
				if got.State == api.AlarmEscalated && len(got.Envelopes) == 3 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("not escalated after restart: %+v", got)
				}
				time.Sleep(200 * time.Millisecond)
			}
			time.Sleep(2 * time.Second) // give a second firing the chance to show
			lst.ok("GET", "/api/v1/alarms/"+a.ID, nil, &got)
			esc := 0
			for _, e := range got.Timeline {
				if e.Event == api.AlarmEscalated {
					esc++
				}
			}
			clara := login(t, nodes[len(nodes)-1], "clara.wagner")
			var envs api.Envelopes
			clara.ok("GET", "/api/v1/conversations/"+w.escC+"/envelopes", nil, &envs)
			if esc != 1 || len(envs.Envelopes) != 1 || string(envs.Envelopes[0].Payload) != "c3" || envs.Envelopes[0].Priority != "alarm" {
				t.Fatalf("%d escalations, %d escalation envelopes", esc, len(envs.Envelopes))
			}
			if got.EscalatedAt.Before(got.Deadline) {
				t.Fatalf("escalated at %v, before the deadline %v", got.EscalatedAt, got.Deadline)
			}
		})
	}
}
