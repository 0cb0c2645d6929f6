// Package dispatch runs the handlers of broker subscriptions: each
// subscription has a bounded queue, drained in order by a goroutine that
// exists only while the queue holds messages. Enqueueing never blocks: when a
// queue is full the message is dropped and counted, because the broker is a
// hint path and the store has every item anyway.
package dispatch

import (
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wache/wache/internal/broker"
)

// Defaults for Options.
const (
	DefaultQueueMessages = 8192
	DefaultQueueBytes    = 64 << 20
)

// Options bound the queues; zero values give the defaults.
type Options struct {
	QueueMessages int // messages waiting per subscription
	QueueBytes    int // payload bytes waiting per subscription; at least broker.MaxPayload
	Logger        *slog.Logger
}

// Dispatcher owns the queues of one broker.
type Dispatcher struct {
	maxMsgs  int
	maxBytes int
	log      *slog.Logger
	workers  sync.WaitGroup
	dropped  atomic.Uint64
}

// New returns a Dispatcher.
func New(o Options) *Dispatcher {
	d := &Dispatcher{maxMsgs: o.QueueMessages, maxBytes: o.QueueBytes, log: o.Logger}
	if d.maxMsgs <= 0 {
		d.maxMsgs = DefaultQueueMessages
	}
	if d.maxBytes <= 0 {
		d.maxBytes = DefaultQueueBytes
	}
	// A message larger than the byte bound could never be queued.
	d.maxBytes = max(d.maxBytes, broker.MaxPayload)
	if d.log == nil {
		d.log = slog.Default()
	}
	return d
}

// Limits returns the effective queue bounds.
func (d *Dispatcher) Limits() (messages, bytes int) { return d.maxMsgs, d.maxBytes }

// Dropped returns how many messages were dropped at full queues.
func (d *Dispatcher) Dropped() uint64 { return d.dropped.Load() }

// Wait waits up to timeout until every queue is empty and no handler runs,
// and reports whether that happened. The caller must make sure that nothing
// is enqueued any more (an Enqueue into an empty queue racing with Wait is a
// misuse of the underlying WaitGroup).
func (d *Dispatcher) Wait(timeout time.Duration) bool {
	done := make(chan struct{})
	go func() { d.workers.Wait(); close(done) }()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// Sub is the queue and handler of one subscription.
type Sub struct {
	d       *Dispatcher
	pattern string // for logs
	h       broker.Handler

	mu       sync.Mutex
	q        []message // q[head:] waits for the handler
	head     int
	qBytes   int
	running  bool // a worker goroutine owns delivery
	stopped  bool
	dropping bool   // in a burst of drops: log once per burst
	burst    uint64 // drops in the current burst
}

type message struct {
	subject string
	data    []byte
}

// NewSub returns the queue for a subscription to pattern with handler h.
func (d *Dispatcher) NewSub(pattern string, h broker.Handler) *Sub {
	return &Sub{d: d, pattern: pattern, h: h}
}

// shrinkCap is the queue capacity above which an emptied queue gives its
// memory back, so one burst does not pin memory for an idle subscription.
const shrinkCap = 256

// Enqueue queues a message for the handler without waiting. data is handed
// to the handler as is: the caller must not change it afterwards.
func (s *Sub) Enqueue(subject string, data []byte) {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	if len(s.q)-s.head >= s.d.maxMsgs || s.qBytes+len(data) > s.d.maxBytes {
		s.d.dropped.Add(1)
		s.burst++
		first := !s.dropping
		s.dropping = true
		s.mu.Unlock()
		if first {
			s.d.log.Warn("broker: subscriber too slow, dropping messages until it catches up",
				"pattern", s.pattern, "queue_messages", s.d.maxMsgs, "queue_bytes", s.d.maxBytes)
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
	s.q = append(s.q, message{subject, data})
	s.qBytes += len(data)
	start := !s.running
	if start {
		s.running = true
		s.d.workers.Add(1)
	}
	s.mu.Unlock()
	if ended > 0 {
		s.d.log.Warn("broker: subscriber caught up", "pattern", s.pattern, "dropped", ended)
	}
	if start {
		go s.run()
	}
}

// run delivers queued messages one at a time and exits when the queue is
// empty; the next Enqueue starts a new worker.
func (s *Sub) run() {
	defer s.d.workers.Done()
	for {
		s.mu.Lock()
		if s.stopped || s.head == len(s.q) {
			s.running = false
			s.reset()
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

// reset empties the queue; s.mu must be held.
func (s *Sub) reset() {
	if cap(s.q) > shrinkCap {
		s.q = nil
	} else {
		clear(s.q)
		s.q = s.q[:0]
	}
	s.head, s.qBytes = 0, 0
}

func (s *Sub) deliver(m message) {
	// A panicking handler must not take the server down with it.
	defer func() {
		if r := recover(); r != nil {
			s.d.log.Error("broker: handler panicked", "pattern", s.pattern, "panic", r, "stack", string(debug.Stack()))
		}
	}()
	s.h(m.subject, m.data)
}

// Stop discards the queue and ignores later Enqueues. A handler call under
// way (or the one message a worker has just taken) runs to its end. Stop is
// idempotent.
func (s *Sub) Stop() {
	s.mu.Lock()
	s.stopped = true
	s.reset()
	s.mu.Unlock()
}
