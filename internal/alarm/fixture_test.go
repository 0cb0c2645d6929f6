package alarm

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
	"github.com/wache/wache/internal/accounts"
	"github.com/wache/wache/internal/audit"
	"github.com/wache/wache/internal/broker"
	"github.com/wache/wache/internal/broker/inproc"
	"github.com/wache/wache/internal/relay"
	"github.com/wache/wache/internal/store/dbtest"
	"github.com/wache/wache/internal/store/sqldb"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// frames records every frame published to users' connections.
type frames struct {
	mu  sync.Mutex
	got []struct {
		users []string
		f     api.Frame
	}
}

func (fr *frames) handler(_ string, data []byte) {
	var w struct {
		U []string        `json:"u"`
		F json.RawMessage `json:"f"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return
	}
	var f api.Frame
	if err := json.Unmarshal(w.F, &f); err != nil {
		return
	}
	fr.mu.Lock()
	fr.got = append(fr.got, struct {
		users []string
		f     api.Frame
	}{w.U, f})
	fr.mu.Unlock()
}

// usersOf returns the users that got frames of the type, in order of
// arrival (waiting briefly: the broker delivers asynchronously).
func (fr *frames) usersOf(t *testing.T, typ string, want int) []string {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		fr.mu.Lock()
		var us []string
		for _, g := range fr.got {
			if g.f.Type == typ {
				us = append(us, g.users...)
			}
		}
		fr.mu.Unlock()
		if len(us) >= want || time.Now().After(deadline) {
			slices.Sort(us)
			return us
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// reached waits until a frame of the type reached the user.
func (fr *frames) reached(typ, user string) bool {
	deadline := time.Now().Add(3 * time.Second)
	for {
		fr.mu.Lock()
		for _, g := range fr.got {
			if g.f.Type == typ && slices.Contains(g.users, user) {
				fr.mu.Unlock()
				return true
			}
		}
		fr.mu.Unlock()
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (fr *frames) reset() { fr.mu.Lock(); fr.got = nil; fr.mu.Unlock() }

// carried records the alarms that travel with envelope notifications
// (an SOS envelope goes to the live sessions with the alarm it raised).
type carried struct {
	mu sync.Mutex
	by map[string]api.Alarm // by conversation
}

func (c *carried) handler(_ string, data []byte) {
	var w struct { // the relay's notification: conversation, …, alarm
		C string          `json:"c"`
		X json.RawMessage `json:"x"`
	}
	if json.Unmarshal(data, &w) != nil || len(w.X) == 0 {
		return
	}
	var a api.Alarm
	if json.Unmarshal(w.X, &a) != nil {
		return
	}
	c.mu.Lock()
	c.by[w.C] = a
	c.mu.Unlock()
}

// alarm waits for the alarm carried by an envelope of the conversation.
func (c *carried) alarm(conv string) (api.Alarm, bool) {
	deadline := time.Now().Add(3 * time.Second)
	for {
		c.mu.Lock()
		a, ok := c.by[conv]
		c.mu.Unlock()
		if ok || time.Now().After(deadline) {
			return a, ok
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pushes records Notify calls.
type pushes struct {
	mu    sync.Mutex
	calls []Notification
	devs  int
}

func (p *pushes) Notify(_ context.Context, ids []string, n Notification) error {
	p.mu.Lock()
	p.calls = append(p.calls, n)
	p.devs += len(ids)
	p.mu.Unlock()
	return nil
}

func (p *pushes) count(kind string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.calls {
		if c.Kind == kind {
			n++
		}
	}
	return n
}

// fixture is one database with an organisation, a unit, users, devices
// and conversations, and a service on it (a "node"; node() adds more).
type fixture struct {
	t      testing.TB
	ctx    context.Context
	db     *sqldb.DB
	st     *sqldb.Store
	br     broker.Broker
	clk    *clock
	frames *frames
	sent   *carried
	push   *pushes
	audit  *audit.Log
	svc    *Service
	org    string
	unit   string
	other  string // a second unit
}

func backends() []struct {
	name string
	open func(t testing.TB) *sqldb.DB
} {
	return []struct {
		name string
		open func(t testing.TB) *sqldb.DB
	}{
		{"sqlite", dbtest.SQLite},
		{"postgres", func(t testing.TB) *sqldb.DB { db, _ := dbtest.Postgres(t); return db }},
	}
}

// forEachDB runs the test on SQLite and PostgreSQL.
func forEachDB(t *testing.T, fn func(t *testing.T, f *fixture)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) { fn(t, newFixture(t, b.open(t))) })
	}
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newFixture(t testing.TB, db *sqldb.DB) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqldb.NewStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, ctx: ctx, db: db, st: st, br: inproc.New(), clk: &clock{t: time.Now().UTC().Truncate(time.Millisecond)},
		frames: &frames{}, sent: &carried{by: map[string]api.Alarm{}}, push: &pushes{}}
	t.Cleanup(func() { f.br.Close() })
	sub, err := f.br.Subscribe("frames.users", f.frames.handler)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Unsubscribe() })
	sub2, err := f.br.Subscribe("conv.*", f.sent.handler)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub2.Unsubscribe() })
	f.audit, err = audit.Open(ctx, db, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.audit.Close() })
	f.svc = f.node()
	o := &wache.Org{ID: accounts.NewID(), Name: "Test", Domains: []string{"t.example"}, CreatedAt: time.Now().UTC()}
	must(t, st.CreateOrg(ctx, o))
	f.org = o.ID
	for _, id := range []*string{&f.unit, &f.other} {
		u := &wache.Unit{ID: accounts.NewID(), OrgID: o.ID, Name: "Unit " + accounts.NewID()[:6]}
		must(t, st.CreateUnit(ctx, u))
		*id = u.ID
	}
	return f
}

// node starts another service with its own relay on the same database
// and broker: a second server node, or the same node after a restart.
func (f *fixture) node() *Service {
	f.t.Helper()
	rl, err := relay.New(f.st, f.br, quietLog(), nil, relay.Options{})
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { rl.Close() })
	svc, err := New(f.ctx, f.db, f.st, rl, Options{Now: f.clk.Now, Push: f.push, Audit: f.audit, Log: quietLog()})
	if err != nil {
		f.t.Fatal(err)
	}
	return svc
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	if got := wache.ErrorCode(err); got != code {
		t.Fatalf("error code %q (%v), want %q", got, err, code)
	}
}

type person struct {
	u *wache.User
	d *wache.Device
}

func (f *fixture) person(name string, unit string, roles ...wache.Role) person {
	f.t.Helper()
	if len(roles) == 0 {
		roles = []wache.Role{wache.RoleOfficer}
	}
	u := &wache.User{ID: accounts.NewID(), OrgID: f.org, UnitID: unit, Email: fmt.Sprintf("%s.%s@t.example", name, accounts.NewID()[:8]),
		DisplayName: name, Roles: roles, CreatedAt: time.Now().UTC()}
	must(f.t, f.st.CreateUser(f.ctx, u))
	d := &wache.Device{ID: accounts.NewID(), UserID: u.ID, Name: "phone", SigningKey: make([]byte, 32), CreatedAt: time.Now().UTC(), LastSeenAt: time.Now().UTC()}
	tok := make([]byte, 32)
	rand.Read(tok)
	must(f.t, f.st.CreateDevice(f.ctx, d, tok))
	return person{u, d}
}

// group creates a group with the first person as admin.
func (f *fixture) group(ps ...person) *wache.Conversation {
	f.t.Helper()
	c := &wache.Conversation{ID: accounts.NewID(), OrgID: f.org, Kind: wache.ConvGroup, Name: "g", CreatedBy: ps[0].u.ID, CreatedAt: time.Now().UTC()}
	var ms []wache.Member
	for i, p := range ps {
		role := wache.MemberReader
		if i == 0 {
			role = wache.MemberAdmin
		}
		ms = append(ms, wache.Member{ConvID: c.ID, UserID: p.u.ID, Role: role, JoinedAt: time.Now().UTC()})
	}
	must(f.t, f.st.CreateConversation(f.ctx, c, ms))
	return c
}

// post posts an application message through the service's relay.
func (f *fixture) post(p person, c *wache.Conversation, clientID string, ack bool, remind int) int64 {
	f.t.Helper()
	res, err := f.svc.relay.Post(f.ctx, p.u, p.d, c.ID, relay.Message{ClientID: clientID, Payload: []byte("ciphertext"),
		Priority: relay.PriorityUrgent, AckRequired: ack, RemindAfter: remind})
	must(f.t, err)
	return res.Seq
}

// auditActions lists the actions in the audit log, in order.
func (f *fixture) auditActions() []string {
	f.t.Helper()
	rows, err := f.db.Query(f.ctx, `SELECT action FROM audit_log ORDER BY seq`)
	must(f.t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a string
		must(f.t, rows.Scan(&a))
		out = append(out, a)
	}
	return out
}

func (f *fixture) count(q string, args ...any) int {
	f.t.Helper()
	var n int
	must(f.t, f.db.QueryRow(f.ctx, q, args...).Scan(&n))
	return n
}
