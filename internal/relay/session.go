package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/internal/broker"
	"github.com/wache/wache/internal/store"
)

// ErrRevoked ends a session whose device was revoked.
var ErrRevoked = errors.New("device revoked")

// Sink is where a session writes: the server's WebSocket connection.
// Deliver must return promptly (use a write timeout).
type Sink interface {
	Deliver(ctx context.Context, env *wache.Envelope) error
	// DeliverDeviceMessage writes an item for this device only (a Welcome).
	DeliverDeviceMessage(ctx context.Context, m *wache.DeviceMessage) error
	// Synced tells the client that the backlog has been delivered.
	Synced(ctx context.Context) error
}

// Hub is the registry of this node's live sessions. It turns broker
// notifications into wake-ups of the sessions they concern.
type Hub struct {
	r        *Relay
	mu       sync.RWMutex
	byConv   map[string]map[*Session]struct{}
	byUser   map[string]map[*Session]struct{}
	byDevice map[string]map[*Session]struct{}
	subs     []broker.Subscription
}

func newHub(r *Relay) *Hub {
	return &Hub{r: r, byConv: map[string]map[*Session]struct{}{},
		byUser: map[string]map[*Session]struct{}{}, byDevice: map[string]map[*Session]struct{}{}}
}

func (h *Hub) subscribe() error {
	for _, s := range []struct {
		subj string
		fn   broker.Handler
	}{{"conv.*", h.onEnvelope}, {"member.*", h.onMember}, {"device.*", h.onDevice}, {"dm.*", h.onDeviceMessage}, {framesSubject, h.onFrames}} {
		sub, err := h.r.broker.Subscribe(s.subj, s.fn)
		if err != nil {
			return fmt.Errorf("subscribe %s: %w", s.subj, err)
		}
		h.subs = append(h.subs, sub)
	}
	return nil
}

func (h *Hub) close() error {
	var err error
	for _, s := range h.subs {
		err = errors.Join(err, s.Unsubscribe())
	}
	return err
}

func add(m map[string]map[*Session]struct{}, k string, s *Session) {
	set := m[k]
	if set == nil {
		set = map[*Session]struct{}{}
		m[k] = set
	}
	set[s] = struct{}{}
}

func del(m map[string]map[*Session]struct{}, k string, s *Session) {
	if set := m[k]; set != nil {
		delete(set, s)
		if len(set) == 0 {
			delete(m, k)
		}
	}
}

func lastToken(subject string) string {
	return subject[strings.LastIndexByte(subject, '.')+1:]
}

func (h *Hub) onEnvelope(_ string, data []byte) {
	env, err := decodeEnvelope(data)
	if err != nil {
		h.r.log.Warn("bad envelope notification", "err", err)
		return
	}
	h.mu.RLock()
	for s := range h.byConv[env.ConvID] {
		s.notify(env)
	}
	h.mu.RUnlock()
}

func (h *Hub) onMember(subject string, _ []byte) {
	h.mu.RLock()
	for s := range h.byUser[lastToken(subject)] {
		s.requestReload()
	}
	h.mu.RUnlock()
}

func (h *Hub) onDevice(subject string, _ []byte) {
	h.mu.RLock()
	for s := range h.byDevice[lastToken(subject)] {
		s.revoke()
	}
	h.mu.RUnlock()
}

func (h *Hub) onDeviceMessage(subject string, _ []byte) {
	h.mu.RLock()
	for s := range h.byDevice[lastToken(subject)] {
		s.mu.Lock()
		s.dmPending = true
		s.mu.Unlock()
		s.signal()
	}
	h.mu.RUnlock()
}

// Sessions returns the number of live sessions on this node.
func (h *Hub) Sessions() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := 0
	for _, set := range h.byDevice {
		n += len(set)
	}
	return n
}

// maxCached bounds the envelopes a session keeps from notifications; beyond
// it the session reads from the store instead.
const maxCached = 256

type convState struct {
	delivered int64             // highest seq written to this connection
	known     int64             // highest seq known to exist
	cache     []*wache.Envelope // contiguous envelopes after delivered
}

// Session delivers one device's envelopes over one live connection.
type Session struct {
	hub    *Hub
	user   *wache.User
	device *wache.Device
	sink   Sink

	mu        sync.Mutex
	convs     map[string]*convState
	acks      map[string]int64
	reload    bool
	dmPending bool            // device messages may be waiting
	dmSent    map[string]bool // device messages written on this connection
	frames    [][]byte        // frames from NotifyUsers waiting to be written
	wake      chan struct{}
	revoked   chan struct{}
	revokeMu  sync.Once
}

// NewSession prepares a session; Run starts it.
func (h *Hub) NewSession(u *wache.User, d *wache.Device, sink Sink) *Session {
	return &Session{hub: h, user: u, device: d, sink: sink, convs: map[string]*convState{},
		acks: map[string]int64{}, dmPending: true, dmSent: map[string]bool{}, wake: make(chan struct{}, 1), revoked: make(chan struct{})}
}

func (s *Session) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *Session) notify(env *wache.Envelope) {
	s.mu.Lock()
	cs := s.convs[env.ConvID]
	if cs == nil || env.Seq <= cs.delivered {
		s.mu.Unlock()
		return
	}
	if env.Seq == cs.delivered+int64(len(cs.cache))+1 && len(cs.cache) < maxCached {
		cs.cache = append(cs.cache, env)
	}
	cs.known = max(cs.known, env.Seq)
	s.mu.Unlock()
	s.signal()
}

func (s *Session) requestReload() {
	s.mu.Lock()
	s.reload = true
	s.mu.Unlock()
	s.signal()
}

func (s *Session) revoke() { s.revokeMu.Do(func() { close(s.revoked) }) }

// Run delivers the backlog and then live envelopes until ctx ends, the
// sink fails or the device is revoked (ErrRevoked).
func (s *Session) Run(ctx context.Context) error {
	h := s.hub
	h.mu.Lock()
	add(h.byUser, s.user.ID, s)
	add(h.byDevice, s.device.ID, s)
	h.mu.Unlock()
	h.r.m.sessions.Inc()
	defer func() {
		h.mu.Lock()
		del(h.byUser, s.user.ID, s)
		del(h.byDevice, s.device.ID, s)
		s.mu.Lock()
		for id := range s.convs {
			del(h.byConv, id, s)
		}
		s.mu.Unlock()
		h.mu.Unlock()
		h.r.m.sessions.Dec()
		fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s.flushAcks(fctx)
		cancel()
	}()

	if err := s.refresh(ctx); err != nil {
		return err
	}
	if err := s.drain(ctx); err != nil {
		return err
	}
	if err := s.sink.Synced(ctx); err != nil {
		return err
	}
	resync := time.NewTicker(h.r.opts.Resync)
	defer resync.Stop()
	ackTick := time.NewTicker(200 * time.Millisecond)
	defer ackTick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.revoked:
			return ErrRevoked
		case <-ackTick.C:
			s.flushAcks(ctx)
			continue
		case <-resync.C:
			s.requestReload()
		case <-s.wake:
		}
		s.mu.Lock()
		reload := s.reload
		s.reload = false
		s.mu.Unlock()
		if reload {
			if err := s.refresh(ctx); err != nil {
				return err
			}
		}
		if err := s.drain(ctx); err != nil {
			return err
		}
		if err := s.writeFrames(ctx); err != nil {
			return err
		}
	}
}

// refresh reconciles the session with the store: conversations joined or
// left, and the newest sequence number of each. A conversation is
// registered for notifications before its end is read a second time, so
// nothing committed in between can be missed.
func (s *Session) refresh(ctx context.Context) error {
	d, err := s.hub.r.store.Device(ctx, s.device.ID)
	if err != nil {
		return fmt.Errorf("load device: %w", err)
	}
	if d.Revoked() { // the broker's revocation event is only the fast path
		return ErrRevoked
	}
	for pass := 0; pass < 2; pass++ {
		cursors, err := s.hub.r.store.Cursors(ctx, s.device.ID)
		if err != nil {
			return fmt.Errorf("load cursors: %w", err)
		}
		added := false
		h := s.hub
		h.mu.Lock()
		s.mu.Lock()
		seen := make(map[string]bool, len(cursors))
		for _, c := range cursors {
			seen[c.ConvID] = true
			cs := s.convs[c.ConvID]
			if cs == nil {
				cs = &convState{delivered: c.AckedSeq, known: c.AckedSeq}
				s.convs[c.ConvID] = cs
				add(h.byConv, c.ConvID, s)
				added = true
			}
			cs.known = max(cs.known, c.LastSeq)
		}
		for id := range s.convs {
			if !seen[id] {
				delete(s.convs, id)
				del(h.byConv, id, s)
			}
		}
		s.mu.Unlock()
		h.mu.Unlock()
		if !added {
			break
		}
	}
	return nil
}

// drain writes pending device messages (Welcomes come before the
// group's envelopes, so a joining device can read them), then every
// envelope known to exist but not yet delivered.
func (s *Session) drain(ctx context.Context) error {
	if err := s.drainDeviceMessages(ctx); err != nil {
		return err
	}
	for {
		s.mu.Lock()
		var convID string
		var from int64
		var batch []*wache.Envelope
		for id, cs := range s.convs {
			if cs.known > cs.delivered {
				convID, from = id, cs.delivered
				if len(cs.cache) > 0 && cs.cache[0].Seq == cs.delivered+1 {
					batch, cs.cache = cs.cache, nil
				} else {
					cs.cache = nil
				}
				break
			}
		}
		s.mu.Unlock()
		if convID == "" {
			return nil
		}
		if batch == nil {
			envs, err := s.hub.r.store.Envelopes(ctx, convID, from, 200)
			if err != nil {
				return fmt.Errorf("read envelopes: %w", err)
			}
			if len(envs) == 0 {
				// Expired by retention (or the conversation is gone):
				// skip forward rather than wait for what will never come.
				s.mu.Lock()
				if cs := s.convs[convID]; cs != nil && cs.delivered == from {
					cs.delivered = cs.known
				}
				s.mu.Unlock()
				continue
			}
			for i := range envs {
				batch = append(batch, &envs[i])
			}
		}
		for _, env := range batch {
			if env.Seq <= from {
				continue
			}
			if err := s.sink.Deliver(ctx, env); err != nil {
				return err
			}
			s.hub.r.m.delivered.Inc()
			from = env.Seq
			s.mu.Lock()
			cs := s.convs[convID]
			if cs == nil { // left the conversation meanwhile
				s.mu.Unlock()
				break
			}
			cs.delivered = env.Seq
			cs.known = max(cs.known, env.Seq)
			s.mu.Unlock()
		}
	}
}

func (s *Session) drainDeviceMessages(ctx context.Context) error {
	s.mu.Lock()
	pending := s.dmPending
	s.dmPending = false
	s.mu.Unlock()
	if !pending {
		return nil
	}
	ms, err := s.hub.r.store.DeviceMessages(ctx, s.device.ID, 100)
	if err != nil {
		return fmt.Errorf("read device messages: %w", err)
	}
	for i := range ms {
		s.mu.Lock()
		sent := s.dmSent[ms[i].ID]
		s.dmSent[ms[i].ID] = true
		s.mu.Unlock()
		if sent {
			continue
		}
		if err := s.sink.DeliverDeviceMessage(ctx, &ms[i]); err != nil {
			return err
		}
	}
	if len(ms) == 100 { // more waiting
		s.mu.Lock()
		s.dmPending = true
		s.mu.Unlock()
		s.signal()
	}
	return nil
}

// AckDeviceMessage deletes a device message the client processed.
func (s *Session) AckDeviceMessage(ctx context.Context, id string) error {
	if err := s.hub.r.store.DeleteDeviceMessage(ctx, s.device.ID, id); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.dmSent, id)
	s.mu.Unlock()
	return nil
}

// Ack records the device's acknowledgement of everything up to seq in a
// conversation. Acks are coalesced and written a few times a second.
func (s *Session) Ack(convID string, seq int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.convs[convID]
	if cs == nil {
		return wache.Errorf(wache.ENOTFOUND, "no such conversation")
	}
	if seq < 0 || seq > cs.delivered {
		return wache.Errorf(wache.EINVALID, "ack %d is beyond what was delivered (%d)", seq, cs.delivered)
	}
	if seq > s.acks[convID] {
		s.acks[convID] = seq
	}
	return nil
}

func (s *Session) flushAcks(context.Context) {
	s.mu.Lock()
	if len(s.acks) == 0 {
		s.mu.Unlock()
		return
	}
	items := make([]store.AckItem, 0, len(s.acks))
	for conv, seq := range s.acks {
		items = append(items, store.AckItem{DeviceID: s.device.ID, ConvID: conv, Seq: seq})
	}
	s.acks = map[string]int64{}
	s.mu.Unlock()
	s.hub.r.enqueueAcks(items)
}

// wireEnvelope is the broker encoding of a stored envelope.
type wireEnvelope struct {
	C string          `json:"c"`
	S int64           `json:"s"`
	U string          `json:"u"`
	D string          `json:"d"`
	I string          `json:"i"`
	K string          `json:"k,omitempty"`
	E int64           `json:"e,omitempty"`
	T int64           `json:"t"`
	P []byte          `json:"p"`
	R string          `json:"r,omitempty"` // priority
	A bool            `json:"a,omitempty"` // ack required
	X json.RawMessage `json:"x,omitempty"` // alarm delivered along (PostHeld)
}

// MaxAttached bounds the alarm state that travels with an envelope; a
// notification with more is refused by every node's hub.
const MaxAttached = 32 << 10

func encodeEnvelope(e *wache.Envelope) []byte {
	b, _ := json.Marshal(wireEnvelope{C: e.ConvID, S: e.Seq, U: e.SenderID, D: e.SenderDevice, I: e.ClientID, K: string(e.Kind), E: e.Epoch, T: e.CreatedAt.UnixMilli(), P: e.Payload,
		R: e.Priority, A: e.AckRequired, X: e.Alarm})
	return b
}

func decodeEnvelope(b []byte) (*wache.Envelope, error) {
	var w wireEnvelope
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("decode envelope: %w", err)
	}
	if w.C == "" || w.S <= 0 || len(w.P) > wache.MaxPayload || len(w.X) > MaxAttached {
		return nil, fmt.Errorf("decode envelope: missing or out-of-range fields")
	}
	kind := wache.EnvelopeKind(w.K)
	if kind == "" {
		kind = wache.EnvApp
	}
	return &wache.Envelope{ConvID: w.C, Seq: w.S, SenderID: w.U, SenderDevice: w.D, ClientID: w.I,
		Kind: kind, Epoch: w.E, CreatedAt: time.UnixMilli(w.T).UTC(), Payload: w.P, Priority: w.R, AckRequired: w.A, Alarm: w.X}, nil
}
