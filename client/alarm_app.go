package client

import (
	"context"

	"github.com/wache/wache"
)

// Helpers for apps that keep their own history of sent messages (the
// browser app): they queue instead of sending inline, so a message typed
// offline goes out when the link returns and keeps its priority.

// QueueWith is QueueAs with a priority and an acknowledgement request. The
// options travel with the outbox item, so DeliverOutbox posts them with it.
func (m *Messenger) QueueWith(ctx context.Context, convID, localID string, p Payload, o SendOptions) (string, error) {
	if err := o.Validate(); err != nil {
		return "", err
	}
	if localID == "" || len(localID) > 64 {
		return "", wache.Errorf(wache.EINVALID, "local id must have 1 to 64 characters")
	}
	b, err := EncodePayload(p)
	if err != nil {
		return "", wache.Errorf(wache.EINVALID, "%s", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	g, err := m.groupLocked(ctx, convID)
	if err != nil {
		return "", err
	}
	if g == nil {
		return "", wache.Errorf(wache.ECONFLICT, "this device has not joined the conversation's encrypted group yet (waiting for an invitation)")
	}
	ct, err := g.Encrypt(b, nil)
	if err != nil {
		return "", err
	}
	if err := m.saveGroup(ctx, convID, g); err != nil { // the sender ratchet moved: never reuse a key
		return "", err
	}
	item := outboxItem{ConvID: convID, ClientID: localID, Epoch: int64(g.Epoch()), Payload: ct,
		Priority: o.Priority, AckRequired: o.AckRequired, RemindAfter: o.remindSeconds()}
	if err := m.outboxLocked(ctx, func(o []outboxItem) []outboxItem { return append(o, item) }); err != nil {
		return "", err
	}
	return item.ClientID, nil
}

// ForgetActiveAlarm drops this device's record of its own alarm, for an app
// that sent the end of the live positions itself (through its outbox)
// instead of calling FinishAlarm.
func (m *Messenger) ForgetActiveAlarm(ctx context.Context, alarmID string) error {
	act, err := m.ActiveAlarm(ctx)
	if err != nil || act == nil || act.AlarmID != alarmID {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.saveActiveLocked(ctx, nil)
}
