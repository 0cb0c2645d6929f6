// Package broker carries notifications between server nodes. A broker is a
// fast path only: everything it carries is also in the store, so a lost or
// late notification delays delivery but never loses an item.
//
// Subjects are dot-separated tokens; subscriptions may use NATS wildcards
// ("*" one token, ">" the rest).
package broker

import "context"

// Handler receives one published message. Handlers of one subscription run
// one at a time, in the order the broker received the messages.
type Handler func(subject string, data []byte)

// Subscription is an active interest in a subject pattern.
type Subscription interface {
	Unsubscribe() error
}

// Broker publishes messages to every subscriber on every node.
type Broker interface {
	Publish(ctx context.Context, subject string, data []byte) error
	Subscribe(subject string, h Handler) (Subscription, error)
	Close() error
}
