package server

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	"github.com/wache/wache"
	"github.com/wache/wache/api"
	"github.com/wache/wache/internal/relay"
)

const (
	wsWriteTimeout = 10 * time.Second
	wsPingEvery    = 25 * time.Second
	wsMaxFrame     = 4 << 10 // client frames are small acks
)

// wsSink writes relay deliveries to one WebSocket connection.
type wsSink struct {
	c      *websocket.Conn
	frames *frameCache
}

func (s wsSink) write(ctx context.Context, f api.Frame) error {
	ctx, cancel := context.WithTimeout(ctx, wsWriteTimeout)
	defer cancel()
	return wsjson.Write(ctx, s.c, f)
}

func (s wsSink) Deliver(ctx context.Context, env *wache.Envelope) error {
	b, err := s.frames.envelope(env)
	if err != nil {
		return err
	}
	return s.DeliverFrame(ctx, b)
}

func (s wsSink) DeliverDeviceMessage(ctx context.Context, m *wache.DeviceMessage) error {
	dm := apiDeviceMessage(m)
	return s.write(ctx, api.Frame{Type: api.FrameDeviceMessage, Message: &dm})
}

// DeliverFrame writes a server-made frame (alarm, reminder) as it is.
func (s wsSink) DeliverFrame(ctx context.Context, frame []byte) error {
	ctx, cancel := context.WithTimeout(ctx, wsWriteTimeout)
	defer cancel()
	return s.c.Write(ctx, websocket.MessageText, frame)
}

func (s wsSink) Synced(ctx context.Context) error {
	return s.write(ctx, api.Frame{Type: api.FrameSynced})
}

// handleWebSocket streams a device's envelopes: first the backlog after its
// acknowledged cursor, then live ones. The client acks what it processed.
func (s *Server) handleWebSocket() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u, d := caller(r)
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{api.Subprotocol}})
		if err != nil {
			return // Accept has answered the client
		}
		defer c.CloseNow()
		c.SetReadLimit(wsMaxFrame)
		// The request context ends with the handler; the session lives
		// until the connection or the server ends.
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		if s.Base != nil { // hijacked connections outlive http.Server.Shutdown
			stop := context.AfterFunc(s.Base, cancel)
			defer stop()
		}
		_ = s.Store.TouchDevice(ctx, d.ID, time.Now().UTC())
		sink := wsSink{c: c, frames: s.frames}
		sess := s.Relay.Hub().NewSession(u, d, sink)

		go func() { // reader: acks from the client
			defer cancel()
			for {
				var f api.Frame
				if err := wsjson.Read(ctx, c, &f); err != nil {
					return
				}
				var err error
				switch f.Type {
				case api.FrameAck:
					err = sess.Ack(f.ConvID, f.Seq)
				case api.FrameDMAck:
					err = sess.AckDeviceMessage(ctx, f.ID)
				default:
					err = wache.Errorf(wache.EINVALID, "unknown frame type")
				}
				if err != nil {
					_ = sink.write(ctx, api.Frame{Type: api.FrameError, ConvID: f.ConvID, Seq: f.Seq, ID: f.ID, Error: wache.ErrorMessage(err)})
				}
			}
		}()
		go func() { // keepalive: detect dead links on mobile networks
			t := time.NewTicker(wsPingEvery)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					pctx, pcancel := context.WithTimeout(ctx, wsWriteTimeout)
					err := c.Ping(pctx)
					pcancel()
					if err != nil {
						cancel()
						return
					}
				}
			}
		}()

		err = sess.Run(ctx)
		switch {
		case errors.Is(err, relay.ErrRevoked):
			_ = sink.write(context.Background(), api.Frame{Type: api.FrameRevoked})
			c.Close(api.CloseRevoked, "device revoked")
		case errors.Is(err, context.Canceled):
			c.Close(websocket.StatusGoingAway, "")
		default:
			s.Log.Info("live session ended", "device", d.ID, "err", err)
			c.Close(websocket.StatusInternalError, "")
		}
	}
}
