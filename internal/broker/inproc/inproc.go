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
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/internal/broker"
)

// Defaults for Options.
const (
	DefaultQueueMessages = 8192
	DefaultQueueBytes    = 64 << 20
	DefaultDrainTimeout  = 5 * time.Second
)

// Options tune a Broker; the zero value gives the defaults.
type Options struct {
	// QueueMessages and QueueBytes bound the messages waiting for one
	// subscription's handler; further messages are dropped and counted.
	// QueueBytes is raised to broker.MaxPayload if set lower.
	QueueMessages int
	QueueBytes    int
	// DrainTimeout bounds how long Close waits for queued messages to
	// reach their handlers.
	DrainTimeout time.Duration
	Logger       *slog.Logger
}

// Broker is an in-process broker.Broker. It is safe for concurrent use.
type Broker struct {
	maxMsgs  int
	maxBytes int
	drain    time.Duration
	log      *slog.Logger

	mu     sync.RWMutex // guards root and closed
	root   node
	closed bool

	workers   sync.WaitGroup // running subscription workers
	closeOnce sync.Once
	closeDone chan struct{}
	dropped   atomic.Uint64
}

var _ broker.Broker = (*Broker)(nil)

// New returns a Broker with default options.
func New() *Broker { return NewWithOptions(Options{}) }

// NewWithOptions returns a Broker with the given options.
func NewWithOptions(o Options) *Broker {
	b := &Broker{
		maxMsgs:   o.QueueMessages,
		maxBytes:  o.QueueBytes,
		drain:     o.DrainTimeout,
		log:       o.Logger,
		closeDone: make(chan struct{}),
	}
	if b.maxMsgs <= 0 {
		b.maxMsgs = DefaultQueueMessages
	}
	if b.maxBytes <= 0 {
		b.maxBytes = DefaultQueueBytes
	}
	// A message larger than the byte bound could never be queued.
	b.maxBytes = max(b.maxBytes, broker.MaxPayload)
	if b.drain <= 0 {
		b.drain = DefaultDrainTimeout
	}
	if b.log == nil {
		b.log = slog.Default()
	}
	return b
}

// Dropped returns how many messages were dropped because a subscription's
// queue was full.
func (b *Broker) Dropped() uint64 { return b.dropped.Load() }

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
	// One copy shared by all subscribers: handlers must treat data as
	// read-only (the broker.Handler contract).
	m := message{subject: subject, data: bytes.Clone(data)}
	for _, s := range subs {
		s.enqueue(m)
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
	s := &subscription{b: b, pattern: pattern, h: h}
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
		defer close(b.closeDone)
		b.mu.Lock()
		b.closed = true
		b.mu.Unlock()

		// No worker starts once closed is set (workers start under the read
		// lock), so Wait cannot race with Add from zero.
		drained := make(chan struct{})
		go func() { b.workers.Wait(); close(drained) }()
		t := time.NewTimer(b.drain)
		defer t.Stop()
		select {
		case <-drained:
		case <-t.C:
			b.log.Warn("broker: handlers still busy after drain timeout; discarding their queues", "timeout", b.drain)
		}

		b.mu.Lock()
		subs := b.root.all(nil)
		b.root = node{}
		b.mu.Unlock()
		for _, s := range subs {
			s.stop()
		}
	})
	<-b.closeDone
	return nil
}

type message struct {
	subject string
	data    []byte
}

// shrinkCap is the queue capacity above which an emptied queue gives its
// memory back, so one burst does not pin memory for an idle subscription.
const shrinkCap = 256

type subscription struct {
	b       *Broker
	pattern string
	h       broker.Handler

	mu       sync.Mutex
	q        []message // q[head:] waits for the handler
	head     int
	qBytes   int
	running  bool // a worker goroutine owns delivery
	closed   bool
	dropping bool   // in a burst of drops: log once per burst
	burst    uint64 // drops in the current burst
}

// enqueue is called with b.mu read-locked and b not closed.
func (s *subscription) enqueue(m message) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	if len(s.q)-s.head >= s.b.maxMsgs || s.qBytes+len(m.data) > s.b.maxBytes {
		s.b.dropped.Add(1)
		s.burst++
		first := !s.dropping
		s.dropping = true
		s.mu.Unlock()
		if first {
			s.b.log.Warn("broker: subscriber too slow, dropping messages until it catches up",
				"pattern", s.pattern, "queue_messages", s.b.maxMsgs, "queue_bytes", s.b.maxBytes)
		}
		return
	}
	var ended uint64
	if s.dropping {
		ended, s.dropping, s.burst = s.burst, false, 0
	}
	if len(s.q) == cap(s.q) && s.head > 0 {
		// Reuse the delivered prefix instead of growing.
		n := copy(s.q, s.q[s.head:])
		clear(s.q[n:])
		s.q, s.head = s.q[:n], 0
	}
	s.q = append(s.q, m)
	s.qBytes += len(m.data)
	start := !s.running
	if start {
		s.running = true
		s.b.workers.Add(1)
	}
	s.mu.Unlock()
	if ended > 0 {
		s.b.log.Warn("broker: subscriber caught up", "pattern", s.pattern, "dropped", ended)
	}
	if start {
		go s.run()
	}
}

// run delivers queued messages one at a time and exits when the queue is
// empty; the next enqueue starts a new worker.
func (s *subscription) run() {
	defer s.b.workers.Done()
	for {
		s.mu.Lock()
		if s.closed || s.head == len(s.q) {
			s.running = false
			s.resetQueue()
			s.mu.Unlock()
			return
		}
		m := s.q[s.head]
		s.q[s.head] = message{}
		s.head++
		s.qBytes -= len(m.data)
		s.mu.Unlock()
		s.deliver(m)
	}
}

// resetQueue empties the queue; s.mu must be held.
func (s *subscription) resetQueue() {
	if cap(s.q) > shrinkCap {
		s.q = nil
	} else {
		clear(s.q)
		s.q = s.q[:0]
	}
	s.head, s.qBytes = 0, 0
}

func (s *subscription) deliver(m message) {
	// A panicking handler must not take the server down with it.
	defer func() {
		if r := recover(); r != nil {
			s.b.log.Error("broker: handler panicked", "pattern", s.pattern, "panic", r, "stack", string(debug.Stack()))
		}
	}()
	s.h(m.subject, m.data)
}

// stop discards the queue; no handler call starts afterwards.
func (s *subscription) stop() {
	s.mu.Lock()
	s.closed = true
	s.resetQueue()
	s.mu.Unlock()
}

// Unsubscribe stops delivery: messages not yet handed to the handler are
// discarded and nothing published afterwards arrives. A handler call already
// under way runs to its end. Unsubscribe may be called from the handler and
// more than once.
func (s *subscription) Unsubscribe() error {
	s.b.mu.Lock()
	s.b.root.remove(s.pattern, s)
	s.b.mu.Unlock()
	s.stop()
	return nil
}
