// Package relay accepts opaque envelopes, gives each a per-conversation
// sequence number, stores it durably before acknowledging, and delivers it
// to every member device: live over a Session, or from the store when a
// device catches up. It never looks inside a payload.
//
// Delivery guarantee: the store is the truth. Broker notifications only make
// delivery fast; every path that might miss one (a dropped notification, a
// node crash between commit and publish, a reconnect) falls back to reading
// the store from the device's acknowledged cursor. Devices therefore receive
// every item at least once and in order; clients drop sequence numbers they
// have processed, which makes processing exactly once.
package relay

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/wache/wache"
	"github.com/wache/wache/client/mls"
	"github.com/wache/wache/internal/broker"
	"github.com/wache/wache/internal/store"
)

// Options tune the relay.
type Options struct {
	MaxBatch  int           // envelopes per group commit (default 256)
	Retention time.Duration // relayed items older than this are deleted (0: keep)
	Resync    time.Duration // how often sessions re-check the store (default 30s)
	// OnAccepted, if set, is called on this node for every newly stored
	// envelope (not for duplicates), after its notification was published.
	// It must not block: the commit loop calls it (push wake-ups).
	OnAccepted func(env *wache.Envelope)
}

// Relay is the message relay of one server node.
type Relay struct {
	store  store.Store
	broker broker.Broker
	log    *slog.Logger
	opts   Options
	hub    *Hub
	m      *metrics

	reqs    chan *appendReq
	acks    chan store.AckItem
	ackDone chan struct{}
	mu      sync.RWMutex // guards closed against sends on reqs and acks
	closed  bool
	stopped chan struct{}
	subs    []broker.Subscription
}

type appendReq struct {
	env  *wache.Envelope
	hold bool // the caller publishes (PostHeld)
	done chan store.AppendResult
}

// New starts a relay. reg may be nil (no metrics).
func New(s store.Store, b broker.Broker, log *slog.Logger, reg prometheus.Registerer, opts Options) (*Relay, error) {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	if opts.Resync <= 0 {
		opts.Resync = 30 * time.Second
	}
	r := &Relay{store: s, broker: b, log: log, opts: opts, m: newMetrics(reg),
		reqs: make(chan *appendReq, 4*opts.MaxBatch), stopped: make(chan struct{}),
		acks: make(chan store.AckItem, 1<<16), ackDone: make(chan struct{})}
	r.hub = newHub(r)
	if err := r.hub.subscribe(); err != nil {
		return nil, err
	}
	go r.commitLoop()
	go r.ackLoop()
	return r, nil
}

// Close stops accepting envelopes, commits those already queued and stops
// live delivery. Call it after the HTTP server has drained its handlers.
func (r *Relay) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	close(r.reqs)
	close(r.acks)
	r.mu.Unlock()
	<-r.stopped
	<-r.ackDone
	return r.hub.close()
}

// Hub returns the node's session registry.
func (r *Relay) Hub() *Hub { return r.hub }

// validClientID limits client ids to short, log-safe tokens.
func validClientID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// Message is what a device posts to a conversation.
type Message struct {
	ClientID string
	Kind     wache.EnvelopeKind // app (default) or commit
	Epoch    int64
	Payload  []byte
	// Priority ("", "urgent", "alarm") and AckRequired are for application
	// messages only; RemindAfter is the reminder interval in seconds of an
	// ack-required message (0: the default, 120).
	Priority    string
	AckRequired bool
	RemindAfter int
}

// Priorities a message may carry.
const (
	PriorityUrgent = "urgent"
	PriorityAlarm  = "alarm"
)

// Post stores an envelope from the given device and returns its sequence
// number once it is durable. Retrying with the same client id is safe.
func (r *Relay) Post(ctx context.Context, u *wache.User, d *wache.Device, convID string, msg Message) (store.AppendResult, error) {
	_, res, err := r.post(ctx, u, d, convID, msg, false)
	return res, err
}

// PostHeld stores an envelope like Post but does not tell the live
// sessions: the caller must call Publish with the returned envelope (nil
// for a duplicate, which was published when it was first stored), on
// every path, or the envelope reaches live devices only with the sessions'
// periodic re-read. The alarm service uses it to send an SOS together with
// the alarm it raised: one frame per device instead of two.
func (r *Relay) PostHeld(ctx context.Context, u *wache.User, d *wache.Device, convID string, msg Message) (*wache.Envelope, store.AppendResult, error) {
	env, res, err := r.post(ctx, u, d, convID, msg, true)
	if err != nil || res.Duplicate {
		return nil, res, err
	}
	return env, res, nil
}

// Publish tells the live sessions of every node about an envelope stored
// by PostHeld; env.Alarm, if set, is delivered along with it.
func (r *Relay) Publish(env *wache.Envelope) { r.publish(env) }

func (r *Relay) post(ctx context.Context, u *wache.User, d *wache.Device, convID string, msg Message, hold bool) (*wache.Envelope, store.AppendResult, error) {
	clientID, payload := msg.ClientID, msg.Payload
	if msg.Kind == "" {
		msg.Kind = wache.EnvApp
	}
	if !wache.ValidEnvelopeKind(msg.Kind) {
		return nil, store.AppendResult{}, wache.Errorf(wache.EINVALID, "kind must be app or commit")
	}
	if msg.Epoch < 0 {
		return nil, store.AppendResult{}, wache.Errorf(wache.EINVALID, "epoch must not be negative")
	}
	if !validClientID(clientID) {
		return nil, store.AppendResult{}, wache.Errorf(wache.EINVALID, "client_id must be 1-64 characters of A-Z a-z 0-9 - _ .")
	}
	if len(payload) == 0 {
		return nil, store.AppendResult{}, wache.Errorf(wache.EINVALID, "payload is empty")
	}
	switch msg.Priority {
	case "", PriorityUrgent, PriorityAlarm:
	default:
		return nil, store.AppendResult{}, wache.Errorf(wache.EINVALID, "priority must be empty, urgent or alarm")
	}
	if msg.Kind != wache.EnvApp && (msg.Priority != "" || msg.AckRequired || msg.RemindAfter != 0) {
		return nil, store.AppendResult{}, wache.Errorf(wache.EINVALID, "only application messages carry a priority or need acknowledgement")
	}
	if msg.RemindAfter != 0 && (!msg.AckRequired || msg.RemindAfter < 30 || msg.RemindAfter > 86400) {
		return nil, store.AppendResult{}, wache.Errorf(wache.EINVALID, "remind_after_s must be 30..86400 and needs ack_required")
	}
	if len(payload) > wache.MaxPayload {
		return nil, store.AppendResult{}, wache.Errorf(wache.ETOOLARGE, "payload is %d bytes; the limit is %d", len(payload), wache.MaxPayload)
	}
	if msg.Kind == wache.EnvCommit {
		// The delivery service reads a commit's public framing: it must be
		// an MLS commit of this conversation's group, made in the epoch it
		// claims. Garbage could otherwise take an epoch that no client can
		// apply and wedge the group.
		info, err := mls.Inspect(payload)
		if err != nil || info.Type != mls.TypeCommit || string(info.GroupID) != convID || int64(info.Epoch) != msg.Epoch {
			return nil, store.AppendResult{}, wache.Errorf(wache.EINVALID, "not an MLS commit of this conversation's group made in epoch %d", msg.Epoch)
		}
	}
	c, m, err := r.membership(ctx, u, convID)
	if err != nil {
		return nil, store.AppendResult{}, err
	}
	// Commits (key updates, removing a revoked device) come from any
	// member; the content rules of a channel apply to application messages.
	if msg.Kind == wache.EnvApp && !wache.CanWrite(c.Kind, m.Role) {
		return nil, store.AppendResult{}, wache.Errorf(wache.EFORBIDDEN, "only admins and posters write in this channel")
	}
	req := &appendReq{
		hold: hold,
		env: &wache.Envelope{ConvID: convID, SenderID: u.ID, SenderDevice: d.ID, ClientID: clientID,
			Kind: msg.Kind, Epoch: msg.Epoch, Payload: payload,
			Priority: msg.Priority, AckRequired: msg.AckRequired, RemindEvery: msg.RemindAfter},
		done: make(chan store.AppendResult, 1),
	}
	r.mu.RLock()
	if r.closed {
		r.mu.RUnlock()
		return nil, store.AppendResult{}, wache.Errorf(wache.EUNAVAILABLE, "server is shutting down; retry")
	}
	select {
	case r.reqs <- req:
		r.mu.RUnlock()
	case <-ctx.Done():
		r.mu.RUnlock()
		return nil, store.AppendResult{}, wache.Errorf(wache.EUNAVAILABLE, "server busy; retry")
	}
	// Once queued, the envelope is committed even if the caller goes away;
	// a retry with the same client id then finds it as a duplicate.
	select {
	case res := <-req.done:
		if res.Err != nil {
			return nil, res, res.Err
		}
		return req.env, res, nil
	case <-ctx.Done():
		return nil, store.AppendResult{}, wache.Errorf(wache.EUNAVAILABLE, "timed out waiting for storage; retry with the same client_id")
	}
}

// membership loads the conversation and the user's membership in it.
func (r *Relay) membership(ctx context.Context, u *wache.User, convID string) (*wache.Conversation, *wache.Member, error) {
	m, err := r.store.Member(ctx, convID, u.ID)
	if wache.ErrorCode(err) == wache.ENOTFOUND {
		return nil, nil, wache.Errorf(wache.ENOTFOUND, "no such conversation")
	} else if err != nil {
		return nil, nil, err
	}
	c, err := r.store.Conversation(ctx, convID)
	if err != nil {
		return nil, nil, err
	}
	return c, m, nil
}

// commitLoop is the group-commit writer: it takes whatever requests are
// queued (up to MaxBatch), stores them in one transaction and answers each.
func (r *Relay) commitLoop() {
	defer close(r.stopped)
	batch := make([]*appendReq, 0, r.opts.MaxBatch)
	for req := range r.reqs {
		batch = append(batch[:0], req)
	fill:
		for len(batch) < r.opts.MaxBatch {
			select {
			case req, ok := <-r.reqs:
				if !ok {
					break fill
				}
				batch = append(batch, req)
			default:
				break fill
			}
		}
		r.commit(batch)
	}
}

func (r *Relay) commit(batch []*appendReq) {
	envs := make([]*wache.Envelope, len(batch))
	for i, req := range batch {
		envs[i] = req.env
	}
	start := time.Now()
	var res []store.AppendResult
	var err error
	// Transient database errors (a PostgreSQL failover, a busy SQLite) get
	// a few retries; the batch is one transaction, so a retry never doubles.
	for attempt := 0; attempt < 3; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		res, err = r.store.AppendEnvelopes(ctx, envs)
		cancel()
		if err == nil {
			break
		}
		r.log.Warn("append batch failed", "size", len(envs), "attempt", attempt+1, "err", err)
		time.Sleep(time.Duration(attempt+1) * 50 * time.Millisecond)
	}
	r.m.batchSize.Observe(float64(len(batch)))
	r.m.commitSeconds.Observe(time.Since(start).Seconds())
	for i, req := range batch {
		if err != nil {
			req.done <- store.AppendResult{Err: &wache.Error{Code: wache.EUNAVAILABLE, Message: "storage unavailable; retry", Err: err}}
			continue
		}
		req.done <- res[i]
		switch {
		case res[i].Err != nil:
			r.m.rejected.Inc()
		case res[i].Duplicate:
			r.m.duplicates.Inc()
		default:
			r.m.accepted.Inc()
			if !req.hold {
				r.publish(envs[i])
			}
			if r.opts.OnAccepted != nil {
				r.opts.OnAccepted(envs[i])
			}
		}
	}
}

func (r *Relay) publish(env *wache.Envelope) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.broker.Publish(ctx, convSubject(env.ConvID), encodeEnvelope(env)); err != nil {
		// Not fatal: sessions re-check the store periodically.
		r.log.Warn("publish envelope notification", "conv", env.ConvID, "err", err)
	}
}

// enqueueAcks hands acknowledgements to the node's ack writer. When the
// queue is full they are dropped: a lost ack only means the item is
// delivered again, and the client's inbox drops repeats.
func (r *Relay) enqueueAcks(items []store.AckItem) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		return
	}
	for _, it := range items {
		select {
		case r.acks <- it:
		default:
			r.m.acksDropped.Inc()
		}
	}
}

// ackLoop writes the acknowledgements of every session of the node in one
// transaction every 100 ms: one fsync per flush instead of one per device.
func (r *Relay) ackLoop() {
	defer close(r.ackDone)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	var pending []store.AckItem
	flush := func() {
		if len(pending) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := r.store.AckBatch(ctx, pending); err != nil {
			r.log.Warn("store acks", "count", len(pending), "err", err)
		}
		cancel()
		pending = pending[:0]
	}
	for {
		select {
		case it, ok := <-r.acks:
			if !ok {
				flush()
				return
			}
			pending = append(pending, it)
			if len(pending) >= 4096 {
				flush()
			}
		case <-t.C:
			flush()
		}
	}
}

// MaxFetch bounds one Fetch.
const MaxFetch = 500

// Fetch returns a member's envelopes after seq, never those from before the
// member joined.
func (r *Relay) Fetch(ctx context.Context, u *wache.User, convID string, after int64, limit int) ([]wache.Envelope, error) {
	if after < 0 {
		return nil, wache.Errorf(wache.EINVALID, "after must not be negative")
	}
	if limit <= 0 || limit > MaxFetch {
		limit = MaxFetch
	}
	_, m, err := r.membership(ctx, u, convID)
	if err != nil {
		return nil, err
	}
	return r.store.Envelopes(ctx, convID, max(after, m.FromSeq), limit)
}

// Ack records that the device processed everything up to seq.
func (r *Relay) Ack(ctx context.Context, d *wache.Device, convID string, seq int64) error {
	if err := r.store.Ack(ctx, d.ID, convID, seq); err != nil {
		if wache.ErrorCode(err) == wache.ENOTFOUND {
			return wache.Errorf(wache.ENOTFOUND, "no such conversation")
		}
		return err
	}
	return nil
}

// Cursors returns the device's positions (for unread counts).
func (r *Relay) Cursors(ctx context.Context, d *wache.Device) ([]store.Cursor, error) {
	return r.store.Cursors(ctx, d.ID)
}

// MembershipChanged tells every node that users joined or left a conversation.
func (r *Relay) MembershipChanged(ctx context.Context, convID string, userIDs []string) {
	for _, id := range userIDs {
		if err := r.broker.Publish(ctx, userSubject(id), []byte(convID)); err != nil {
			r.log.Warn("publish membership change", "conv", convID, "err", err)
		}
	}
}

// DeviceRevoked tells every node to close the device's connections now.
func (r *Relay) DeviceRevoked(ctx context.Context, deviceID string) {
	if err := r.broker.Publish(ctx, deviceSubject(deviceID), []byte("revoked")); err != nil {
		r.log.Warn("publish revocation", "device", deviceID, "err", err)
	}
}

// RunRetention deletes expired envelopes every interval until ctx ends.
func (r *Relay) RunRetention(ctx context.Context, every time.Duration) {
	if r.opts.Retention <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := r.store.DeleteEnvelopesBefore(ctx, time.Now().Add(-r.opts.Retention))
		if err != nil && !errors.Is(err, context.Canceled) {
			r.log.Warn("retention", "err", err)
		} else if n > 0 {
			r.log.Info("retention deleted expired envelopes", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

type metrics struct {
	accepted, duplicates, rejected prometheus.Counter
	batchSize, commitSeconds       prometheus.Histogram
	delivered, acksDropped         prometheus.Counter
	sessions                       prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		accepted:      prometheus.NewCounter(prometheus.CounterOpts{Name: "wache_envelopes_accepted_total", Help: "Envelopes stored."}),
		duplicates:    prometheus.NewCounter(prometheus.CounterOpts{Name: "wache_envelopes_duplicate_total", Help: "Retried envelopes answered from the store."}),
		rejected:      prometheus.NewCounter(prometheus.CounterOpts{Name: "wache_envelopes_rejected_total", Help: "Envelopes refused at commit time."}),
		batchSize:     prometheus.NewHistogram(prometheus.HistogramOpts{Name: "wache_append_batch_size", Help: "Envelopes per group commit.", Buckets: prometheus.ExponentialBuckets(1, 2, 10)}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "wache_append_commit_seconds", Help: "Time per group commit.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		delivered:     prometheus.NewCounter(prometheus.CounterOpts{Name: "wache_envelopes_delivered_total", Help: "Envelopes written to live connections."}),
		sessions:      prometheus.NewGauge(prometheus.GaugeOpts{Name: "wache_live_sessions", Help: "Open live connections on this node."}),
		acksDropped:   prometheus.NewCounter(prometheus.CounterOpts{Name: "wache_acks_dropped_total", Help: "Acknowledgements dropped because the ack queue was full (items are redelivered)."}),
	}
	if reg != nil {
		reg.MustRegister(m.accepted, m.duplicates, m.rejected, m.batchSize, m.commitSeconds, m.delivered, m.sessions, m.acksDropped)
	}
	return m
}

func dmSubject(id string) string     { return "dm." + id }
func convSubject(id string) string   { return "conv." + id }
func userSubject(id string) string   { return "member." + id }
func deviceSubject(id string) string { return "device." + id }

// framesSubject carries frames for users' live connections (alarms,
// reminders) to every node.
const framesSubject = "frames.users"
