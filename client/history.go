package client

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wache/wache"
)

// History is the decrypted message history of this device, kept in its
// State (so encrypted at rest by the Vault). MLS keys are used once and
// deleted (forward secrecy): a message cannot be decrypted a second time,
// so an app that shows past messages must keep the plaintext itself.
//
// Per conversation it keeps an index ("hx_<conv>") and the entries in
// chunks ("h_<conv>_<n>"): appending rewrites one small chunk, never the
// whole history. At most MaxHistory entries per conversation are kept; the
// oldest chunks are dropped.
type History struct {
	st   State
	self string // the user's id: tells own messages apart

	mu  sync.Mutex
	idx map[string]*convIndex // loaded lazily
}

// Message states of the history (Entry.Status). Own messages go
// pending → sent (the server stored it) → delivered → read (receipts of
// other members; in a group, of at least one other member); failed when
// the server refused them. Received messages are delivered, then read.
const (
	StatusPending   = "pending"
	StatusSent      = "sent"
	StatusDelivered = "delivered"
	StatusRead      = "read"
	StatusFailed    = "failed"
)

func statusRank(s string) int {
	switch s {
	case StatusSent:
		return 1
	case StatusDelivered:
		return 2
	case StatusRead:
		return 3
	}
	return 0
}

// Limits of the history.
var (
	// MaxHistory is how many entries per conversation are kept.
	MaxHistory = 5000
	// chunkEntries and chunkBytes close a chunk; thumbnails make entries
	// up to ~16 KB, so a chunk is closed by size long before 100 of them.
	chunkEntries = 100
	chunkBytes   = 256 << 10
)

// Entry is one message of the history as the UI shows it.
type Entry struct {
	ConvID string `json:"conv_id"`
	// Seq is the server's sequence number; 0 while the message is pending.
	Seq int64 `json:"seq"`
	// LocalID is the outbox id of own messages sent from this device.
	LocalID     string    `json:"local_id,omitempty"`
	SenderID    string    `json:"sender_id"`
	SenderEmail string    `json:"sender_email,omitempty"`
	Mine        bool      `json:"mine,omitempty"`
	Time        time.Time `json:"time"`
	Payload     Payload   `json:"payload"`
	Status      string    `json:"status"`
	// Error says why an own message failed.
	Error         string `json:"error,omitempty"`
	Undecryptable string `json:"undecryptable,omitempty"`
}

// ConvSummary is what the chat list shows of a conversation.
type ConvSummary struct {
	Unread int    `json:"unread"`
	Last   *Entry `json:"last,omitempty"`
}

type convIndex struct {
	First   int   `json:"first"`  // oldest chunk kept
	Counts  []int `json:"counts"` // entries of chunks First, First+1, …
	Closed  bool  `json:"closed"` // the last chunk is full: the next entry opens one
	ReadSeq int64 `json:"read_seq"`
	Unread  int   `json:"unread"`
	MaxSeq  int64 `json:"max_seq"`
	Last    *Entry
}

func (ix *convIndex) next() int { return ix.First + len(ix.Counts) }

// valid bounds what a stored index may say, so that a damaged one cannot
// make a walk run away.
func (ix *convIndex) valid() bool {
	if ix.First < 0 || ix.First > 1<<40 || len(ix.Counts) > 1<<16 || ix.Unread < 0 || ix.ReadSeq < 0 || ix.MaxSeq < 0 {
		return false
	}
	for _, c := range ix.Counts {
		if c < 0 || c > 1<<20 {
			return false
		}
	}
	return true
}

func histIndexKey(convID string) string        { return "hx_" + convID }
func histChunkKey(convID string, n int) string { return fmt.Sprintf("h_%s_%d", convID, n) }

// OpenHistory returns the history kept in st for the user selfUserID.
func OpenHistory(st State, selfUserID string) *History {
	return &History{st: st, self: selfUserID, idx: map[string]*convIndex{}}
}

// corrupt marks unreadable local data (a damaged or altered store).
func corrupt(what string, err error) error {
	return &wache.Error{Code: ECORRUPT, Message: "local data is damaged (" + what + "): log out and enrol this device again", Err: err}
}

// Error codes that exist only on devices: ECORRUPT for local data that
// cannot be read back (a damaged or altered store), ESTORAGE for a store
// that is missing or does not answer (a browser without IndexedDB).
const (
	ECORRUPT = "corrupt"
	ESTORAGE = "storage"
)

func (h *History) indexLocked(ctx context.Context, convID string) (*convIndex, error) {
	if ix, ok := h.idx[convID]; ok {
		return ix, nil
	}
	ix := &convIndex{}
	b, err := h.st.Load(ctx, histIndexKey(convID))
	if err != nil {
		return nil, err
	}
	if len(b) > 0 {
		if err := json.Unmarshal(b, ix); err != nil || !ix.valid() {
			return nil, corrupt("history index", err)
		}
	}
	h.idx[convID] = ix
	return ix, nil
}

func (h *History) saveIndexLocked(ctx context.Context, convID string, ix *convIndex) error {
	b, err := json.Marshal(ix)
	if err != nil {
		return err
	}
	return h.st.Save(ctx, histIndexKey(convID), b)
}

func (h *History) chunkLocked(ctx context.Context, convID string, n int) ([]Entry, error) {
	b, err := h.st.Load(ctx, histChunkKey(convID, n))
	if err != nil || len(b) == 0 { // empty: dropped chunk
		return nil, err
	}
	var es []Entry
	if err := json.Unmarshal(b, &es); err != nil {
		return nil, corrupt("history", err)
	}
	return es, nil
}

// saveChunkLocked stores chunk n and updates its count; a chunk that grew
// past the limits is closed.
func (h *History) saveChunkLocked(ctx context.Context, convID string, ix *convIndex, n int, es []Entry) error {
	b, err := json.Marshal(es)
	if err != nil {
		return err
	}
	if err := h.st.Save(ctx, histChunkKey(convID, n), b); err != nil {
		return err
	}
	if i := n - ix.First; i >= 0 && i < len(ix.Counts) {
		ix.Counts[i] = len(es)
		if i == len(ix.Counts)-1 && (len(es) >= chunkEntries || len(b) >= chunkBytes) {
			ix.Closed = true
		}
	}
	return nil
}

// appendLocked adds an entry to the newest chunk (opening one if needed),
// drops the oldest chunks beyond MaxHistory and saves the index.
func (h *History) appendLocked(ctx context.Context, ix *convIndex, e Entry) error {
	var es []Entry
	n := ix.next() - 1
	if len(ix.Counts) == 0 || ix.Closed {
		n = ix.next()
		ix.Counts = append(ix.Counts, 0)
		ix.Closed = false
	} else {
		var err error
		if es, err = h.chunkLocked(ctx, e.ConvID, n); err != nil {
			return err
		}
	}
	// A write that stopped half-way (chunk saved, index not) may have
	// left this message in the chunk already: it is not added twice.
	if e.Seq == 0 || !slices.ContainsFunc(es, func(x Entry) bool { return x.Seq == e.Seq }) {
		es = append(es, e)
	}
	sortEntries(es)
	if err := h.saveChunkLocked(ctx, e.ConvID, ix, n, es); err != nil {
		return err
	}
	total := 0
	for _, c := range ix.Counts {
		total += c
	}
	for len(ix.Counts) > 1 && total-ix.Counts[0] >= MaxHistory {
		if err := h.st.Save(ctx, histChunkKey(e.ConvID, ix.First), nil); err != nil {
			return err
		}
		total -= ix.Counts[0]
		ix.Counts = ix.Counts[1:]
		ix.First++
	}
	if e.Seq > ix.MaxSeq {
		ix.MaxSeq = e.Seq
	}
	if ix.Last == nil || !entryBefore(e, *ix.Last) {
		last := e
		last.Payload.Thumbnail = "" // the list needs no picture
		ix.Last = &last
	}
	return h.saveIndexLocked(ctx, e.ConvID, ix)
}

// entryBefore orders entries: by sequence number, pending ones (seq 0)
// last in the order they were made.
func entryBefore(a, b Entry) bool {
	switch {
	case a.Seq == 0 && b.Seq == 0:
		return a.Time.Before(b.Time)
	case a.Seq == 0:
		return false
	case b.Seq == 0:
		return true
	}
	return a.Seq < b.Seq
}

func sortEntries(es []Entry) {
	slices.SortStableFunc(es, func(a, b Entry) int {
		switch {
		case entryBefore(a, b):
			return -1
		case entryBefore(b, a):
			return 1
		}
		return 0
	})
}

// How many of the newest chunks a search walks (0: all). What is looked
// for is recent — a pending message, the message a receipt names, an open
// live sharing — and an update must not decrypt a long history each time
// (a receipt arrives every few seconds in a busy group).
const (
	recentChunks = 5
	allChunks    = 0
)

// updateLocked applies fn to entries from the newest chunk backwards until
// fn says stop or depth chunks were seen; changed chunks are saved. It
// returns the changed entries.
func (h *History) updateLocked(ctx context.Context, convID string, ix *convIndex, depth int, fn func(e *Entry) (changed, stop bool)) ([]Entry, error) {
	var out []Entry
	for n := ix.next() - 1; n >= ix.First && (depth == allChunks || n > ix.next()-1-depth); n-- {
		es, err := h.chunkLocked(ctx, convID, n)
		if err != nil {
			return out, err
		}
		dirty, stop := false, false
		for i := len(es) - 1; i >= 0 && !stop; i-- {
			var ch bool
			ch, stop = fn(&es[i])
			if ch {
				dirty = true
				out = append(out, es[i])
			}
		}
		if dirty {
			sortEntries(es)
			if err := h.saveChunkLocked(ctx, convID, ix, n, es); err != nil {
				return out, err
			}
		}
		if stop {
			break
		}
	}
	return out, nil
}

// refreshLast keeps the chat list's preview in step with a changed entry.
func refreshLast(ix *convIndex, changed []Entry) {
	for _, e := range changed {
		if ix.Last != nil && ((e.LocalID != "" && e.LocalID == ix.Last.LocalID) || (e.Seq != 0 && e.Seq == ix.Last.Seq)) {
			last := e
			last.Payload.Thumbnail = ""
			ix.Last = &last
		}
	}
}

// Record adds a message received from the server (another member's, or
// one of this user's other devices) and returns the entries to show as
// new or changed. Receipts are not shown: they move the state of own
// messages. Live positions update one entry per sharing instead of
// adding one per fix.
func (h *History) Record(ctx context.Context, m Message) ([]Entry, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ix, err := h.indexLocked(ctx, m.ConvID)
	if err != nil {
		return nil, err
	}
	mine := m.SenderID == h.self
	p := m.Payload
	if m.Undecryptable == "" && p.Type == TypeReceipt && p.Receipt != nil {
		if mine { // read on another device of this user
			if p.Receipt.Kind == StatusRead {
				return nil, h.markReadLocked(ctx, m.ConvID, ix, p.Receipt.Seq)
			}
			return nil, nil
		}
		return h.applyReceiptLocked(ctx, m.ConvID, ix, p.Receipt.Kind, p.Receipt.Seq)
	}
	if m.Seq > 0 && m.Seq <= ix.MaxSeq {
		dup := false
		if _, err := h.updateLocked(ctx, m.ConvID, ix, recentChunks, func(e *Entry) (bool, bool) {
			dup = dup || e.Seq == m.Seq
			return false, dup || (e.Seq != 0 && e.Seq < m.Seq)
		}); err != nil || dup {
			return nil, err
		}
	}
	e := Entry{ConvID: m.ConvID, Seq: m.Seq, SenderID: m.SenderID, SenderEmail: m.SenderEmail, Mine: mine,
		Time: m.Time, Payload: p, Status: StatusDelivered, Undecryptable: m.Undecryptable}
	if e.Undecryptable != "" {
		e.Payload = Payload{V: 1, Type: TypeUnsupported}
	}
	if mine {
		e.Status = StatusSent
	}
	if ValidateThumbnail(e.Payload.Thumbnail) != nil {
		e.Payload.Thumbnail = ""
	}
	var changed []Entry
	if e.Undecryptable == "" && (p.Type == TypeLiveLocation || p.Type == TypeLiveStop) {
		var merged bool
		changed, merged, err = h.mergeLiveLocked(ctx, ix, e)
		if err != nil || merged {
			if err == nil && m.Seq > ix.MaxSeq {
				ix.MaxSeq = m.Seq
				err = h.saveIndexLocked(ctx, m.ConvID, ix)
			}
			return changed, err
		}
	}
	if !mine && m.Seq > ix.ReadSeq {
		ix.Unread++
	}
	if err := h.appendLocked(ctx, ix, e); err != nil {
		return nil, err
	}
	return append(changed, e), nil
}

// mergeLiveLocked folds a live position update into the open live entry of
// the same sender; a stop closes it (and is added as an entry of its own).
func (h *History) mergeLiveLocked(ctx context.Context, ix *convIndex, e Entry) ([]Entry, bool, error) {
	found := false
	changed, err := h.updateLocked(ctx, e.ConvID, ix, recentChunks, func(x *Entry) (bool, bool) {
		if found {
			return false, true
		}
		if x.SenderID != e.SenderID || x.Payload.Type != TypeLiveLocation || x.Payload.Location == nil {
			return false, false
		}
		found = true
		lu := x.Payload.Location.LiveUntil
		if lu == nil || !lu.After(e.Time) {
			return false, true // ended: a new fix opens a new sharing
		}
		if e.Payload.Type == TypeLiveStop {
			t := e.Time
			loc := *x.Payload.Location
			loc.LiveUntil = &t
			x.Payload.Location = &loc
		} else {
			x.Payload.Location = e.Payload.Location
		}
		return true, true
	})
	if err != nil {
		return nil, false, err
	}
	if len(changed) > 0 {
		refreshLast(ix, changed)
		if err := h.saveIndexLocked(ctx, e.ConvID, ix); err != nil {
			return nil, false, err
		}
	}
	return changed, len(changed) > 0 && e.Payload.Type == TypeLiveLocation, nil
}

// AddPending records an own message queued in the outbox (not yet stored
// by the server). A live position update of an open sharing changes that
// entry instead.
func (h *History) AddPending(ctx context.Context, convID, localID string, p Payload, now time.Time) ([]Entry, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ix, err := h.indexLocked(ctx, convID)
	if err != nil {
		return nil, err
	}
	e := Entry{ConvID: convID, LocalID: localID, SenderID: h.self, Mine: true, Time: now, Payload: p, Status: StatusPending}
	if p.Type == TypeLiveLocation || p.Type == TypeLiveStop {
		changed, merged, err := h.mergeLiveLocked(ctx, ix, e)
		if err != nil || merged {
			return changed, err
		}
		if len(changed) > 0 { // a stop: the closed entry and the stop entry
			if err := h.appendLocked(ctx, ix, e); err != nil {
				return nil, err
			}
			return append(changed, e), nil
		}
	}
	if err := h.appendLocked(ctx, ix, e); err != nil {
		return nil, err
	}
	return []Entry{e}, nil
}

// MarkSent records the server's acknowledgement of an own message.
func (h *History) MarkSent(ctx context.Context, convID, localID string, seq int64, at time.Time) ([]Entry, error) {
	return h.setOwn(ctx, convID, localID, func(e *Entry) {
		e.Seq, e.Status = seq, StatusSent
		if !at.IsZero() {
			e.Time = at
		}
	})
}

// SetPayload replaces the payload of a pending own message (an upload
// finished: the reference with the key is known now).
func (h *History) SetPayload(ctx context.Context, convID, localID string, p Payload) error {
	_, err := h.setOwn(ctx, convID, localID, func(e *Entry) { e.Payload = p })
	return err
}

// MarkFailed records that the server refused an own message.
func (h *History) MarkFailed(ctx context.Context, convID, localID, reason string) ([]Entry, error) {
	return h.setOwn(ctx, convID, localID, func(e *Entry) { e.Status, e.Error = StatusFailed, reason })
}

func (h *History) setOwn(ctx context.Context, convID, localID string, fn func(*Entry)) ([]Entry, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ix, err := h.indexLocked(ctx, convID)
	if err != nil {
		return nil, err
	}
	changed, err := h.updateLocked(ctx, convID, ix, recentChunks, func(e *Entry) (bool, bool) {
		if e.LocalID != localID || e.Status != StatusPending {
			return false, false
		}
		fn(e)
		return true, true
	})
	if err != nil || len(changed) == 0 {
		return nil, err
	}
	if s := changed[0].Seq; s > ix.MaxSeq {
		ix.MaxSeq = s
	}
	refreshLast(ix, changed)
	return changed, h.saveIndexLocked(ctx, convID, ix)
}

// applyReceiptLocked moves own messages up to seq to delivered or read. A
// receipt covers everything before it, so the walk stops at the first own
// message that already has that state.
func (h *History) applyReceiptLocked(ctx context.Context, convID string, ix *convIndex, kind string, seq int64) ([]Entry, error) {
	if kind != StatusDelivered && kind != StatusRead {
		return nil, nil
	}
	changed, err := h.updateLocked(ctx, convID, ix, recentChunks, func(e *Entry) (bool, bool) {
		if !e.Mine || e.Seq == 0 || e.Seq > seq || e.Status == StatusFailed {
			return false, false
		}
		if statusRank(e.Status) >= statusRank(kind) {
			return false, true
		}
		e.Status = kind
		return true, false
	})
	if err != nil || len(changed) == 0 {
		return changed, err
	}
	refreshLast(ix, changed)
	return changed, h.saveIndexLocked(ctx, convID, ix)
}

// MarkRead records that the user has seen everything up to seq.
func (h *History) MarkRead(ctx context.Context, convID string, seq int64) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	ix, err := h.indexLocked(ctx, convID)
	if err != nil {
		return err
	}
	return h.markReadLocked(ctx, convID, ix, seq)
}

func (h *History) markReadLocked(ctx context.Context, convID string, ix *convIndex, seq int64) error {
	if seq <= ix.ReadSeq && ix.Unread == 0 {
		return nil
	}
	ix.ReadSeq = max(ix.ReadSeq, seq)
	unread := 0
	if _, err := h.updateLocked(ctx, convID, ix, allChunks, func(e *Entry) (bool, bool) {
		if e.Seq != 0 && e.Seq <= ix.ReadSeq {
			return false, true
		}
		if !e.Mine && e.Seq > ix.ReadSeq {
			unread++
		}
		return false, false
	}); err != nil {
		return err
	}
	ix.Unread = unread
	return h.saveIndexLocked(ctx, convID, ix)
}

// Summary returns the unread count and the newest entry of a conversation.
func (h *History) Summary(ctx context.Context, convID string) (ConvSummary, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ix, err := h.indexLocked(ctx, convID)
	if err != nil {
		return ConvSummary{}, err
	}
	return ConvSummary{Unread: ix.Unread, Last: ix.Last}, nil
}

// Messages returns up to limit entries before sequence number beforeSeq
// (0: the newest, pending ones included), oldest first.
func (h *History) Messages(ctx context.Context, convID string, beforeSeq int64, limit int) ([]Entry, error) {
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	ix, err := h.indexLocked(ctx, convID)
	if err != nil {
		return nil, err
	}
	var out []Entry
	for n := ix.next() - 1; n >= ix.First && len(out) < limit; n-- {
		es, err := h.chunkLocked(ctx, convID, n)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			if beforeSeq <= 0 || (e.Seq != 0 && e.Seq < beforeSeq) {
				out = append(out, e)
			}
		}
	}
	sortEntries(out)
	if len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out, nil
}

// Find returns the entry of a sequence number (nil if not kept).
func (h *History) Find(ctx context.Context, convID string, seq int64) (*Entry, error) {
	es, err := h.Messages(ctx, convID, seq+1, 1)
	if err != nil || len(es) == 0 || es[0].Seq != seq {
		return nil, err
	}
	return &es[0], nil
}

// Forget removes a conversation's history (left or removed).
func (h *History) Forget(ctx context.Context, convID string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	ix, err := h.indexLocked(ctx, convID)
	if err != nil {
		return err
	}
	for n := ix.First; n < ix.next(); n++ {
		if err := h.st.Save(ctx, histChunkKey(convID, n), nil); err != nil {
			return err
		}
	}
	delete(h.idx, convID)
	return h.st.Save(ctx, histIndexKey(convID), nil)
}

// MaxThumbnail bounds an attachment preview carried in a message.
const MaxThumbnail = 16 << 10

// ValidateThumbnail accepts "" or a base64 data: URL of a JPEG, PNG or WebP
// image of at most MaxThumbnail bytes (no SVG: it could carry script).
func ValidateThumbnail(s string) error {
	if s == "" {
		return nil
	}
	if len(s) > MaxThumbnail {
		return fmt.Errorf("thumbnail larger than %d bytes", MaxThumbnail)
	}
	for _, pre := range []string{"data:image/jpeg;base64,", "data:image/png;base64,", "data:image/webp;base64,"} {
		if rest, ok := strings.CutPrefix(s, pre); ok {
			if strings.Trim(rest, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") != "" {
				return fmt.Errorf("thumbnail is not base64")
			}
			return nil
		}
	}
	return fmt.Errorf("thumbnail must be a JPEG, PNG or WebP data URL")
}
