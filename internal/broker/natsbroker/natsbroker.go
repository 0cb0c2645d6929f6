// Package natsbroker is a broker.Broker over NATS core pub/sub: embedded in
// the process for a single node (no port is opened), or connected to an
// external NATS cluster that several `wache serve` nodes share.
//
// All subjects are prefixed with a namespace ("wache." by default) so that
// several deployments can share one cluster; handlers see subjects without
// it. Each subscription has a bounded queue of pending messages (NATS pending
// limits); when a handler falls behind, further messages are dropped and
// counted, and the publisher never waits.
package natsbroker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/wache/wache"
	"github.com/wache/wache/internal/broker"
)

// Defaults for Options.
const (
	DefaultNamespace     = "wache"
	DefaultQueueMessages = 8192
	DefaultQueueBytes    = 64 << 20
	DefaultDrainTimeout  = 5 * time.Second

	// minServerPayload is the smallest max_payload of an external server
	// that Connect accepts.
	minServerPayload = 256 << 10
	// subscribeFlushTimeout bounds the round trip that makes a new
	// subscription known to the server before Subscribe returns.
	subscribeFlushTimeout = 2 * time.Second
	maxReconnectDelay     = 10 * time.Second
)

// Options tune a Broker; the zero value gives the defaults.
type Options struct {
	// Namespace prefixes every subject (a valid publish subject, at most 64
	// bytes). Deployments sharing a cluster need different namespaces.
	Namespace string
	// Name identifies the connection in NATS monitoring (e.g. the node).
	Name string
	// QueueMessages and QueueBytes bound the messages waiting for one
	// subscription's handler; further messages are dropped and counted.
	QueueMessages int
	QueueBytes    int
	// DrainTimeout bounds how long Close waits for queued messages to
	// reach their handlers.
	DrainTimeout time.Duration
	Logger       *slog.Logger
}

const maxNamespaceLen = 64

func (o *Options) fill() error {
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if err := broker.ValidateSubject(o.Namespace); err != nil || len(o.Namespace) > maxNamespaceLen {
		return wache.Errorf(wache.EINVALID, "natsbroker: namespace %q must be up to %d bytes of dot-separated tokens without wildcards", o.Namespace, maxNamespaceLen)
	}
	if o.Name == "" {
		o.Name = "wache"
	}
	if o.QueueMessages <= 0 {
		o.QueueMessages = DefaultQueueMessages
	}
	if o.QueueBytes <= 0 {
		o.QueueBytes = DefaultQueueBytes
	}
	o.QueueBytes = max(o.QueueBytes, broker.MaxPayload)
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = DefaultDrainTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return nil
}

// Broker is a broker.Broker over one NATS connection. It is safe for
// concurrent use.
type Broker struct {
	nc     *nats.Conn
	srv    *server.Server // nil unless embedded
	prefix string         // namespace + "."
	opts   Options
	log    *slog.Logger

	closing    atomic.Bool
	closeOnce  sync.Once
	connClosed chan struct{} // closed by the NATS closed handler

	mu      sync.Mutex
	subs    map[*subscription]struct{}
	retired uint64 // drops of subscriptions that are gone
}

var _ broker.Broker = (*Broker)(nil)

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
	b.nc = nc
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
	b.nc = nc
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !nc.IsConnected() {
		select {
		case <-ctx.Done():
			b.closing.Store(true)
			nc.Close()
			return nil, wache.Errorf(wache.EUNAVAILABLE, "natsbroker: no connection to %s: %v", shown, ctx.Err())
		case <-t.C:
		}
	}
	if mp := nc.MaxPayload(); mp < minServerPayload {
		b.closing.Store(true)
		nc.Close()
		return nil, wache.Errorf(wache.EINVALID, "natsbroker: server %s allows messages of %d bytes, need at least %d (set max_payload)", nc.ConnectedUrlRedacted(), mp, minServerPayload)
	}
	return b, nil
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
	d := maxReconnectDelay
	if attempts < 6 {
		d = min(250*time.Millisecond<<max(attempts-1, 0), maxReconnectDelay)
	}
	return d + rand.N(d/4+1)
}

func waitFor(ctx context.Context, fallback time.Duration) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		return max(time.Until(dl), time.Millisecond)
	}
	return fallback
}

func newBroker(opts Options) *Broker {
	return &Broker{
		prefix:     opts.Namespace + ".",
		opts:       opts,
		log:        opts.Logger,
		connClosed: make(chan struct{}),
		subs:       make(map[*subscription]struct{}),
	}
}

func (b *Broker) natsOptions() []nats.Option {
	var closedOnce sync.Once
	return []nats.Option{
		nats.Name(b.opts.Name),
		nats.MaxReconnects(-1),
		nats.PingInterval(20 * time.Second),
		nats.DrainTimeout(b.opts.DrainTimeout),
		nats.ConnectHandler(func(nc *nats.Conn) {
			b.log.Info("broker: connected to NATS", "server", nc.ConnectedUrlRedacted())
		}),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if b.closing.Load() {
				return
			}
			b.log.Warn("broker: disconnected from NATS; reconnecting", "error", err)
		}),
		nats.ReconnectErrHandler(func(nc *nats.Conn, err error) {
			b.log.Debug("broker: NATS reconnect attempt failed", "error", err)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
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
			// NATS reports a slow consumer once per burst of drops.
			if errors.Is(err, nats.ErrSlowConsumer) && sub != nil {
				b.log.Warn("broker: subscriber too slow, dropping messages until it catches up",
					"pattern", strings.TrimPrefix(sub.Subject, b.prefix),
					"queue_messages", b.opts.QueueMessages, "queue_bytes", b.opts.QueueBytes)
				return
			}
			b.log.Error("broker: NATS error", "error", err)
		}),
	}
}

// Dropped returns how many messages were dropped because a subscription's
// queue was full.
func (b *Broker) Dropped() uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.retired
	for s := range b.subs {
		if d, err := s.ns.Dropped(); err == nil {
			n += uint64(d)
		}
	}
	return n
}

// Publish sends data to every matching subscription on every node and
// returns without waiting for any handler. data is copied before Publish
// returns. While an external cluster is unreachable, messages are buffered
// (up to 8 MiB) and sent on reconnect.
func (b *Broker) Publish(ctx context.Context, subject string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("broker: publish: %w", err)
	}
	if err := broker.ValidateSubject(subject); err != nil {
		return err
	}
	limit := int64(broker.MaxPayload)
	if mp := b.nc.MaxPayload(); mp > 0 {
		limit = min(limit, mp)
	}
	if int64(len(data)) > limit {
		return wache.Errorf(wache.ETOOLARGE, "broker: message of %d bytes is over the limit of %d", len(data), limit)
	}
	if b.closing.Load() {
		return broker.ErrClosed
	}
	if err := b.nc.Publish(b.prefix+subject, data); err != nil {
		return b.natsErr("publish", err)
	}
	return nil
}

func (b *Broker) natsErr(op string, err error) error {
	switch {
	case errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrConnectionDraining):
		return broker.ErrClosed
	case errors.Is(err, nats.ErrMaxPayload):
		return &wache.Error{Code: wache.ETOOLARGE, Message: "broker: message over the server's limit", Err: err}
	}
	return &wache.Error{Code: wache.EUNAVAILABLE, Message: "broker: " + op + " failed", Err: err}
}

// Subscribe registers h for every subject that matches pattern, on every
// node. Before it returns, the NATS server this node is connected to knows
// the subscription (when connected), so a publish from another node that
// starts afterwards is delivered; in a cluster, other servers learn of it
// shortly after.
func (b *Broker) Subscribe(pattern string, h broker.Handler) (broker.Subscription, error) {
	if err := broker.ValidatePattern(pattern); err != nil {
		return nil, err
	}
	if h == nil {
		return nil, wache.Errorf(wache.EINVALID, "broker: nil handler")
	}
	if b.closing.Load() {
		return nil, broker.ErrClosed
	}
	s := &subscription{b: b, pattern: pattern, h: h}
	s.active.Store(true)
	ns, err := b.nc.Subscribe(b.prefix+pattern, s.onMsg)
	if err != nil {
		return nil, b.natsErr("subscribe", err)
	}
	s.ns = ns
	if err := ns.SetPendingLimits(b.opts.QueueMessages, b.opts.QueueBytes); err != nil {
		_ = ns.Unsubscribe()
		return nil, b.natsErr("subscribe", err)
	}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	if err := b.nc.FlushTimeout(subscribeFlushTimeout); err != nil && b.nc.IsConnected() {
		// Still subscribed: NATS re-sends the interest on reconnect.
		b.log.Warn("broker: subscription not confirmed by NATS", "pattern", pattern, "error", err)
	}
	return s, nil
}

// Close rejects further publishes, drains the subscriptions (queued messages
// reach their handlers, up to the drain timeout), closes the connection and
// stops an embedded server. It must not be called from a handler.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() {
		b.closing.Store(true)
		b.mu.Lock()
		for s := range b.subs {
			if d, e := s.ns.Dropped(); e == nil {
				b.retired += uint64(d)
			}
		}
		clear(b.subs)
		b.mu.Unlock()

		if err := b.nc.Drain(); err != nil {
			// Not connected: nothing to drain; Drain closed the connection.
			b.nc.Close()
		}
		t := time.NewTimer(b.opts.DrainTimeout + time.Second)
		defer t.Stop()
		select {
		case <-b.connClosed:
		case <-t.C:
			b.log.Warn("broker: NATS drain did not finish; closing", "timeout", b.opts.DrainTimeout)
			b.nc.Close()
		}
		if b.srv != nil {
			b.srv.Shutdown()
			b.srv.WaitForShutdown()
		}
	})
	return nil
}

type subscription struct {
	b       *Broker
	pattern string
	h       broker.Handler
	ns      *nats.Subscription
	active  atomic.Bool
}

func (s *subscription) onMsg(m *nats.Msg) {
	// NATS may hand over one message that raced with Unsubscribe.
	if !s.active.Load() {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			s.b.log.Error("broker: handler panicked", "pattern", s.pattern, "panic", r, "stack", string(debug.Stack()))
		}
	}()
	s.h(strings.TrimPrefix(m.Subject, s.b.prefix), m.Data)
}

// Unsubscribe stops delivery: messages not yet handed to the handler are
// discarded and nothing published afterwards arrives. A handler call already
// under way runs to its end. It may be called from the handler and more than
// once.
func (s *subscription) Unsubscribe() error {
	if !s.active.Swap(false) {
		return nil
	}
	b := s.b
	b.mu.Lock()
	if _, ok := b.subs[s]; ok {
		delete(b.subs, s)
		if d, err := s.ns.Dropped(); err == nil {
			b.retired += uint64(d)
		}
	}
	b.mu.Unlock()
	err := s.ns.Unsubscribe()
	switch {
	case err == nil, errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrConnectionDraining),
		errors.Is(err, nats.ErrBadSubscription):
		return nil
	}
	return b.natsErr("unsubscribe", err)
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
