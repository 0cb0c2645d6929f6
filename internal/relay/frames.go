package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
)

// FrameSink is implemented by sinks that can write server-made frames
// (alarms, reminders) besides envelopes. The frame is a complete JSON
// WebSocket message.
type FrameSink interface {
	DeliverFrame(ctx context.Context, frame []byte) error
}

// Bounds of frame fan-out.
const (
	// maxFrameUsers is the number of users per broker message: 1000 ids
	// stay far below the broker's 1 MiB limit.
	maxFrameUsers = 1000
	// MaxFrameSize bounds one frame.
	MaxFrameSize = 256 << 10
	// maxQueuedFrames bounds a session's waiting frames. Frames are hints
	// (the state they carry can be fetched), so the oldest ones give way.
	maxQueuedFrames = 64
)

// wireFrames is the broker encoding of a frame for some users.
type wireFrames struct {
	U []string        `json:"u"`
	F json.RawMessage `json:"f"`
}

// NotifyUsers writes frame to every live connection of the users, on every
// node. Delivery is best effort: a device that is offline gets nothing
// (push and the state endpoints cover it).
func (r *Relay) NotifyUsers(ctx context.Context, userIDs []string, frame []byte) error {
	if len(frame) == 0 || len(frame) > MaxFrameSize || !json.Valid(frame) {
		return fmt.Errorf("notify users: frame must be 1..%d bytes of JSON", MaxFrameSize)
	}
	ids := slices.Clone(userIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	for chunk := range slices.Chunk(ids, maxFrameUsers) {
		b, err := json.Marshal(wireFrames{U: chunk, F: frame})
		if err != nil {
			return fmt.Errorf("notify users: %w", err)
		}
		if err := r.broker.Publish(ctx, framesSubject, b); err != nil {
			return fmt.Errorf("notify users: %w", err)
		}
	}
	return nil
}

func decodeFrames(b []byte) (*wireFrames, error) {
	var w wireFrames
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("decode frames: %w", err)
	}
	if len(w.U) == 0 || len(w.U) > maxFrameUsers || len(w.F) == 0 || len(w.F) > MaxFrameSize {
		return nil, fmt.Errorf("decode frames: missing or out-of-range fields")
	}
	return &w, nil
}

func (h *Hub) onFrames(_ string, data []byte) {
	w, err := decodeFrames(data)
	if err != nil {
		h.r.log.Warn("bad frames notification", "err", err)
		return
	}
	h.mu.RLock()
	for _, u := range w.U {
		for s := range h.byUser[u] {
			s.queueFrame(w.F)
		}
	}
	h.mu.RUnlock()
}

func (s *Session) queueFrame(f []byte) {
	if _, ok := s.sink.(FrameSink); !ok {
		return
	}
	s.mu.Lock()
	if len(s.frames) >= maxQueuedFrames {
		s.frames = s.frames[1:]
	}
	s.frames = append(s.frames, f)
	s.mu.Unlock()
	s.signal()
}

// writeFrames writes the queued frames after the envelopes: a reminder
// then follows the message it is about.
func (s *Session) writeFrames(ctx context.Context) error {
	s.mu.Lock()
	fs := s.frames
	s.frames = nil
	s.mu.Unlock()
	if len(fs) == 0 {
		return nil
	}
	fsink := s.sink.(FrameSink)
	for _, f := range fs {
		if err := fsink.DeliverFrame(ctx, f); err != nil {
			return err
		}
	}
	return nil
}
