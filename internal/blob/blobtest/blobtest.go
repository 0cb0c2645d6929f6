// Package blobtest starts a real blob service for tests and benchmarks: a
// real SQLite file or PostgreSQL schema (dbtest), the real store and
// accounts service for tokens, and a real HTTP server on loopback.
package blobtest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/internal/accounts"
	"github.com/wache/wache/internal/blob"
	"github.com/wache/wache/internal/store/dbtest"
	"github.com/wache/wache/internal/store/sqldb"
)

// Backends are the database back ends tests run against.
var Backends = []string{"sqlite", "postgres"}

// Env is a running blob service.
type Env struct {
	URL   string
	Dir   string // blob directory
	DB    *sqldb.DB
	Store *sqldb.Store
	Svc   *blob.Service
	Clock *Clock
	Org   string
	srv   *httptest.Server
}

// Device is a user's enrolled device with its bearer token.
type Device struct {
	User   *wache.User
	Device *wache.Device
	Token  string
}

// Clock is a settable clock, starting at the real time.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Start runs a blob service on backend ("sqlite" or "postgres"; the latter
// skips when PostgreSQL is unreachable). opts.Now defaults to env.Clock.
func Start(t testing.TB, backend string, opts blob.Options) *Env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var db *sqldb.DB
	switch backend {
	case "sqlite":
		db = dbtest.SQLite(t)
	case "postgres":
		db, _ = dbtest.Postgres(t)
	default:
		t.Fatalf("unknown backend %q", backend)
	}
	st, err := sqldb.NewStore(ctx, db)
	if err != nil {
		t.Fatalf("store: %v", err)
	}
	e := &Env{Dir: t.TempDir(), DB: db, Store: st, Clock: &Clock{t: time.Now()}}
	if opts.Now == nil {
		opts.Now = e.Clock.Now
	}
	var w io.Writer = io.Discard
	if os.Getenv("WACHE_TEST_LOG") == "1" {
		w = os.Stderr
	}
	log := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	acc := accounts.New(st, nil, accounts.DefaultConfig([]string{"polizei.test"}), log)
	e.Svc, err = blob.New(ctx, db, e.Dir, opts, acc, st, log)
	if err != nil {
		t.Fatalf("blob service: %v", err)
	}
	org := &wache.Org{ID: accounts.NewID(), Name: "Polizei Test", Domains: []string{"polizei.test"}, CreatedAt: time.Now().UTC()}
	if err := st.CreateOrg(ctx, org); err != nil {
		t.Fatalf("create org: %v", err)
	}
	e.Org = org.ID
	mux := http.NewServeMux()
	mux.Handle(blob.BasePath, e.Svc.Handler())
	mux.Handle(strings.TrimSuffix(blob.BasePath, "/"), e.Svc.Handler())
	e.srv = httptest.NewServer(mux)
	e.URL = e.srv.URL
	t.Cleanup(func() {
		e.srv.CloseClientConnections()
		e.srv.Close()
		e.Svc.Close()
	})
	return e
}

// User creates a user with one device.
func (e *Env) User(t testing.TB, name string) *Device {
	t.Helper()
	u := &wache.User{ID: accounts.NewID(), OrgID: e.Org, Email: name + "@polizei.test", DisplayName: name,
		Roles: []wache.Role{wache.RoleOfficer}, CreatedAt: time.Now().UTC()}
	if err := e.Store.CreateUser(context.Background(), u); err != nil {
		t.Fatalf("create user: %v", err)
	}
	return e.Device(t, u)
}

// Device enrols another device for u.
func (e *Env) Device(t testing.TB, u *wache.User) *Device {
	t.Helper()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	tok := make([]byte, 32)
	rand.Read(tok)
	token := "wch_" + base64.RawURLEncoding.EncodeToString(tok)
	now := time.Now().UTC()
	d := &wache.Device{ID: accounts.NewID(), UserID: u.ID, Name: "test", SigningKey: pub, CreatedAt: now, LastSeenAt: now}
	if err := e.Store.CreateDevice(context.Background(), d, accounts.HashToken(token)); err != nil {
		t.Fatalf("create device: %v", err)
	}
	return &Device{User: u, Device: d, Token: token}
}

// Conv creates a group conversation with the given members and returns its id.
func (e *Env) Conv(t testing.TB, members ...*Device) string {
	t.Helper()
	c := &wache.Conversation{ID: accounts.NewID(), OrgID: e.Org, Kind: wache.ConvGroup, Name: "Einsatz",
		CreatedBy: members[0].User.ID, CreatedAt: time.Now().UTC()}
	var ms []wache.Member
	for _, m := range members {
		ms = append(ms, wache.Member{ConvID: c.ID, UserID: m.User.ID, Role: wache.MemberAdmin, JoinedAt: c.CreatedAt})
	}
	if err := e.Store.CreateConversation(context.Background(), c, ms); err != nil {
		t.Fatalf("create conversation: %v", err)
	}
	return c.ID
}
