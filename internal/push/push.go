// Package push wakes devices that have no live connection through Web Push:
// RFC 8030 delivery to the push service the browser chose, RFC 8291 payload
// encryption (aes128gcm) and RFC 8292 VAPID authentication, done by the
// github.com/SherClockHolmes/webpush-go library.
//
// Payloads carry no content: only {"k":"alarm"|"message"|"reminder"},
// padded to one constant length, so that neither the push service nor an
// observer learns more than "something is waiting". The woken app fetches
// the real, MLS-encrypted items over its authenticated connection.
//
// The VAPID key pair is created by the first node that starts and kept in
// the database, so every node of a cluster signs with the key the browsers
// subscribed with. Subscriptions are stored per device; revoking a device
// deletes them, and a push service's 404/410 answer removes the dead one.
package push

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/wache/wache"
	"github.com/wache/wache/internal/store/sqldb"
)

//go:embed migrations
var migrations embed.FS

// Notification kinds and urgencies (RFC 8030 §5.3).
const (
	KindAlarm    = "alarm"
	KindMessage  = "message"
	KindReminder = "reminder"

	UrgencyNormal = "normal"
	UrgencyHigh   = "high"
)

// Notification is what a push says: its kind and how urgently the push
// service should deliver it. Alarms are always sent with urgency high.
type Notification struct {
	Kind    string // KindAlarm, KindMessage or KindReminder
	Urgency string // UrgencyNormal or UrgencyHigh; "" = the kind's default
}

// Notifier sends a push to every subscription of the given devices. It is
// the interface the alarm and relay code call; a nil Notifier means no push.
type Notifier interface {
	Notify(ctx context.Context, deviceIDs []string, n Notification) error
}

// Options tune a Service. The zero value is valid except for Subject.
type Options struct {
	// Subject is the VAPID "sub" claim (RFC 8292 §2.1): a mailto: or
	// https: contact for the push service's operators.
	Subject string
	// Dev allows http:// endpoints and endpoints on loopback or private
	// addresses (test and development servers only).
	Dev bool
	// Client sends the pushes; default: timeouts, no redirects and, unless
	// Dev, refusal to connect to non-public addresses.
	Client *http.Client
	// Workers bounds concurrent pushes (default 16); Queue bounds pushes
	// waiting for a worker (default 10000; more are dropped and counted).
	Workers, Queue int
	// Timeout bounds one push request (default 10 s).
	Timeout time.Duration
	// Attempts bounds the tries of one push (default 4): a push service's
	// 429 or 5xx and network errors are tried again after RetryBase (default
	// 1 s), doubling, or after the service's Retry-After if that is longer.
	Attempts  int
	RetryBase time.Duration
	Log       *slog.Logger
	// Registerer receives the push metrics (may be nil).
	Registerer prometheus.Registerer
	Now        func() time.Time
}

// Service keeps the VAPID key and the subscriptions and sends pushes.
type Service struct {
	db      *sqldb.DB
	opts    Options
	log     *slog.Logger
	client  *http.Client
	subject string // as the library wants it: an address or an https URL
	pub     string // base64url, uncompressed point
	priv    string // base64url, 32-byte scalar
	sent    *prometheus.CounterVec

	jobs      chan job
	base      context.Context
	cancel    context.CancelFunc
	workers   sync.WaitGroup
	closeOnce sync.Once
	closeMu   sync.RWMutex // guards closed against sends on jobs
	closed    bool

	pendMu  sync.Mutex
	pending int
	idle    []chan struct{}
}

// Open applies the push migrations, loads or creates the cluster's VAPID
// key pair and starts the senders. Close stops them.
func Open(ctx context.Context, db *sqldb.DB, opts Options) (*Service, error) {
	sub := "migrations/sqlite"
	if db.Dialect.Postgres() {
		sub = "migrations/postgres"
	}
	fsys, err := fs.Sub(migrations, sub)
	if err != nil {
		return nil, fmt.Errorf("push migrations: %w", err)
	}
	if err := db.Migrate(ctx, "push", fsys); err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	subject, err := vapidSubject(opts.Subject)
	if err != nil {
		return nil, err
	}
	if opts.Workers <= 0 {
		opts.Workers = 16
	}
	if opts.Queue <= 0 {
		opts.Queue = 10000
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Attempts <= 0 {
		opts.Attempts = 4
	}
	if opts.RetryBase <= 0 {
		opts.RetryBase = time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Service{db: db, opts: opts, log: opts.Log, subject: subject, client: opts.Client,
		jobs: make(chan job, opts.Queue)}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.client == nil {
		s.client = newClient(opts.Dev, opts.Timeout)
	}
	s.sent = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wache_push_sent_total",
		Help: "Web Push requests by result (ok, gone, retried, failed, dropped).",
	}, []string{"result"})
	if opts.Registerer != nil {
		if err := opts.Registerer.Register(s.sent); err != nil {
			return nil, fmt.Errorf("push metrics: %w", err)
		}
	}
	if s.priv, s.pub, err = loadOrCreateVAPID(ctx, db, opts.Now()); err != nil {
		return nil, err
	}
	// Subscriptions of devices revoked while this node was down (the
	// revocation hook runs only on the node that revoked).
	if _, err := db.Exec(ctx, `DELETE FROM push_subscriptions WHERE device_id IN
		(SELECT id FROM devices WHERE revoked_at IS NOT NULL)`); err != nil {
		return nil, fmt.Errorf("push: drop subscriptions of revoked devices: %w", err)
	}
	s.base, s.cancel = context.WithCancel(context.Background())
	for range opts.Workers {
		s.workers.Add(1)
		go s.worker()
	}
	return s, nil
}

// Close stops accepting pushes, lets the queued ones run out (each bounded
// by Timeout) and stops the senders.
func (s *Service) Close() error {
	s.closeOnce.Do(func() {
		s.closeMu.Lock()
		s.closed = true
		close(s.jobs)
		s.closeMu.Unlock()
		done := make(chan struct{})
		go func() { s.workers.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(s.opts.Timeout + time.Second):
			s.cancel() // abort what is still in flight
			<-done
		}
		s.cancel()
	})
	return nil
}

// PublicKey is the VAPID public key (uncompressed P-256 point, base64url
// without padding): the applicationServerKey for PushManager.subscribe.
func (s *Service) PublicKey() string { return s.pub }

// vapidSubject checks the contact and returns it in the library's form
// (it prefixes "mailto:" to anything that is not an https: URL).
func vapidSubject(sub string) (string, error) {
	switch {
	case strings.HasPrefix(sub, "mailto:") && len(sub) > len("mailto:") && strings.Contains(sub, "@"):
		return strings.TrimPrefix(sub, "mailto:"), nil
	case strings.HasPrefix(sub, "https://") && len(sub) > len("https://"):
		return sub, nil
	}
	return "", fmt.Errorf("push: VAPID subject must be a mailto: address or an https: URL, got %q", sub)
}

// loadOrCreateVAPID returns the cluster's key pair, creating it if no node
// has yet. Concurrent first starts are safe: only one insert wins and every
// node reads back the winner.
func loadOrCreateVAPID(ctx context.Context, db *sqldb.DB, now time.Time) (priv, pub string, err error) {
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("push: generate VAPID key: %w", err)
	}
	enc := base64.RawURLEncoding
	if _, err := db.Exec(ctx, `INSERT INTO push_vapid (id, private_key, public_key, created_at) VALUES (1, ?, ?, ?)
		ON CONFLICT (id) DO NOTHING`, enc.EncodeToString(k.Bytes()), enc.EncodeToString(k.PublicKey().Bytes()), now.UnixMilli()); err != nil {
		return "", "", fmt.Errorf("push: store VAPID key: %w", err)
	}
	// Read from the writer: a reader may not see the row just inserted.
	row := db.W.QueryRowContext(ctx, `SELECT private_key, public_key FROM push_vapid WHERE id = 1`)
	if err := row.Scan(&priv, &pub); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return "", "", errors.New("push: VAPID key missing after insert")
		}
		return "", "", fmt.Errorf("push: load VAPID key: %w", err)
	}
	// A damaged row must stop the start rather than sign with nonsense.
	raw, err := enc.DecodeString(priv)
	if err != nil {
		return "", "", errors.New("push: stored VAPID private key is not base64url")
	}
	sk, err := ecdh.P256().NewPrivateKey(raw)
	if err != nil {
		return "", "", errors.New("push: stored VAPID private key is not a P-256 scalar")
	}
	if enc.EncodeToString(sk.PublicKey().Bytes()) != pub {
		return "", "", errors.New("push: stored VAPID public key does not match the private key")
	}
	return priv, pub, nil
}

var errClosed = wache.Errorf(wache.EUNAVAILABLE, "push service is shutting down")

// Dev reports whether the service accepts development endpoints (http://,
// private addresses).
func (s *Service) Dev() bool { return s.opts.Dev }
