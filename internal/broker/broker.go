// Package broker carries notifications between server nodes. A broker is a
// fast path only: everything it carries is also in the store, so a lost or
// late notification delays delivery but never loses an item.
//
// Subjects are dot-separated tokens; subscriptions may use NATS wildcards
// ("*" one token, ">" the rest). See ValidateSubject and ValidatePattern for
// the exact rules, and brokertest for the behaviour every implementation
// shares.
package broker

import "context"

// Handler receives one published message. Handlers of one subscription run
// one at a time, in the order the broker received the messages.
//
// Each subscription's handler runs on a goroutine of its own, so a slow
// handler delays only its own subscription; when its bounded queue is full,
// further messages for it are dropped (and counted). data must not be
// modified (subscribers may share one copy); it may be kept.
type Handler func(subject string, data []byte)

// Subscription is an active interest in a subject pattern.
type Subscription interface {
	// Unsubscribe stops delivery: queued messages are discarded and nothing
	// published afterwards arrives; a handler call under way runs to its
	// end. It may be called from the handler, and more than once.
	Unsubscribe() error
}

// Broker publishes messages to every subscriber on every node.
//
// Messages from one publisher reach each subscription in the order they
// were published; messages of concurrent publishers interleave.
type Broker interface {
	// Publish hands data (copied; at most MaxPayload bytes) to every
	// subscription whose pattern matches subject, without waiting for any
	// handler. Errors: EINVALID for a bad subject, ETOOLARGE, ErrClosed
	// after Close, the context's error.
	Publish(ctx context.Context, subject string, data []byte) error
	// Subscribe calls h for every message whose subject matches pattern
	// and that is published after Subscribe returns.
	Subscribe(subject string, h Handler) (Subscription, error)
	// Close rejects further publishes, lets queued messages reach their
	// handlers (bounded by a drain timeout) and stops every subscription.
	// It is idempotent and must not be called from a handler.
	Close() error
}
