package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/internal/store"
)

const (
	insertChunk     = 200  // envelopes per multi-row INSERT
	deleteChunk     = 5000 // envelopes per retention DELETE: short write locks
	maxAppendRetry  = 3    // attempts of a batch that lost a race on PostgreSQL
	envelopeColumns = 11
)

// Priorities an envelope may carry.
const (
	PriorityUrgent = "urgent"
	PriorityAlarm  = "alarm"
)

// Reminder interval bounds of an acknowledgement request, in seconds.
const (
	RemindDefault = 120
	RemindMin     = 30
	RemindMax     = 86400
)

func checkEnvelope(e *wache.Envelope) error {
	if e == nil {
		return invalid("missing envelope")
	}
	for _, f := range []struct{ name, v string }{
		{"conversation id", e.ConvID},
		{"sender id", e.SenderID},
		{"sender device", e.SenderDevice},
		{"client id", e.ClientID},
	} {
		if err := checkID(f.name, f.v); err != nil {
			return err
		}
	}
	if e.Kind == "" {
		e.Kind = wache.EnvApp
	}
	if !wache.ValidEnvelopeKind(e.Kind) {
		return invalid("unknown envelope kind %q", e.Kind)
	}
	if e.Epoch < 0 {
		return invalid("negative epoch")
	}
	if len(e.Payload) > wache.MaxPayload {
		return wache.Errorf(wache.ETOOLARGE, "payload exceeds %d bytes", wache.MaxPayload)
	}
	switch e.Priority {
	case "", PriorityUrgent, PriorityAlarm:
	default:
		return invalid("priority must be empty, urgent or alarm")
	}
	if (e.Priority != "" || e.AckRequired) && e.Kind != wache.EnvApp {
		return invalid("only application envelopes carry a priority or need acknowledgement")
	}
	if e.AckRequired {
		if e.RemindEvery == 0 {
			e.RemindEvery = RemindDefault
		}
		if e.RemindEvery < RemindMin || e.RemindEvery > RemindMax {
			return invalid("reminder interval must be %d..%d seconds", RemindMin, RemindMax)
		}
	}
	return nil
}

type dedupeKey struct{ device, client string }

// AppendEnvelopes stores a batch in one write transaction (one fsync for
// the whole batch). Per item: a (device, client id) pair seen before in the
// same conversation is a Duplicate with its original Seq and CreatedAt, in
// another conversation ECONFLICT; an unknown conversation is ENOTFOUND; a
// sender that is not a member, or whose device is revoked or not theirs,
// is EFORBIDDEN; a bad envelope is EINVALID or ETOOLARGE. Per-item errors
// leave the rest of the batch standing; a database error fails the whole
// call and stores nothing. Seq and CreatedAt of stored and duplicate
// envelopes are filled in.
func (s *Store) AppendEnvelopes(ctx context.Context, envs []*wache.Envelope) ([]store.AppendResult, error) {
	if len(envs) == 0 {
		return []store.AppendResult{}, nil
	}
	if len(envs) > MaxAppendBatch {
		return nil, invalid("more than %d envelopes in one batch", MaxAppendBatch)
	}
	base := make([]store.AppendResult, len(envs))
	alias := make([]int, len(envs)) // index of an earlier item with the same pair, or -1
	first := make(map[dedupeKey]int, len(envs))
	for i, e := range envs {
		alias[i] = -1
		if err := checkEnvelope(e); err != nil {
			base[i].Err = err
			continue
		}
		k := dedupeKey{e.SenderDevice, e.ClientID}
		if j, ok := first[k]; ok {
			alias[i] = j
			continue
		}
		first[k] = i
	}
	var res []store.AppendResult
	for attempt := 1; ; attempt++ {
		var err error
		res, err = s.appendTx(ctx, envs, base, alias)
		if err == nil {
			break
		}
		// On PostgreSQL a concurrent batch on another connection or node may
		// have stored the same pair first, or crossed our locks: run the
		// batch again, now seeing the other one's rows.
		if attempt < maxAppendRetry && ctx.Err() == nil && (s.db.Dialect.IsUniqueViolation(err) || retryable(err)) {
			continue
		}
		return nil, fmt.Errorf("append envelopes: %w", err)
	}
	for i, j := range alias {
		if j < 0 {
			continue
		}
		r := res[j]
		switch {
		case r.Err != nil:
			res[i] = store.AppendResult{Err: r.Err}
		case envs[i].ConvID == envs[j].ConvID:
			res[i] = store.AppendResult{Seq: r.Seq, CreatedAt: r.CreatedAt, Duplicate: true}
		default:
			res[i] = store.AppendResult{Err: wache.Errorf(wache.ECONFLICT, "client id already used in another conversation")}
		}
	}
	for i, r := range res {
		if r.Err == nil {
			envs[i].Seq, envs[i].CreatedAt = r.Seq, r.CreatedAt
		}
	}
	return res, nil
}

// retryable reports a PostgreSQL serialization failure or deadlock.
func retryable(err error) bool {
	var e interface{ SQLState() string }
	if errors.As(err, &e) {
		c := e.SQLState()
		return c == "40001" || c == "40P01"
	}
	return false
}

type memberKey struct{ conv, device, user string }

// appendTx runs one attempt of a batch; base holds validation results and
// is not modified.
func (s *Store) appendTx(ctx context.Context, envs []*wache.Envelope, base []store.AppendResult, alias []int) ([]store.AppendResult, error) {
	res := slices.Clone(base)
	var todo []int
	for i := range envs {
		if res[i].Err == nil && alias[i] < 0 {
			todo = append(todo, i)
		}
	}
	if len(todo) == 0 {
		return res, nil
	}
	now := time.Now().UnixMilli()
	err := s.db.InTx(ctx, func(tx *Tx) error {
		// 1. Pairs stored before (by an earlier batch).
		args := make([]any, 0, 2*len(todo))
		for _, i := range todo {
			args = append(args, envs[i].SenderDevice, envs[i].ClientID)
		}
		rows, err := tx.Query(ctx, `SELECT e.sender_device, e.client_id, e.conv_id, e.seq, e.created_at
			FROM (VALUES `+placeholders(len(todo), 2)+`) v
			JOIN envelopes e ON e.sender_device = v.column1 AND e.client_id = v.column2`, args...)
		if err != nil {
			return fmt.Errorf("query duplicates: %w", err)
		}
		type stored struct {
			conv    string
			seq, at int64
		}
		old := make(map[dedupeKey]stored)
		for rows.Next() {
			var k dedupeKey
			var st stored
			if err := rows.Scan(&k.device, &k.client, &st.conv, &st.seq, &st.at); err != nil {
				rows.Close()
				return fmt.Errorf("scan duplicate: %w", err)
			}
			old[k] = st
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("query duplicates: %w", err)
		}
		fresh := todo[:0:0]
		for _, i := range todo {
			e := envs[i]
			st, ok := old[dedupeKey{e.SenderDevice, e.ClientID}]
			switch {
			case !ok:
				fresh = append(fresh, i)
			case st.conv == e.ConvID:
				res[i] = store.AppendResult{Seq: st.seq, CreatedAt: fromMS(st.at), Duplicate: true}
			default:
				res[i].Err = wache.Errorf(wache.ECONFLICT, "client id already used in another conversation")
			}
		}
		if len(fresh) == 0 {
			return nil
		}

		// 2. The sender's device is theirs, not revoked, and the sender is
		// a member of the conversation.
		var keys []memberKey
		seenKey := make(map[memberKey]bool)
		for _, i := range fresh {
			k := memberKey{envs[i].ConvID, envs[i].SenderDevice, envs[i].SenderID}
			if !seenKey[k] {
				seenKey[k] = true
				keys = append(keys, k)
			}
		}
		args = args[:0]
		for _, k := range keys {
			args = append(args, k.conv, k.device, k.user)
		}
		rows, err = tx.Query(ctx, `SELECT v.column1, v.column2, v.column3
			FROM (VALUES `+placeholders(len(keys), 3)+`) v
			JOIN devices d ON d.id = v.column2 AND d.user_id = v.column3 AND d.revoked_at IS NULL
			JOIN members m ON m.conv_id = v.column1 AND m.user_id = v.column3`, args...)
		if err != nil {
			return fmt.Errorf("query membership: %w", err)
		}
		allowed := make(map[memberKey]bool, len(keys))
		for rows.Next() {
			var k memberKey
			if err := rows.Scan(&k.conv, &k.device, &k.user); err != nil {
				rows.Close()
				return fmt.Errorf("scan membership: %w", err)
			}
			allowed[k] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("query membership: %w", err)
		}
		convErr := make(map[string]error) // why a refused item was refused
		for _, k := range keys {
			if allowed[k] {
				continue
			}
			if _, done := convErr[k.conv]; done {
				continue
			}
			ok, err := existsRow(tx.QueryRow(ctx, `SELECT 1 FROM conversations WHERE id = ?`, k.conv))
			if err != nil {
				return fmt.Errorf("query conversation: %w", err)
			}
			if ok {
				convErr[k.conv] = wache.Errorf(wache.EFORBIDDEN, "not a member of the conversation")
			} else {
				convErr[k.conv] = notFound("conversation")
			}
		}

		// 3. Sequence numbers: one UPDATE for all conversations of the batch.
		// Its row locks serialise appenders across nodes on PostgreSQL, so
		// each conversation's numbers stay gapless and in commit order.
		byConv := make(map[string][]int)
		var convs []string
		for _, i := range fresh {
			e := envs[i]
			if !allowed[memberKey{e.ConvID, e.SenderDevice, e.SenderID}] {
				res[i].Err = convErr[e.ConvID]
				continue
			}
			if e.Kind == wache.EnvCommit {
				// MLS handshake order: a commit counts only if it was made
				// for the current epoch; it then opens the next one, so a
				// concurrent commit for the same epoch loses here.
				ok, err := s.advanceEpoch(ctx, tx, e.ConvID, e.Epoch)
				if err != nil {
					return err
				}
				if !ok {
					res[i].Err = wache.Errorf(wache.ECONFLICT, "stale epoch %d: the group has moved on; process the newer commits and retry", e.Epoch)
					continue
				}
			}
			if _, ok := byConv[e.ConvID]; !ok {
				convs = append(convs, e.ConvID)
			}
			byConv[e.ConvID] = append(byConv[e.ConvID], i)
		}
		slices.Sort(convs)
		if len(convs) == 0 {
			return nil
		}
		if s.db.Dialect.Postgres() {
			// Lock the rows in id order first: the UPDATE below visits them
			// in plan order, and crossing orders between concurrent batches
			// would deadlock.
			args = args[:0]
			for _, c := range convs {
				args = append(args, c)
			}
			rows, err := tx.Query(ctx, `SELECT id FROM conversations WHERE id IN (`+
				strings.TrimSuffix(strings.Repeat("?,", len(convs)), ",")+`) ORDER BY id FOR UPDATE`, args...)
			if err != nil {
				return fmt.Errorf("lock conversations: %w", err)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("lock conversations: %w", err)
			}
		}
		args = append(args[:0], now)
		for _, c := range convs {
			args = append(args, c, len(byConv[c]))
		}
		rows, err = tx.Query(ctx, `UPDATE conversations SET last_seq = last_seq + v.column2, last_at = ?
			FROM (VALUES `+strings.TrimSuffix(strings.Repeat("(?, CAST(? AS BIGINT)),", len(convs)), ",")+`) AS v
			WHERE conversations.id = v.column1
			RETURNING conversations.id, conversations.last_seq`, args...)
		if err != nil {
			return fmt.Errorf("advance sequences: %w", err)
		}
		lastSeq := make(map[string]int64, len(convs))
		for rows.Next() {
			var c string
			var last int64
			if err := rows.Scan(&c, &last); err != nil {
				rows.Close()
				return fmt.Errorf("scan sequence: %w", err)
			}
			lastSeq[c] = last
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("advance sequences: %w", err)
		}
		var insert []int
		for _, c := range convs {
			idx := byConv[c]
			last, ok := lastSeq[c]
			if !ok { // vanished since the membership check
				for _, i := range idx {
					res[i].Err = notFound("conversation")
				}
				continue
			}
			seq := last - int64(len(idx))
			for _, i := range idx {
				seq++
				res[i] = store.AppendResult{Seq: seq, CreatedAt: fromMS(now)}
				insert = append(insert, i)
			}
		}

		// 4. The envelopes, in multi-row INSERTs.
		for chunk := range slices.Chunk(insert, insertChunk) {
			args = args[:0]
			for _, i := range chunk {
				e := envs[i]
				p := e.Payload
				if p == nil {
					p = []byte{}
				}
				args = append(args, e.ConvID, res[i].Seq, e.SenderID, e.SenderDevice, e.ClientID, now, p, string(e.Kind), e.Epoch, e.Priority, boolInt(e.AckRequired))
			}
			if _, err := tx.Exec(ctx, `INSERT INTO envelopes (conv_id, seq, sender_id, sender_device, client_id, created_at, payload, kind, epoch, priority, ack_required) VALUES `+
				placeholders(len(chunk), envelopeColumns), args...); err != nil {
				return fmt.Errorf("insert envelopes: %w", err)
			}
		}
		// 5. Acknowledgement requests, in the same transaction: a stored
		// ack-required envelope always has its counter row and reminder
		// schedule. Recipients are the members who receive it (joined
		// before it, other than the sender).
		for _, i := range insert {
			e := envs[i]
			if !e.AckRequired {
				continue
			}
			if _, err := tx.Exec(ctx, `INSERT INTO ack_requests (conv_id, seq, sender_id, priority, recipients, remind_every_s, next_remind_at, created_at)
				SELECT ?, CAST(? AS BIGINT), ?, ?, COUNT(*), CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT)
				FROM members WHERE conv_id = ? AND user_id <> ? AND from_seq < ?`,
				e.ConvID, res[i].Seq, e.SenderID, e.Priority, e.RemindEvery, now+int64(e.RemindEvery)*1000, now,
				e.ConvID, e.SenderID, res[i].Seq); err != nil {
				return fmt.Errorf("insert ack request: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// Envelopes returns up to limit (clamped to 1..1000) envelopes of a
// conversation with Seq > afterSeq, in ascending order.
func (s *Store) Envelopes(ctx context.Context, convID string, afterSeq int64, limit int) ([]wache.Envelope, error) {
	rows, err := s.db.Query(ctx, `SELECT conv_id, seq, sender_id, sender_device, client_id, created_at, payload, kind, epoch, priority, ack_required
		FROM envelopes WHERE conv_id = ? AND seq > ? ORDER BY seq LIMIT ?`, convID, afterSeq, clampLimit(limit))
	if err != nil {
		return nil, s.wrap(err, "query envelopes", "")
	}
	defer rows.Close()
	var es []wache.Envelope
	for rows.Next() {
		var e wache.Envelope
		var created int64
		var kind string
		var ack int64
		if err := rows.Scan(&e.ConvID, &e.Seq, &e.SenderID, &e.SenderDevice, &e.ClientID, &created, &e.Payload, &kind, &e.Epoch, &e.Priority, &ack); err != nil {
			return nil, s.wrap(err, "scan envelope", "")
		}
		e.CreatedAt = fromMS(created)
		e.Kind = wache.EnvelopeKind(kind)
		e.AckRequired = ack != 0
		es = append(es, e)
	}
	return es, s.wrap(rows.Err(), "query envelopes", "")
}

// Cursors returns the device's position in every conversation its user
// belongs to, ordered by conversation id. ENOTFOUND for an unknown device.
func (s *Store) Cursors(ctx context.Context, deviceID string) ([]store.Cursor, error) {
	rows, err := s.db.Query(ctx, `SELECT m.conv_id, m.from_seq, COALESCE(dc.acked_seq, m.from_seq), c.last_seq
		FROM devices d
		JOIN members m ON m.user_id = d.user_id
		JOIN conversations c ON c.id = m.conv_id
		LEFT JOIN device_cursors dc ON dc.device_id = d.id AND dc.conv_id = m.conv_id
		WHERE d.id = ? ORDER BY m.conv_id LIMIT 100000`, deviceID)
	if err != nil {
		return nil, s.wrap(err, "query cursors", "")
	}
	var cs []store.Cursor
	for rows.Next() {
		var c store.Cursor
		if err := rows.Scan(&c.ConvID, &c.FromSeq, &c.AckedSeq, &c.LastSeq); err != nil {
			rows.Close()
			return nil, s.wrap(err, "scan cursor", "")
		}
		c.AckedSeq = max(c.AckedSeq, c.FromSeq)
		cs = append(cs, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, s.wrap(err, "query cursors", "")
	}
	if len(cs) == 0 {
		ok, err := existsRow(s.db.QueryRow(ctx, `SELECT 1 FROM devices WHERE id = ?`, deviceID))
		if err != nil {
			return nil, s.wrap(err, "query device", "")
		}
		if !ok {
			return nil, notFound("device")
		}
	}
	return cs, nil
}

// Ack raises the device's acknowledged position in a conversation to seq;
// a lower seq leaves it. EINVALID if seq is negative or beyond the
// conversation's LastSeq, ENOTFOUND if the device's user is not a member.
func (s *Store) Ack(ctx context.Context, deviceID, convID string, seq int64) error {
	if seq < 0 {
		return invalid("negative sequence number")
	}
	// One statement: the membership and bound checks ride on the upsert's
	// SELECT, so the common case is a single round trip.
	res, err := s.db.Exec(ctx, `INSERT INTO device_cursors (device_id, conv_id, acked_seq)
		SELECT d.id, m.conv_id, CAST(? AS BIGINT)
		FROM devices d
		JOIN members m ON m.user_id = d.user_id
		JOIN conversations c ON c.id = m.conv_id
		WHERE d.id = ? AND m.conv_id = ? AND c.last_seq >= ?
		ON CONFLICT (device_id, conv_id) DO UPDATE SET acked_seq =
			CASE WHEN excluded.acked_seq > device_cursors.acked_seq THEN excluded.acked_seq ELSE device_cursors.acked_seq END`,
		seq, deviceID, convID, seq)
	if err != nil {
		return s.wrap(err, "ack", "")
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return s.wrap(err, "ack", "")
	}
	var last int64
	err = s.db.QueryRow(ctx, `SELECT c.last_seq FROM devices d
		JOIN members m ON m.user_id = d.user_id
		JOIN conversations c ON c.id = m.conv_id
		WHERE d.id = ? AND m.conv_id = ?`, deviceID, convID).Scan(&last)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound("membership")
	}
	if err != nil {
		return s.wrap(err, "ack", "")
	}
	return invalid("sequence number %d is beyond the conversation's last (%d)", seq, last)
}

// AckBatch applies acknowledgements in one transaction (one fsync for all
// devices of a node): the relay's ack path. Items of non-members are
// skipped; a position beyond the conversation's end counts as its end.
func (s *Store) AckBatch(ctx context.Context, acks []store.AckItem) error {
	type key struct{ d, c string }
	best := make(map[key]int64, len(acks))
	for _, a := range acks {
		if a.Seq < 0 || checkID("device id", a.DeviceID) != nil || checkID("conversation id", a.ConvID) != nil {
			continue
		}
		k := key{a.DeviceID, a.ConvID}
		if a.Seq > best[k] {
			best[k] = a.Seq
		}
	}
	if len(best) == 0 {
		return nil
	}
	keys := make([]key, 0, len(best))
	for k := range best {
		keys = append(keys, k)
	}
	// A fixed order keeps concurrent batches on PostgreSQL from deadlocking.
	slices.SortFunc(keys, func(a, b key) int {
		if c := strings.Compare(a.d, b.d); c != 0 {
			return c
		}
		return strings.Compare(a.c, b.c)
	})
	return s.db.InTx(ctx, func(tx *Tx) error {
		for chunk := range slices.Chunk(keys, 300) {
			args := make([]any, 0, 3*len(chunk))
			rows := make([]string, 0, len(chunk))
			for _, k := range chunk {
				args = append(args, k.d, k.c, best[k])
				rows = append(rows, "(?, ?, CAST(? AS BIGINT))")
			}
			if _, err := tx.Exec(ctx, `INSERT INTO device_cursors (device_id, conv_id, acked_seq)
				SELECT v.column1, v.column2, CASE WHEN v.column3 > c.last_seq THEN c.last_seq ELSE v.column3 END
				FROM (VALUES `+strings.Join(rows, ",")+`) v
				JOIN devices d ON d.id = v.column1
				JOIN members m ON m.user_id = d.user_id AND m.conv_id = v.column2
				JOIN conversations c ON c.id = v.column2
				ORDER BY v.column1, v.column2
				ON CONFLICT (device_id, conv_id) DO UPDATE SET acked_seq =
					CASE WHEN excluded.acked_seq > device_cursors.acked_seq THEN excluded.acked_seq ELSE device_cursors.acked_seq END`, args...); err != nil {
				return fmt.Errorf("ack batch: %w", err)
			}
		}
		return nil
	})
}

// DeleteEnvelopesBefore removes envelopes created before t, in chunks so
// that appends are never blocked for long, and returns how many went.
func (s *Store) DeleteEnvelopesBefore(ctx context.Context, t time.Time) (int64, error) {
	cut := t.UnixMilli()
	var total int64
	for {
		res, err := s.db.Exec(ctx, `DELETE FROM envelopes WHERE (conv_id, seq) IN
			(SELECT conv_id, seq FROM envelopes WHERE created_at < ? LIMIT `+fmt.Sprint(deleteChunk)+`)`, cut)
		if err != nil {
			return total, s.wrap(err, "delete envelopes", "")
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, s.wrap(err, "delete envelopes", "")
		}
		total += n
		if n < deleteChunk {
			break
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
	// Acknowledgement requests go with their envelopes; their receipts
	// follow by cascade, so a chunk is few requests (each may have
	// thousands of receipts).
	for {
		res, err := s.db.Exec(ctx, `DELETE FROM ack_requests WHERE (conv_id, seq) IN
			(SELECT conv_id, seq FROM ack_requests WHERE created_at < ? LIMIT 20)`, cut)
		if err != nil {
			return total, s.wrap(err, "delete ack requests", "")
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, s.wrap(err, "delete ack requests", "")
		}
		if n < 20 {
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}

// advanceEpoch moves a conversation from epoch to epoch+1 and reports
// whether it was at epoch.
func (s *Store) advanceEpoch(ctx context.Context, tx *Tx, convID string, epoch int64) (bool, error) {
	res, err := tx.Exec(ctx, `UPDATE conversations SET epoch = epoch + 1 WHERE id = ? AND epoch = ?`, convID, epoch)
	if err != nil {
		return false, fmt.Errorf("advance epoch: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("advance epoch: %w", err)
	}
	return n == 1, nil
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
