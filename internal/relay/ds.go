package relay

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/wache/wache"
)

// MaxWelcomes bounds the device messages of one request.
const MaxWelcomes = 1000

// Welcome is an MLS Welcome for one new device of a conversation.
type Welcome struct {
	DeviceID string
	Payload  []byte
}

// PostWelcomes routes Welcomes from a member's device to devices of
// members of the conversation; each is delivered to its device only.
func (r *Relay) PostWelcomes(ctx context.Context, u *wache.User, d *wache.Device, convID string, ws []Welcome) error {
	if len(ws) == 0 || len(ws) > MaxWelcomes {
		return wache.Errorf(wache.EINVALID, "1 to %d welcome messages per request", MaxWelcomes)
	}
	if _, _, err := r.membership(ctx, u, convID); err != nil {
		return err
	}
	msgs := make([]wache.DeviceMessage, 0, len(ws))
	for _, w := range ws {
		if len(w.Payload) == 0 || len(w.Payload) > 4*wache.MaxPayload {
			return wache.Errorf(wache.ETOOLARGE, "a welcome must be 1 byte to %d bytes", 4*wache.MaxPayload)
		}
		target, err := r.store.Device(ctx, w.DeviceID)
		if err != nil || target.Revoked() {
			return wache.Errorf(wache.ENOTFOUND, "no active device %q", w.DeviceID)
		}
		if _, err := r.store.Member(ctx, convID, target.UserID); err != nil {
			if wache.ErrorCode(err) == wache.ENOTFOUND {
				return wache.Errorf(wache.EFORBIDDEN, "device %q does not belong to a member of the conversation", w.DeviceID)
			}
			return err
		}
		msgs = append(msgs, wache.DeviceMessage{ID: uuid.Must(uuid.NewV7()).String(), DeviceID: w.DeviceID, ConvID: convID,
			SenderDevice: d.ID, Kind: "welcome", Payload: w.Payload})
	}
	if err := r.store.PutDeviceMessages(ctx, msgs); err != nil {
		return fmt.Errorf("store welcomes: %w", err)
	}
	for _, m := range msgs {
		if err := r.broker.Publish(ctx, dmSubject(m.DeviceID), nil); err != nil {
			r.log.Warn("publish device message notification", "device", m.DeviceID, "err", err)
		}
	}
	return nil
}

// DeviceMessages returns the device's pending items (for clients that poll).
func (r *Relay) DeviceMessages(ctx context.Context, d *wache.Device, limit int) ([]wache.DeviceMessage, error) {
	return r.store.DeviceMessages(ctx, d.ID, limit)
}

// AckDeviceMessage deletes a processed device message.
func (r *Relay) AckDeviceMessage(ctx context.Context, d *wache.Device, id string) error {
	return r.store.DeleteDeviceMessage(ctx, d.ID, id)
}
