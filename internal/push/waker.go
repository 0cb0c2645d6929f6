package push

import (
	"context"
	"sync"
	"time"

	"github.com/wache/wache"
)

// WakerOptions tune a Waker. The zero value is valid.
type WakerOptions struct {
	// Grace is how long a device has to fetch a new envelope over its live
	// connection before it is woken by push (default 15 s). A connected
	// device acknowledges within a fraction of a second.
	Grace time.Duration
	// Repeat is the least time between two message pushes to one device for
	// one conversation (default 10 min): one wake-up per burst, not one per
	// message.
	Repeat time.Duration
	// MaxPending bounds the conversations waiting for their check (default
	// 100000); envelopes beyond it are not pushed.
	MaxPending int
}

// Waker turns accepted envelopes into "message" pushes for the member
// devices that have not fetched them within the grace time: devices
// without a live session, on any node. It needs no presence information:
// the store's per-device cursors are the truth, so it works unchanged
// across a cluster. The node that accepted an envelope reports it (see
// EnvelopeAccepted); checks are debounced per conversation.
type Waker struct {
	s    *Service
	opts WakerOptions

	mu      sync.Mutex
	pending map[string]*wake        // by conversation
	last    map[[2]string]time.Time // (device, conversation) -> last push
	closed  bool
	timers  sync.WaitGroup
}

// wake is a conversation's check waiting for its grace time. It keeps the
// newest sequence number of the two newest senders, so that a sender's own
// devices are woken only for what others wrote.
type wake struct {
	top    [2]seqBy // newest first, distinct senders
	urgent bool
	timer  *time.Timer
}

type seqBy struct {
	seq    int64
	sender string
}

func (w *wake) add(seq int64, sender string) {
	switch {
	case sender == w.top[0].sender:
		w.top[0].seq = max(w.top[0].seq, seq)
	case seq > w.top[0].seq:
		w.top[1], w.top[0] = w.top[0], seqBy{seq, sender}
	case sender == w.top[1].sender:
		w.top[1].seq = max(w.top[1].seq, seq)
	case seq > w.top[1].seq:
		w.top[1] = seqBy{seq, sender}
	}
}

// threshold is the newest sequence number written by someone other than
// user: the user's devices whose cursor is below it have something new.
func (w *wake) threshold(user string) int64 {
	if w.top[0].sender != user {
		return w.top[0].seq
	}
	return w.top[1].seq
}

// NewWaker returns a Waker sending through s.
func (s *Service) NewWaker(opts WakerOptions) *Waker {
	if opts.Grace <= 0 {
		opts.Grace = 15 * time.Second
	}
	if opts.Repeat <= 0 {
		opts.Repeat = 10 * time.Minute
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = 100000
	}
	return &Waker{s: s, opts: opts, pending: map[string]*wake{}, last: map[[2]string]time.Time{}}
}

// EnvelopeAccepted schedules the wake-up check for a stored envelope. It
// never blocks. Commits and alarm envelopes are skipped: commits wake no
// one, and alarms have their own high-urgency push.
func (w *Waker) EnvelopeAccepted(env *wache.Envelope) {
	if env == nil || (env.Kind != "" && env.Kind != wache.EnvApp) || env.Priority == "alarm" {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	p := w.pending[env.ConvID]
	if p == nil {
		if len(w.pending) >= w.opts.MaxPending {
			w.s.sent.WithLabelValues("dropped").Inc()
			return
		}
		p = &wake{}
		w.pending[env.ConvID] = p
		w.timers.Add(1)
		conv := env.ConvID
		p.timer = time.AfterFunc(w.opts.Grace, func() { defer w.timers.Done(); w.check(conv) })
	}
	p.add(env.Seq, env.SenderID)
	p.urgent = p.urgent || env.Priority != "" || env.AckRequired
}

// Close stops scheduling, drops the checks not yet due and waits for the
// running ones.
func (w *Waker) Close() {
	w.mu.Lock()
	w.closed = true
	for conv, p := range w.pending {
		if p.timer.Stop() {
			w.timers.Done()
		}
		delete(w.pending, conv)
	}
	w.mu.Unlock()
	w.timers.Wait()
}

func (w *Waker) check(conv string) {
	w.mu.Lock()
	p := w.pending[conv]
	delete(w.pending, conv)
	closed := w.closed
	w.mu.Unlock()
	if p == nil || closed {
		return
	}
	ctx, cancel := context.WithTimeout(w.s.base, 30*time.Second)
	defer cancel()
	// Member devices that can be pushed at all, with their cursor.
	rows, err := w.s.db.Query(ctx, `SELECT d.id, d.user_id, COALESCE(c.acked_seq, 0)
		FROM members m
		JOIN devices d ON d.user_id = m.user_id AND d.revoked_at IS NULL
		LEFT JOIN device_cursors c ON c.device_id = d.id AND c.conv_id = m.conv_id
		WHERE m.conv_id = ? AND EXISTS (SELECT 1 FROM push_subscriptions s WHERE s.device_id = d.id)`, conv)
	if err != nil {
		w.s.log.Warn("push waker: read member devices", "conv", conv, "err", err)
		return
	}
	type cand struct {
		dev, user string
		acked     int64
	}
	var cands []cand
	for rows.Next() {
		var c cand
		if err := rows.Scan(&c.dev, &c.user, &c.acked); err != nil {
			rows.Close()
			w.s.log.Warn("push waker: read member devices", "conv", conv, "err", err)
			return
		}
		cands = append(cands, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		w.s.log.Warn("push waker: read member devices", "conv", conv, "err", err)
		return
	}
	now := w.s.opts.Now()
	var devs []string
	w.mu.Lock()
	for _, c := range cands {
		if c.acked >= p.threshold(c.user) {
			continue // fetched it (live session), or nothing new from others
		}
		k := [2]string{c.dev, conv}
		if t, ok := w.last[k]; ok && now.Sub(t) < w.opts.Repeat {
			continue
		}
		w.last[k] = now
		devs = append(devs, c.dev)
	}
	w.prune(now)
	w.mu.Unlock()
	if len(devs) == 0 {
		return
	}
	n := Notification{Kind: KindMessage, Urgency: UrgencyNormal}
	if p.urgent {
		n.Urgency = UrgencyHigh
	}
	if err := w.s.Notify(ctx, devs, n); err != nil {
		w.s.log.Warn("push waker: notify", "conv", conv, "devices", len(devs), "err", err)
	}
}

// prune forgets repeat marks older than Repeat once the map grows.
func (w *Waker) prune(now time.Time) {
	if len(w.last) < 4096 {
		return
	}
	for k, t := range w.last {
		if now.Sub(t) >= w.opts.Repeat {
			delete(w.last, k)
		}
	}
}
