// Package harness starts real Wache server nodes for integration tests and
// benchmarks: the same composition as `wache serve` (package app) on a real
// SQLite file or PostgreSQL schema, behind a real HTTP listener on loopback.
package harness

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/client"
	"github.com/wache/wache/internal/accounts"
	"github.com/wache/wache/internal/app"
	"github.com/wache/wache/internal/broker"
	"github.com/wache/wache/internal/store/dbtest"
)

// Options choose a node's parts.
type Options struct {
	Postgres bool   // PostgreSQL (skips when unreachable) instead of SQLite
	DBURL    string // reuse this PostgreSQL schema (second node)
	DataDir  string // reuse this data directory (restart)
	Broker   string // inproc (default), nats-embedded, nats://…
	Shared   broker.Broker
	Log      io.Writer // server log; default discarded unless WACHE_TEST_LOG=1
}

// Node is a running server.
type Node struct {
	URL   string
	DBURL string
	Data  string
	App   *app.App
	srv   *httptest.Server
}

// Domain is the service domain of harness users.
const Domain = accounts.DemoDomain

// Start starts a node and stops it when the test ends.
func Start(t testing.TB, o Options) *Node {
	t.Helper()
	n := &Node{Data: o.DataDir, DBURL: o.DBURL}
	if n.Data == "" {
		n.Data = t.TempDir()
	}
	if o.Postgres && n.DBURL == "" {
		_, n.DBURL = dbtest.Postgres(t)
	}
	w := o.Log
	if w == nil {
		w = io.Discard
		if os.Getenv("WACHE_TEST_LOG") == "1" {
			w = os.Stderr
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := app.New(ctx, app.Config{DataDir: n.Data, DB: n.DBURL, Demo: true, Broker: o.Broker, SharedBroker: o.Shared,
		AuthRate: 1000, Log: slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	n.App = a
	n.srv = httptest.NewServer(a.Handler())
	n.URL = n.srv.URL
	t.Cleanup(n.Stop)
	return n
}

// Stop shuts the node down gracefully (idempotent).
func (n *Node) Stop() {
	if n.srv == nil {
		return
	}
	n.App.EndSessions()
	n.srv.CloseClientConnections()
	n.srv.Close()
	n.App.Close()
	n.srv = nil
}

// User makes sure a user with this email exists and returns it.
func (n *Node) User(t testing.TB, email string) *wache.User {
	t.Helper()
	ctx := context.Background()
	st := n.App.Store
	if u, err := st.UserByEmail(ctx, email); err == nil {
		return u
	}
	u := &wache.User{ID: accounts.NewID(), OrgID: n.App.Org, Email: email, DisplayName: email[:strings.IndexByte(email, '@')],
		Roles: []wache.Role{wache.RoleOfficer}, CreatedAt: time.Now().UTC()}
	if err := st.CreateUser(ctx, u); err != nil {
		t.Fatalf("create user %s: %v", email, err)
	}
	return u
}

// Device enrols a new device for the user directly in the store (no mail
// round trip; for tests and benchmarks that need many devices) and returns
// a logged-in client.
func (n *Node) Device(t testing.TB, email string) (*client.Client, *wache.Device) {
	t.Helper()
	u := n.User(t, email)
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	tok := make([]byte, 32)
	rand.Read(tok)
	token := "wch_" + base64.RawURLEncoding.EncodeToString(tok)
	now := time.Now().UTC()
	d := &wache.Device{ID: accounts.NewID(), UserID: u.ID, Name: "test", SigningKey: pub, CreatedAt: now, LastSeenAt: now}
	if err := n.App.Store.CreateDevice(context.Background(), d, accounts.HashToken(token)); err != nil {
		t.Fatalf("create device: %v", err)
	}
	c, err := client.New(n.URL, token)
	if err != nil {
		t.Fatal(err)
	}
	return c, d
}

var codeRE = regexp.MustCompile(`Anmeldecode: (\d{6})`)

// LatestCode returns the newest login code mailed to email.
func LatestCode(t testing.TB, dataDir, email string) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dataDir, "mail", "*-"+email+".eml"))
	sort.Strings(files)
	if len(files) == 0 {
		t.Fatalf("no login mail for %s", email)
	}
	b, err := os.ReadFile(files[len(files)-1])
	if err != nil {
		t.Fatal(err)
	}
	m := codeRE.FindSubmatch(b)
	if m == nil {
		t.Fatalf("no code in mail for %s", email)
	}
	return string(m[1])
}

// Login runs the real login flow (code by mail, device key, proof of
// possession) and returns the client and its profile.
func (n *Node) Login(t testing.TB, email string) (*client.Client, *client.Profile) {
	t.Helper()
	ctx := context.Background()
	c, err := client.New(n.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.RequestCode(ctx, email); err != nil {
		t.Fatalf("request code for %s: %v", email, err)
	}
	p, err := c.Verify(ctx, email, LatestCode(t, n.Data, email), "test device")
	if err != nil {
		t.Fatalf("verify %s: %v", email, err)
	}
	return c, p
}
