package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/wache/wache"
	"github.com/wache/wache/api"
)

// ErrRevoked means the server revoked this device: the caller must erase
// the local state (remote wipe).
var ErrRevoked = errors.New("this device was revoked")

// ListenHandler receives live events. Envelope is called once per item
// (the inbox drops repeats); an error leaves the item unacknowledged, so it
// is delivered again after the next reconnect.
type ListenHandler struct {
	Envelope func(ctx context.Context, env api.Envelope) error
	// DeviceMessage receives items for this device only (MLS Welcomes);
	// returning nil acknowledges (deletes) the item. Nil handler: ignored
	// and left on the server.
	DeviceMessage func(ctx context.Context, m api.DeviceMessage) error
	Synced        func() // the backlog has been delivered
	Connected     func()
	Disconnect    func(err error) // the link dropped; Listen reconnects
	// Alarm receives every change of an alarm this user can see.
	Alarm func(a api.Alarm)
	// Reminder says that an ack-required message still waits for this
	// user's acknowledgement.
	Reminder func(convID string, seq int64)
}

// Listen keeps a live connection open, reconnecting with backoff after
// network failures, until ctx ends, authentication fails or the device is
// revoked (ErrRevoked).
// Processor hands each envelope to the application exactly once: it drops
// what was processed before (Inbox, Messenger).
type Processor interface {
	Process(ctx context.Context, env api.Envelope, fn func(api.Envelope) error) (bool, error)
}

// ErrHold, returned by an envelope handler, leaves the envelope neither
// processed nor acknowledged (e.g. a conversation whose MLS Welcome has not
// arrived yet); Listen goes on with the next one.
var ErrHold = errors.New("held for later")

func (c *Client) Listen(ctx context.Context, in Processor, h ListenHandler) error {
	b := Backoff{Min: 250 * time.Millisecond, Max: 15 * time.Second}
	for {
		err := c.listenOnce(ctx, in, h, &b)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, ErrRevoked) {
			return err
		}
		switch wache.ErrorCode(err) {
		case wache.EUNAUTHORIZED, wache.EFORBIDDEN, wache.EREVOKED:
			return err // retrying cannot help
		}
		if h.Disconnect != nil {
			h.Disconnect(err)
		}
		if werr := b.Wait(ctx); werr != nil {
			return werr
		}
	}
}

func (c *Client) wsURL() string {
	return strings.Replace(c.server, "http", "ws", 1) + api.Version + "/ws"
}

func (c *Client) listenOnce(ctx context.Context, in Processor, h ListenHandler, b *Backoff) error {
	dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(dctx, c.wsURL(), dialOptions(c.token))
	if err != nil {
		if resp != nil && resp.StatusCode >= 400 {
			var e api.Error
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			if json.Unmarshal(body, &e) == nil && e.Error.Code != "" {
				if e.Error.Code == wache.EREVOKED {
					return ErrRevoked
				}
				return &wache.Error{Code: e.Error.Code, Message: e.Error.Message}
			}
		}
		return &wache.Error{Code: wache.EUNAVAILABLE, Message: "cannot connect to " + c.server, Err: err}
	}
	defer conn.CloseNow()
	conn.SetReadLimit(1 << 20)
	// Acks are written by their own goroutine; a failed ack write ends the
	// read loop through cctx.
	cctx, ccancel := context.WithCancel(ctx)
	acks := newAcker()
	ackDone := make(chan struct{})
	go func() {
		defer close(ackDone)
		defer ccancel()
		_ = acks.run(cctx, conn)
	}()
	defer func() {
		ccancel()
		<-ackDone
		// What was processed is acknowledged before the link is given up
		// (best effort: an item whose ack is lost is delivered again).
		fctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = acks.flush(fctx, conn)
		cancel()
	}()
	if h.Connected != nil {
		h.Connected()
	}
	for {
		var f api.Frame
		if err := wsjson.Read(cctx, conn, &f); err != nil {
			if websocket.CloseStatus(err) == api.CloseRevoked {
				return ErrRevoked
			}
			return &wache.Error{Code: wache.EUNAVAILABLE, Message: "connection lost", Err: err}
		}
		switch f.Type {
		case api.FrameEnvelope:
			if f.Envelope == nil {
				continue
			}
			env := *f.Envelope
			_, err := in.Process(ctx, env, func(e api.Envelope) error { return h.Envelope(ctx, e) })
			if err != nil && !errors.Is(err, ErrHold) {
				return fmt.Errorf("process envelope %s/%d: %w", env.ConvID, env.Seq, err)
			}
			// An SOS comes with the alarm it raised (after the content,
			// as a separate alarm frame would).
			if f.Alarm != nil && h.Alarm != nil {
				h.Alarm(*f.Alarm)
			}
			if err != nil { // held
				continue
			}
			b.Reset()
			acks.add(env.ConvID, env.Seq)
		case api.FrameDeviceMessage:
			if f.Message == nil || h.DeviceMessage == nil {
				continue
			}
			if err := h.DeviceMessage(ctx, *f.Message); err != nil {
				return fmt.Errorf("process device message %s: %w", f.Message.ID, err)
			}
			wctx, wcancel := context.WithTimeout(cctx, 10*time.Second)
			err := wsjson.Write(wctx, conn, api.Frame{Type: api.FrameDMAck, ID: f.Message.ID})
			wcancel()
			if err != nil {
				return &wache.Error{Code: wache.EUNAVAILABLE, Message: "connection lost", Err: err}
			}
		case api.FrameSynced:
			b.Reset()
			if h.Synced != nil {
				h.Synced()
			}
		case api.FrameRevoked:
			return ErrRevoked
		case api.FrameAlarm:
			if f.Alarm != nil && h.Alarm != nil {
				h.Alarm(*f.Alarm)
			}
		case api.FrameReminder:
			if f.ConvID != "" && f.Seq > 0 && h.Reminder != nil {
				h.Reminder(f.ConvID, f.Seq)
			}
		}
	}
}

// ackDelay is how long envelope acknowledgements are gathered before they
// are written. A burst (an alarm, a backlog after a reconnect) then costs
// one ack frame per conversation instead of one per envelope, and the
// acks do not compete with the burst's delivery. The server stores acks in
// batches anyway; a lost ack only means a redelivery, which the Processor
// drops.
const ackDelay = 200 * time.Millisecond

// acker keeps the newest processed sequence number per conversation until
// it is written.
type acker struct {
	mu      sync.Mutex
	pending map[string]int64
	kick    chan struct{}
}

func newAcker() *acker {
	return &acker{pending: map[string]int64{}, kick: make(chan struct{}, 1)}
}

func (a *acker) add(convID string, seq int64) {
	a.mu.Lock()
	if seq > a.pending[convID] {
		a.pending[convID] = seq
	}
	a.mu.Unlock()
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// run writes gathered acks ackDelay after the first of a burst, until ctx
// ends or a write fails.
func (a *acker) run(ctx context.Context, conn *websocket.Conn) error {
	t := time.NewTimer(ackDelay)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-a.kick:
		}
		t.Reset(ackDelay)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		if err := a.flush(ctx, conn); err != nil {
			return err
		}
	}
}

// flush writes one ack frame per conversation with something to ack.
func (a *acker) flush(ctx context.Context, conn *websocket.Conn) error {
	a.mu.Lock()
	pending := a.pending
	a.pending = map[string]int64{}
	a.mu.Unlock()
	for convID, seq := range pending {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := wsjson.Write(wctx, conn, api.Frame{Type: api.FrameAck, ConvID: convID, Seq: seq})
		cancel()
		if err != nil {
			// Keep what was not written for the final flush.
			a.mu.Lock()
			for c, s := range pending {
				if s > a.pending[c] {
					a.pending[c] = s
				}
			}
			a.mu.Unlock()
			return err
		}
		delete(pending, convID)
	}
	return nil
}
