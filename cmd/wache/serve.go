package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/wache/wache/internal/accounts"
	"github.com/wache/wache/internal/app"
)

// serveConfig is everything `wache serve` can be told.
type serveConfig struct {
	data, addr, db, domains, smtp, tlsCert, tlsKey, brokerSpec, orgName, logLevel, logFormat, pushContact string
	demo                                                                                                  bool
	retention                                                                                             time.Duration
	authRate                                                                                              float64
}

func envOr(env *Env, key, def string) string {
	if v := env.Getenv(key); v != "" {
		return v
	}
	return def
}

func cmdServe(ctx context.Context, args []string, env *Env) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	var c serveConfig
	fs.StringVar(&c.data, "data", envOr(env, "WACHE_DATA", "data"), "data directory: SQLite database, mail spool, blobs (WACHE_DATA)")
	fs.StringVar(&c.addr, "addr", envOr(env, "WACHE_ADDR", "127.0.0.1:8080"), "listen address host:port (WACHE_ADDR)")
	fs.StringVar(&c.db, "db", envOr(env, "WACHE_DB", ""), "PostgreSQL URL postgres://…; default: SQLite in the data directory (WACHE_DB)")
	fs.StringVar(&c.domains, "allowed-domains", envOr(env, "WACHE_ALLOWED_DOMAINS", ""), "comma-separated service email domains that may register (WACHE_ALLOWED_DOMAINS)")
	fs.BoolVar(&c.demo, "demo", envOr(env, "WACHE_DEMO", "") == "1", "seed a demo authority on "+accounts.DemoDomain+"; login codes go to DATA/mail and the log (WACHE_DEMO=1)")
	fs.StringVar(&c.smtp, "smtp", envOr(env, "WACHE_SMTP", ""), "SMTP relay for login codes, smtp://user:pass@host:587?from=addr (WACHE_SMTP)")
	fs.StringVar(&c.tlsCert, "tls-cert", envOr(env, "WACHE_TLS_CERT", ""), "TLS certificate file (PEM); serve HTTPS (WACHE_TLS_CERT)")
	fs.StringVar(&c.tlsKey, "tls-key", envOr(env, "WACHE_TLS_KEY", ""), "TLS private key file (PEM) (WACHE_TLS_KEY)")
	fs.StringVar(&c.brokerSpec, "broker", envOr(env, "WACHE_BROKER", "inproc"), "fan-out broker: inproc, nats-embedded, or nats://host:4222[,nats://…] for a cluster (WACHE_BROKER)")
	fs.StringVar(&c.orgName, "org-name", envOr(env, "WACHE_ORG_NAME", "Polizei"), "name of the authority, used on first start")
	fs.StringVar(&c.pushContact, "push-contact", envOr(env, "WACHE_PUSH_CONTACT", ""), "contact for Web Push services, mailto:… or https://… (default mailto:push@<first allowed domain>) (WACHE_PUSH_CONTACT)")
	fs.DurationVar(&c.retention, "retention", 30*24*time.Hour, "delete relayed items and ended alarms older than this (0 keeps them)")
	fs.Float64Var(&c.authRate, "auth-rate", 0.5, "login requests per second allowed per client address (burst 20)")
	fs.StringVar(&c.logLevel, "log-level", envOr(env, "WACHE_LOG_LEVEL", "info"), "debug, info, warn or error")
	fs.StringVar(&c.logFormat, "log-format", envOr(env, "WACHE_LOG_FORMAT", "text"), "text or json")
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &exitError{2, fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	return serve(ctx, c, env, nil)
}

func newLogger(c serveConfig, env *Env) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, &exitError{2, fmt.Errorf("--log-level: %w", err)}
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch c.logFormat {
	case "json":
		return slog.New(slog.NewJSONHandler(env.Stderr, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(env.Stderr, opts)), nil
	}
	return nil, &exitError{2, fmt.Errorf("--log-format must be text or json")}
}

// serve runs the server until ctx ends. ready, if non-nil, receives the
// bound address (tests listen on port 0).
func serve(ctx context.Context, c serveConfig, env *Env, ready chan<- string) error {
	log, err := newLogger(c, env)
	if err != nil {
		return err
	}
	slog.SetDefault(log)
	var domains []string
	for _, d := range strings.Split(c.domains, ",") {
		if d = strings.ToLower(strings.TrimSpace(d)); d != "" {
			domains = append(domains, d)
		}
	}
	if c.demo && len(domains) == 0 {
		domains = []string{accounts.DemoDomain}
	}
	if len(domains) == 0 {
		return &exitError{2, fmt.Errorf("--allowed-domains is required (the service email domains that may register), or use --demo")}
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return &exitError{2, fmt.Errorf("--tls-cert and --tls-key go together")}
	}
	octx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	a, err := app.New(octx, app.Config{DataDir: c.data, DB: c.db, AllowedDomains: domains, Demo: c.demo, SMTP: c.smtp,
		Broker: c.brokerSpec, OrgName: c.orgName, PushContact: c.pushContact, Retention: c.retention, AuthRate: c.authRate, HSTS: c.tlsCert != "", Log: log})
	if err != nil {
		return err
	}
	defer a.Close()
	hs := &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.addr, err)
	}
	scheme := "http"
	if c.tlsCert != "" {
		scheme = "https"
	}
	url := fmt.Sprintf("%s://%s", scheme, ln.Addr())

	errc := make(chan error, 1)
	go func() {
		if c.tlsCert != "" {
			errc <- hs.ServeTLS(ln, c.tlsCert, c.tlsKey)
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	log.Info("wache serving", "url", url, "db", a.Store.DB().Dialect.Name, "broker", c.brokerSpec, "domains", strings.Join(domains, ","))
	fmt.Fprintf(env.Stdout, "Wache läuft / is running: %s\n", url)
	if c.demo {
		fmt.Fprintf(env.Stdout, "Demo logins (codes appear in the log and in %s):\n", filepath.Join(c.data, "mail"))
		for _, u := range accounts.DemoUsers {
			fmt.Fprintf(env.Stdout, "  %-32s %s\n", u.Email, u.Roles[0])
		}
		fmt.Fprintf(env.Stdout, "Try: wache login --server %s %s\n", url, accounts.DemoUsers[0].Email)
	}
	if ready != nil {
		ready <- ln.Addr().String()
	}

	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests")
	a.EndSessions() // live connections end; their clients reconnect
	sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer scancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		log.Warn("shutdown", "err", err)
	}
	// Handlers have returned, so every queued envelope has been answered;
	// Close commits anything still queued and releases the store.
	if err := a.Close(); err != nil {
		log.Warn("close", "err", err)
	}
	log.Info("stopped")
	return nil
}
