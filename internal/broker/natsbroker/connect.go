package natsbroker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/wache/wache"
	"github.com/wache/wache/internal/broker"
)

const (
	// minServerPayload is the smallest max_payload of an external server
	// that Connect accepts.
	minServerPayload  = 256 << 10
	maxReconnectDelay = 10 * time.Second
)

// Embedded starts a NATS server inside the process that listens on no port
// and connects to it in-process. It is the single-node default. ctx bounds
// the start-up.
func Embedded(ctx context.Context, opts Options) (*Broker, error) {
	if err := opts.fill(); err != nil {
		return nil, err
	}
	srv, err := server.NewServer(&server.Options{
		ServerName: "wache-embedded",
		DontListen: true,
		NoSigs:     true,
		MaxPayload: broker.MaxPayload,
	})
	if err != nil {
		return nil, fmt.Errorf("natsbroker: embedded server: %w", err)
	}
	srv.SetLoggerV2(serverLog{opts.Logger}, false, false, false)
	srv.Start()
	if !srv.ReadyForConnections(waitFor(ctx, 10*time.Second)) {
		srv.Shutdown()
		return nil, wache.Errorf(wache.EUNAVAILABLE, "natsbroker: embedded server did not start")
	}
	b := newBroker(opts)
	b.srv = srv
	nc, err := nats.Connect("", append(b.natsOptions(), nats.InProcessServer(srv))...)
	if err != nil {
		srv.Shutdown()
		return nil, fmt.Errorf("natsbroker: connect to embedded server: %w", err)
	}
	b.start(nc)
	return b, nil
}

// Connect joins an external NATS cluster at urls (comma-separated, e.g.
// "nats://n1:4222,nats://n2:4222"; credentials and tls:// work as in NATS
// URLs). It waits until it is connected or ctx ends; once connected it
// reconnects forever with backoff.
func Connect(ctx context.Context, urls string, opts Options) (*Broker, error) {
	if err := opts.fill(); err != nil {
		return nil, err
	}
	shown, err := checkURLs(urls)
	if err != nil {
		return nil, err
	}
	b := newBroker(opts)
	nc, err := nats.Connect(urls, append(b.natsOptions(),
		nats.RetryOnFailedConnect(true),
		nats.CustomReconnectDelay(backoff),
	)...)
	if err != nil {
		return nil, fmt.Errorf("natsbroker: connect to %s: %w", shown, err)
	}
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !nc.IsConnected() {
		select {
		case <-ctx.Done():
			b.abandon(nc)
			if last, _ := b.lastErr.Load().(string); last != "" {
				return nil, wache.Errorf(wache.EUNAVAILABLE, "natsbroker: no connection to %s: %v (last error: %s)", shown, ctx.Err(), last)
			}
			return nil, wache.Errorf(wache.EUNAVAILABLE, "natsbroker: no connection to %s: %v", shown, ctx.Err())
		case <-t.C:
		}
	}
	if mp := nc.MaxPayload(); mp < minServerPayload {
		b.abandon(nc)
		return nil, wache.Errorf(wache.EINVALID, "natsbroker: server %s allows messages of %d bytes, need at least %d (set max_payload)", nc.ConnectedUrlRedacted(), mp, minServerPayload)
	}
	b.start(nc)
	return b, nil
}

// abandon closes a connection that never became a Broker, and waits until
// NATS has run its callbacks, so none fires after the constructor returned.
func (b *Broker) abandon(nc *nats.Conn) {
	b.closing.Store(true)
	nc.Close()
	select {
	case <-b.connClosed:
	case <-time.After(time.Second):
	}
}

func (b *Broker) start(nc *nats.Conn) {
	b.nc = nc
	go b.route()
}

// checkURLs rejects malformed server lists and returns the list with
// credentials removed, for messages.
func checkURLs(urls string) (string, error) {
	var shown []string
	for raw := range strings.SplitSeq(urls, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			return "", wache.Errorf(wache.EINVALID, "natsbroker: empty server URL in list")
		}
		if !strings.Contains(raw, "://") {
			raw = "nats://" + raw
		}
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			return "", wache.Errorf(wache.EINVALID, "natsbroker: server URL %q is not host:port or scheme://host:port", redact(raw))
		}
		switch u.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			return "", wache.Errorf(wache.EINVALID, "natsbroker: server URL scheme %q: want nats, tls, ws or wss", u.Scheme)
		}
		shown = append(shown, u.Redacted())
	}
	return strings.Join(shown, ","), nil
}

// redact hides credentials in a URL that did not parse.
func redact(raw string) string {
	if i := strings.LastIndex(raw, "@"); i >= 0 {
		if j := strings.Index(raw, "://"); j >= 0 && j < i {
			return raw[:j+3] + "xxxxx" + raw[i:]
		}
		return "xxxxx" + raw[i:]
	}
	return raw
}

// backoff is the delay after attempts failed passes over the server list:
// exponential from 250ms to 10s, with jitter so that nodes restarted together
// do not reconnect in lockstep.
func backoff(attempts int) time.Duration {
	d := min(250*time.Millisecond<<min(max(attempts-1, 0), 6), maxReconnectDelay)
	return d + rand.N(d/4+1)
}

func waitFor(ctx context.Context, fallback time.Duration) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return max(time.Until(dl), time.Millisecond)
	}
	return fallback
}

func (b *Broker) natsOptions() []nats.Option {
	var closedOnce sync.Once
	return []nats.Option{
		nats.Name(b.opts.Name),
		nats.MaxReconnects(-1),
		nats.PingInterval(20 * time.Second),
		nats.DrainTimeout(b.opts.DrainTimeout),
		nats.ConnectHandler(func(nc *nats.Conn) {
			b.lastErr.Store("")
			b.log.Info("broker: connected to NATS", "server", nc.ConnectedUrlRedacted())
		}),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if b.closing.Load() {
				return
			}
			b.log.Warn("broker: disconnected from NATS; reconnecting", "error", err)
		}),
		nats.ReconnectErrHandler(func(nc *nats.Conn, err error) {
			if b.closing.Load() {
				return
			}
			// Attempts repeat forever: log each new kind of failure once.
			msg := err.Error()
			if prev, _ := b.lastErr.Swap(msg).(string); prev != msg {
				b.log.Warn("broker: cannot reach NATS; retrying", "error", err)
				return
			}
			b.log.Debug("broker: NATS reconnect attempt failed", "error", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			b.lastErr.Store("")
			b.log.Info("broker: reconnected to NATS", "server", nc.ConnectedUrlRedacted())
		}),
		nats.DiscoveredServersHandler(func(nc *nats.Conn) {
			b.log.Info("broker: NATS cluster servers discovered", "servers", len(nc.Servers()))
		}),
		nats.ClosedHandler(func(nc *nats.Conn) {
			closedOnce.Do(func() { close(b.connClosed) })
			if !b.closing.Load() {
				b.log.Error("broker: NATS connection closed unexpectedly")
			}
		}),
		nats.ErrorHandler(func(nc *nats.Conn, sub *nats.Subscription, err error) {
			// NATS reports a slow consumer once per burst of drops. Here
			// that means the router's inbox overflowed: it got no CPU.
			if errors.Is(err, nats.ErrSlowConsumer) && sub != nil {
				b.log.Warn("broker: messages arrive faster than they can be routed; dropping",
					"pattern", strings.TrimPrefix(sub.Subject, b.prefix), "inbox", cap(b.inbox))
				return
			}
			b.log.Error("broker: NATS error", "error", err)
		}),
	}
}

// serverLog sends the embedded server's log to slog; its notices are
// start-up chatter, so they go to debug.
type serverLog struct{ log *slog.Logger }

func (l serverLog) at(level slog.Level, format string, v []any) {
	if l.log.Enabled(context.Background(), level) {
		l.log.Log(context.Background(), level, "nats: "+fmt.Sprintf(format, v...))
	}
}

func (l serverLog) Noticef(format string, v ...any) { l.at(slog.LevelDebug, format, v) }
func (l serverLog) Warnf(format string, v ...any)   { l.at(slog.LevelWarn, format, v) }
func (l serverLog) Fatalf(format string, v ...any)  { l.at(slog.LevelError, format, v) }
func (l serverLog) Errorf(format string, v ...any)  { l.at(slog.LevelError, format, v) }
func (l serverLog) Debugf(format string, v ...any)  { l.at(slog.LevelDebug, format, v) }
func (l serverLog) Tracef(format string, v ...any)  { l.at(slog.LevelDebug, format, v) }
