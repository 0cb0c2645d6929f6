package client

import (
	"context"
	"encoding/json"
	"time"
)

// Queue encrypts a payload for the conversation and puts it in the outbox
// without sending it: the app shows it as pending at once and
// DeliverOutbox sends it when the link allows (the browser app, where a
// send must never wait for the network). It returns the outbox id.
func (m *Messenger) Queue(ctx context.Context, convID string, p Payload) (string, error) {
	return m.QueueAs(ctx, convID, NewClientID(), p)
}

// QueueAs is Queue with the outbox id chosen by the caller (an app that
// showed the message before it could be encrypted, e.g. during an upload).
func (m *Messenger) QueueAs(ctx context.Context, convID, localID string, p Payload) (string, error) {
	return m.QueueWith(ctx, convID, localID, p, SendOptions{})
}

// Delivery is the outcome of sending one outbox item.
type Delivery struct {
	ConvID, LocalID string
	Seq             int64     // the server's sequence number, on success
	At              time.Time // when the server stored it
	// Err is the server's refusal: the item was dropped from the outbox.
	Err error
}

// DeliverOutbox tries every outbox item once (each within perItem) and
// reports what the server stored or refused; items that failed for
// network reasons stay queued. It returns how many are still waiting.
func (m *Messenger) DeliverOutbox(ctx context.Context, perItem time.Duration, done func(Delivery)) (int, error) {
	items, err := m.loadOutbox(ctx)
	if err != nil {
		return 0, err
	}
	left := 0
	for i, it := range items {
		if ctx.Err() != nil {
			return left + len(items) - i, ctx.Err()
		}
		ictx, cancel := context.WithTimeout(ctx, perItem)
		res, err := m.deliver(ictx, it)
		timedOut := ictx.Err() != nil
		cancel()
		switch {
		case err == nil:
			done(Delivery{ConvID: it.ConvID, LocalID: it.ClientID, Seq: res.Seq, At: res.CreatedAt})
		case Retryable(err) || timedOut:
			left++
		default:
			done(Delivery{ConvID: it.ConvID, LocalID: it.ClientID, Err: err})
		}
	}
	return left, nil
}

// OutboxLen returns how many messages wait in the outbox.
func (m *Messenger) OutboxLen(ctx context.Context) (int, error) {
	o, err := m.loadOutbox(ctx)
	return len(o), err
}

func (m *Messenger) loadOutbox(ctx context.Context) ([]outboxItem, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var items []outboxItem
	b, err := m.st.Load(ctx, keyOutbox)
	if err == nil && len(b) > 0 {
		if jerr := json.Unmarshal(b, &items); jerr != nil {
			err = corrupt("outbox", jerr)
		}
	}
	return items, err
}
