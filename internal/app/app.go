// Package app assembles a Wache server node from its configuration: store,
// broker, relay, services and the HTTP handler. `wache serve`, the
// integration tests and the benchmarks all build the server through it, so
// they run the same composition.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/wache/wache/internal/accounts"
	"github.com/wache/wache/internal/alarm"
	"github.com/wache/wache/internal/audit"
	"github.com/wache/wache/internal/auskunft"
	"github.com/wache/wache/internal/blob"
	"github.com/wache/wache/internal/broker"
	"github.com/wache/wache/internal/broker/inproc"
	"github.com/wache/wache/internal/broker/natsbroker"
	"github.com/wache/wache/internal/convs"
	"github.com/wache/wache/internal/push"
	"github.com/wache/wache/internal/relay"
	"github.com/wache/wache/internal/server"
	"github.com/wache/wache/internal/store/postgres"
	"github.com/wache/wache/internal/store/sqldb"
	"github.com/wache/wache/internal/store/sqlite"
)

// Config is everything a node needs to know.
type Config struct {
	DataDir        string
	DB             string // postgres://… or "" for SQLite in DataDir
	AllowedDomains []string
	Demo           bool
	SMTP           string
	Broker         string // inproc, nats-embedded, nats://…
	OrgName        string
	Retention      time.Duration
	AuthRate       float64 // login requests per second per address
	HSTS           bool
	MaxBlobSize    int64 // bytes per attachment (0: 1 GiB)
	BlobQuota      int64 // bytes per user per retention window (0: 4 GiB)
	Log            *slog.Logger
	// PushContact is the VAPID contact sent to push services (mailto: or
	// https:); default mailto:push@<first allowed domain>. With Demo, push
	// endpoints may also be http:// or on private addresses.
	PushContact string
	// Broker overrides Broker with an existing instance (tests that run
	// several nodes on one in-process broker).
	SharedBroker broker.Broker
}

// App is one assembled server node.
type App struct {
	Store    *sqldb.Store
	Broker   broker.Broker
	Relay    *relay.Relay
	Blobs    *blob.Service
	Audit    *audit.Log
	Auskunft *auskunft.Service
	Accounts *accounts.Service
	Convs    *convs.Service
	Push     *push.Service // Web Push; implements push.Notifier
	wake     *push.Waker
	Alarms   *alarm.Service
	Server   *server.Server
	Registry *prometheus.Registry
	Org      string // organisation id

	log        *slog.Logger
	base       context.Context
	stop       context.CancelFunc
	ownsBroker bool
	alarmsDone chan struct{} // closed when the alarm timers stopped
	closeOnce  sync.Once
	closeErr   error
}

// New opens the store (running migrations), the broker and the services.
func New(ctx context.Context, c Config) (a *App, err error) {
	log := c.Log
	if log == nil {
		log = slog.Default()
	}
	if c.Demo && len(c.AllowedDomains) == 0 {
		c.AllowedDomains = []string{accounts.DemoDomain}
	}
	if len(c.AllowedDomains) == 0 {
		return nil, errors.New("no allowed service email domains configured (--allowed-domains, or --demo)")
	}
	if c.OrgName == "" {
		c.OrgName = "Polizei"
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	var db *sqldb.DB
	switch {
	case strings.HasPrefix(c.DB, "postgres://") || strings.HasPrefix(c.DB, "postgresql://"):
		db, err = postgres.Open(ctx, c.DB)
	case c.DB == "":
		db, err = sqlite.Open(ctx, filepath.Join(c.DataDir, "wache.db"))
	default:
		return nil, errors.New("database must be a postgres:// URL, or empty for SQLite")
	}
	if err != nil {
		return nil, err
	}
	a = &App{log: log}
	defer func() {
		if err != nil {
			a.closeAll()
		}
	}()
	a.Store, err = sqldb.NewStore(ctx, db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate database: %w", err)
	}
	if c.SharedBroker != nil {
		a.Broker = c.SharedBroker
	} else {
		a.ownsBroker = true
		switch {
		case c.Broker == "" || c.Broker == "inproc":
			a.Broker = inproc.New()
		case c.Broker == "nats-embedded":
			a.Broker, err = natsbroker.Embedded(ctx, natsbroker.Options{Logger: log})
		case strings.HasPrefix(c.Broker, "nats://") || strings.HasPrefix(c.Broker, "tls://"):
			a.Broker, err = natsbroker.Connect(ctx, c.Broker, natsbroker.Options{Logger: log})
		default:
			err = errors.New("broker must be inproc, nats-embedded or a nats:// URL")
		}
		if err != nil {
			return nil, err
		}
	}
	a.Registry = prometheus.NewRegistry()
	a.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	contact := c.PushContact
	if contact == "" {
		contact = "mailto:push@" + c.AllowedDomains[0]
	}
	if a.Push, err = push.Open(ctx, a.Store.DB(), push.Options{Subject: contact, Dev: c.Demo, Log: log, Registerer: a.Registry}); err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	// Devices that did not fetch a new envelope within the grace time (no
	// live session on any node) are woken by a content-free push.
	a.wake = a.Push.NewWaker(push.WakerOptions{})
	a.Relay, err = relay.New(a.Store, a.Broker, log, a.Registry, relay.Options{Retention: c.Retention, OnAccepted: a.wake.EnvelopeAccepted})
	if err != nil {
		return nil, err
	}

	var mailer accounts.Mailer
	if c.SMTP != "" {
		if mailer, err = accounts.NewSMTPMailer(c.SMTP); err != nil {
			return nil, err
		}
	} else {
		dir := filepath.Join(c.DataDir, "mail")
		mailer = &accounts.FileMailer{Dir: dir, Log: log, LogCodes: c.Demo}
		if !c.Demo {
			log.Warn("no SMTP relay configured: login codes are written to files, not mailed", "dir", dir)
		}
	}
	a.Accounts = accounts.New(a.Store, mailer, accounts.DefaultConfig(c.AllowedDomains), log)
	a.Accounts.OnRevoke = func(ctx context.Context, deviceID string) {
		a.Relay.DeviceRevoked(ctx, deviceID)
		a.Push.DeviceRevoked(ctx, deviceID)
	}
	org, err := accounts.EnsureOrg(ctx, a.Store, c.OrgName, c.AllowedDomains)
	if err != nil {
		return nil, err
	}
	a.Org = org.ID
	if c.Demo {
		if err := accounts.SeedDemo(ctx, a.Store, org); err != nil {
			return nil, err
		}
	}
	a.Convs = convs.New(a.Store, a.Relay, log)
	a.Blobs, err = blob.New(ctx, a.Store.DB(), filepath.Join(c.DataDir, "blobs"),
		blob.Options{Retention: c.Retention, MaxSize: c.MaxBlobSize, Quota: c.BlobQuota}, a.Accounts, a.Store, log)
	if err != nil {
		return nil, fmt.Errorf("blob store: %w", err)
	}
	if a.Audit, err = audit.Open(ctx, a.Store.DB(), audit.Options{}); err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	akStore, err := auskunft.OpenStore(ctx, a.Store.DB())
	if err != nil {
		return nil, fmt.Errorf("auskunft store: %w", err)
	}
	if a.Auskunft, err = auskunft.New(auskunft.Config{Store: akStore, Audit: a.Audit}); err != nil {
		return nil, err
	}
	if a.Alarms, err = alarm.New(ctx, a.Store.DB(), a.Store, a.Relay, alarm.Options{Audit: a.Audit, Push: alarmPusher{a.Push}, Log: log}); err != nil {
		return nil, fmt.Errorf("alarms: %w", err)
	}
	a.base, a.stop = context.WithCancel(context.Background())
	a.Server = &server.Server{Alarms: a.Alarms, Audit: a.Audit, Auskunft: a.Auskunft, Store: a.Store, Accounts: a.Accounts, Convs: a.Convs, Relay: a.Relay, Push: a.Push, Log: log,
		Registry: a.Registry, AuthRate: c.AuthRate, AuthBurst: 20, HSTS: c.HSTS, Base: a.base, Blobs: a.Blobs.Handler()}
	go a.Relay.RunRetention(a.base, time.Hour)
	a.alarmsDone = make(chan struct{})
	go func() { defer close(a.alarmsDone); a.Alarms.Run(a.base) }() // deadlines and reminders
	go a.Blobs.RunRetention(a.base, time.Hour)
	go a.Audit.RunRetention(a.base, 6*time.Hour, log) // § 76 BDSG deletion
	// Ended alarms (who answered, the timeline) go with the messages they
	// were about; the audit log keeps the trail for its own period.
	go a.Alarms.RunRetention(a.base, c.Retention, time.Hour, log)
	return a, nil
}

// Handler is the node's HTTP handler.
func (a *App) Handler() http.Handler { return a.Server.Handler() }

// EndSessions closes every live connection (before http.Server.Shutdown,
// which does not wait for hijacked connections).
func (a *App) EndSessions() {
	if a.stop != nil {
		a.stop()
	}
}

// Close commits queued envelopes and releases everything. Call it after
// the HTTP server stopped serving requests.
func (a *App) Close() error {
	a.closeOnce.Do(func() {
		a.EndSessions()
		a.closeErr = a.closeAll()
	})
	return a.closeErr
}

func (a *App) closeAll() error {
	var err error
	if a.alarmsDone != nil {
		<-a.alarmsDone // stopped by EndSessions; it posts through the relay
	}
	if a.Relay != nil {
		err = errors.Join(err, a.Relay.Close())
	}
	if a.wake != nil {
		a.wake.Close() // after the relay: no more accepted envelopes
	}
	if a.Push != nil {
		err = errors.Join(err, a.Push.Close())
	}
	if a.Blobs != nil {
		err = errors.Join(err, a.Blobs.Close())
	}
	if a.Audit != nil {
		err = errors.Join(err, a.Audit.Close())
	}
	if a.Broker != nil && a.ownsBroker {
		err = errors.Join(err, a.Broker.Close())
	}
	if a.Store != nil {
		err = errors.Join(err, a.Store.Close())
	}
	return err
}
