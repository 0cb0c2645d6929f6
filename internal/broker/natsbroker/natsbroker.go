// Package natsbroker is a broker.Broker over NATS core pub/sub: embedded in
// the process for a single node (no port is opened), or connected to an
// external NATS cluster that several `wache serve` nodes share.
//
// All subjects are prefixed with a namespace ("wache." by default) so that
// several deployments can share one cluster; handlers see subjects without
// it.
//
// A node holds one NATS subscription per distinct pattern, however many local
// subscriptions share it, so the server sends each message to a node once.
// NATS delivers into one channel per connection; a single goroutine routes
// from there into the bounded per-subscription queues that inproc uses too
// (internal/dispatch). Idle subscriptions therefore cost no goroutine, and a
// slow handler makes its own queue drop messages (counted) while the
// publisher and the other subscriptions go on.
package natsbroker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/wache/wache"
	"github.com/wache/wache/internal/broker"
	"github.com/wache/wache/internal/broker/internal/dispatch"
)

// Defaults for Options.
const (
	DefaultNamespace    = "wache"
	DefaultDrainTimeout = 5 * time.Second

	maxNamespaceLen = 64
	// inboxSize is the channel between the NATS reader and the router. The
	// router only enqueues, so it fills only if the router gets no CPU.
	inboxSize = 16384
	// subscribeFlushTimeout bounds the round trip that makes a new
	// subscription known to the server before Subscribe returns.
	subscribeFlushTimeout = 2 * time.Second
)

// Options tune a Broker; the zero value gives the defaults.
type Options struct {
	// Namespace prefixes every subject (a valid publish subject, at most 64
	// bytes). Deployments sharing a cluster need different namespaces.
	Namespace string
	// Name identifies the connection in NATS monitoring (e.g. the node).
	Name string
	// QueueMessages (default 8192) and QueueBytes (default 64 MiB, at least
	// broker.MaxPayload) bound the messages waiting for one subscription's
	// handler; further messages are dropped and counted.
	QueueMessages int
	QueueBytes    int
	// DrainTimeout bounds how long Close waits for queued messages to
	// reach their handlers.
	DrainTimeout time.Duration
	Logger       *slog.Logger

	inbox int // tests only: capacity of the router's inbox
}

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
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = DefaultDrainTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.inbox <= 0 {
		o.inbox = inboxSize
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
	d      *dispatch.Dispatcher

	inbox      chan *nats.Msg // every NATS subscription delivers here
	stopRouter chan struct{}
	routerDone chan struct{}

	closing    atomic.Bool
	lastErr    atomic.Value // string: the last failed connection attempt
	closeOnce  sync.Once
	connClosed chan struct{} // closed by the NATS closed handler

	mu      sync.RWMutex
	groups  map[string]*group // by pattern
	bySub   map[*nats.Subscription]*group
	retired uint64 // inbox drops of groups that are gone, per subscription
}

// group is the one NATS subscription for a pattern and the local
// subscriptions that share it.
type group struct {
	pattern string
	ns      *nats.Subscription
	subs    []*subscription // copy-on-write: the router reads it unlocked
	ready   chan struct{}   // closed once the server has seen the interest

	// A message NATS drops at a full inbox is lost to every subscription
	// of the group; drops count per subscription, as in the queues.
	folded uint64 // weighted drops up to the last change of subs
	seen   int    // ns.Dropped() at that change
}

// fold brings g.folded up to date before g.subs changes; b.mu is held.
func (g *group) fold() {
	if d, err := g.ns.Dropped(); err == nil && d > g.seen {
		g.folded += uint64(d-g.seen) * uint64(len(g.subs))
		g.seen = d
	}
}

// drops is g's weighted drop count; b.mu is held (read suffices).
func (g *group) drops() uint64 {
	n := g.folded
	if d, err := g.ns.Dropped(); err == nil && d > g.seen {
		n += uint64(d-g.seen) * uint64(len(g.subs))
	}
	return n
}

var _ broker.Broker = (*Broker)(nil)

func newBroker(opts Options) *Broker {
	return &Broker{
		prefix:     opts.Namespace + ".",
		opts:       opts,
		log:        opts.Logger,
		d:          dispatch.New(dispatch.Options{QueueMessages: opts.QueueMessages, QueueBytes: opts.QueueBytes, Logger: opts.Logger}),
		inbox:      make(chan *nats.Msg, opts.inbox),
		stopRouter: make(chan struct{}),
		routerDone: make(chan struct{}),
		connClosed: make(chan struct{}),
		groups:     make(map[string]*group),
		bySub:      make(map[*nats.Subscription]*group),
	}
}

// route moves messages from NATS into the subscriptions' queues until
// stopRouter is closed, and then empties the inbox.
func (b *Broker) route() {
	defer close(b.routerDone)
	for {
		select {
		case m := <-b.inbox:
			b.deliver(m)
		case <-b.stopRouter:
			for {
				select {
				case m := <-b.inbox:
					b.deliver(m)
				default:
					return
				}
			}
		}
	}
}

func (b *Broker) deliver(m *nats.Msg) {
	b.mu.RLock()
	var subs []*subscription
	if g := b.bySub[m.Sub]; g != nil {
		subs = g.subs
	}
	b.mu.RUnlock()
	subject := strings.TrimPrefix(m.Subject, b.prefix)
	// m.Data is this message's own copy (NATS allocates it per message);
	// the subscribers share it read-only.
	for _, s := range subs {
		s.q.Enqueue(subject, m.Data)
	}
}

// Dropped returns how many messages were dropped because a subscription's
// queue (or the router's inbox) was full, counting one per subscription that
// missed the message.
func (b *Broker) Dropped() uint64 {
	b.mu.RLock()
	defer b.mu.RUnlock()
	n := b.d.Dropped() + b.retired
	for _, g := range b.groups {
		n += g.drops()
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
// the pattern (when connected), so a publish from another node that starts
// afterwards is delivered; in a cluster, other servers learn of it shortly
// after.
func (b *Broker) Subscribe(pattern string, h broker.Handler) (broker.Subscription, error) {
	if err := broker.ValidatePattern(pattern); err != nil {
		return nil, err
	}
	if h == nil {
		return nil, wache.Errorf(wache.EINVALID, "broker: nil handler")
	}
	b.mu.Lock()
	if b.closing.Load() {
		b.mu.Unlock()
		return nil, broker.ErrClosed
	}
	g := b.groups[pattern]
	created := g == nil
	if created {
		ns, err := b.nc.ChanSubscribe(b.prefix+pattern, b.inbox)
		if err != nil {
			b.mu.Unlock()
			return nil, b.natsErr("subscribe", err)
		}
		g = &group{pattern: pattern, ns: ns, ready: make(chan struct{})}
		b.groups[pattern] = g
		b.bySub[ns] = g
	}
	s := &subscription{b: b, g: g, q: b.d.NewSub(pattern, h)}
	g.fold()
	g.subs = append(slices.Clip(g.subs), s)
	b.mu.Unlock()

	if created {
		err := b.nc.FlushTimeout(subscribeFlushTimeout)
		close(g.ready)
		if err != nil && b.nc.IsConnected() {
			// Still subscribed: NATS sends the interest again on reconnect.
			b.log.Warn("broker: subscription not confirmed by NATS", "pattern", pattern, "error", err)
		}
	} else {
		select {
		case <-g.ready:
		case <-time.After(subscribeFlushTimeout):
		}
	}
	return s, nil
}

// Close rejects further publishes, drains the subscriptions (queued messages
// reach their handlers, up to the drain timeout), closes the connection and
// stops an embedded server. It must not be called from a handler.
func (b *Broker) Close() error {
	b.closeOnce.Do(func() {
		deadline := time.Now().Add(b.opts.DrainTimeout)
		b.mu.Lock()
		b.closing.Store(true) // under mu: no Subscribe is half-way
		for _, g := range b.groups {
			g.fold() // NATS forgets the counts when the connection closes
		}
		b.mu.Unlock()

		// Drain: unsubscribe at the server, take in what it already sent,
		// flush our own publishes, close.
		if err := b.nc.Drain(); err != nil {
			b.nc.Close()
		}
		t := time.NewTimer(time.Until(deadline) + time.Second)
		select {
		case <-b.connClosed:
		case <-t.C:
			b.log.Warn("broker: NATS drain did not finish; closing", "timeout", b.opts.DrainTimeout)
			b.nc.Close()
			<-b.connClosed
		}
		t.Stop()
		// The connection is closed, so nothing reaches the inbox any more.
		close(b.stopRouter)
		<-b.routerDone
		if !b.d.Wait(max(time.Until(deadline), 0)) {
			b.log.Warn("broker: handlers still busy after drain timeout; discarding their queues", "timeout", b.opts.DrainTimeout)
		}

		b.mu.Lock()
		for _, g := range b.groups {
			for _, s := range g.subs {
				s.q.Stop()
			}
			b.retired += g.folded
		}
		clear(b.groups)
		clear(b.bySub)
		b.mu.Unlock()
		if b.srv != nil {
			b.srv.Shutdown()
			b.srv.WaitForShutdown()
		}
	})
	return nil
}

type subscription struct {
	b    *Broker
	g    *group
	q    *dispatch.Sub
	done atomic.Bool
}

// Unsubscribe stops delivery: messages not yet handed to the handler are
// discarded and nothing published afterwards arrives. A handler call already
// under way runs to its end. It may be called from the handler and more than
// once.
func (s *subscription) Unsubscribe() error {
	if s.done.Swap(true) {
		return nil
	}
	s.q.Stop()
	b, g := s.b, s.g
	b.mu.Lock()
	g.fold()
	g.subs = slices.DeleteFunc(slices.Clone(g.subs), func(x *subscription) bool { return x == s })
	var ns *nats.Subscription
	if len(g.subs) == 0 && b.groups[g.pattern] == g {
		// The last local subscriber of the pattern: drop the interest.
		delete(b.groups, g.pattern)
		delete(b.bySub, g.ns)
		b.retired += g.folded
		ns = g.ns
	}
	b.mu.Unlock()
	if ns == nil {
		return nil
	}
	err := ns.Unsubscribe()
	switch {
	case err == nil, errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrConnectionDraining),
		errors.Is(err, nats.ErrBadSubscription):
		return nil
	}
	return b.natsErr("unsubscribe", err)
}
