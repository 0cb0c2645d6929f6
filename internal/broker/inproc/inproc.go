// Package inproc is a broker.Broker inside one process: for a single node,
// for tests, and as the reference for the behaviour every broker shares.
//
// Subscriptions live in a token trie, so publishing costs one walk per
// subject token, whatever the number of subscriptions. Each subscription has
// a bounded queue and a worker goroutine that exists only while the queue has
// messages, so idle subscriptions cost memory but no goroutine.
package inproc

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/internal/broker"
	"github.com/wache/wache/internal/broker/internal/dispatch"
)

// DefaultDrainTimeout is the default of Options.DrainTimeout.
const DefaultDrainTimeout = 5 * time.Second

// Options tune a Broker; the zero value gives the defaults.
type Options struct {
	// QueueMessages (default 8192) and QueueBytes (default 64 MiB, at least
	// broker.MaxPayload) bound the messages waiting for one subscription's
	// handler; further messages are dropped and counted.
	QueueMessages int
	QueueBytes    int
	// DrainTimeout bounds how long Close waits for queued messages to
	// reach their handlers.
	DrainTimeout time.Duration
	Logger       *slog.Logger
}

// Broker is an in-process broker.Broker. It is safe for concurrent use.
type Broker struct {
	d     *dispatch.Dispatcher
	drain time.Duration
	log   *slog.Logger

	mu     sync.RWMutex // guards root and closed
	root   node
	closed bool

	closeOnce sync.Once
}

var _ broker.Broker = (*Broker)(nil)

// New returns a Broker with default options.
func New() *Broker { return NewWithOptions(Options{}) }

// NewWithOptions returns a Broker with the given options.
func NewWithOptions(o Options) *Broker {
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = DefaultDrainTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Broker{
		d:     dispatch.New(dispatch.Options{QueueMessages: o.QueueMessages, QueueBytes: o.QueueBytes, Logger: o.Logger}),
		drain: o.DrainTimeout,
		log:   o.Logger,
	}
}

// Dropped returns how many messages were dropped because a subscription's
// queue was full.
func (b *Broker) Dropped() uint64 { return b.d.Dropped() }

// Publish hands data to every matching subscription and returns without
// waiting for any handler. data is copied, so the caller may reuse it.
func (b *Broker) Publish(ctx context.Context, subject string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("broker: publish: %w", err)
	}
	if err := broker.ValidateSubject(subject); err != nil {
		return err
	}
	if len(data) > broker.MaxPayload {
		return wache.Errorf(wache.ETOOLARGE, "broker: message of %d bytes is over the limit of %d", len(data), broker.MaxPayload)
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return broker.ErrClosed
	}
	var buf [8]*subscription
	subs := b.root.match(subject, buf[:0])
	if len(subs) == 0 {
		return nil
	}
	// One copy shared by all subscribers: handlers treat data as read-only
	// (the broker.Handler contract).
	data = bytes.Clone(data)
	for _, s := range subs {
		s.q.Enqueue(subject, data)
	}
	return nil
}

// Subscribe registers h for every subject that matches pattern. Messages
// published after Subscribe returns are delivered.
func (b *Broker) Subscribe(pattern string, h broker.Handler) (broker.Subscription, error) {
	if err := broker.ValidatePattern(pattern); err != nil {
		return nil, err
	}
	if h == nil {
		return nil, wache.Errorf(wache.EINVALID, "broker: nil handler")
	}
	s := &subscription{b: b, pattern: pattern, q: b.d.NewSub(pattern, h)}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, broker.ErrClosed
	}
	b.root.insert(pattern, s)
	return s, nil
}

// Close rejects further publishes, waits up to the drain timeout for queued
// messages to reach their handlers, and then stops every subscription. It
// must not be called from a handler (it would wait for itself).
func (b *Broker) Close() error {
	b.closeOnce.Do(func() {
		b.mu.Lock()
		b.closed = true
		b.mu.Unlock()
		// Enqueue runs only under the read lock and while not closed, so
		// nothing is enqueued from here on.
		if !b.d.Wait(b.drain) {
			b.log.Warn("broker: handlers still busy after drain timeout; discarding their queues", "timeout", b.drain)
		}
		b.mu.Lock()
		subs := b.root.all(nil)
		b.root = node{}
		b.mu.Unlock()
		for _, s := range subs {
			s.q.Stop()
		}
	})
	return nil
}

type subscription struct {
	b       *Broker
	pattern string
	q       *dispatch.Sub
}

// Unsubscribe stops delivery: messages not yet handed to the handler are
// discarded and nothing published afterwards arrives. A handler call already
// under way runs to its end. Unsubscribe may be called from the handler and
// more than once.
func (s *subscription) Unsubscribe() error {
	s.b.mu.Lock()
	s.b.root.remove(s.pattern, s)
	s.b.mu.Unlock()
	s.q.Stop()
	return nil
}
