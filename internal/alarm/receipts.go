package alarm

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
	"github.com/wache/wache/internal/store/sqldb"
)

// Receipt levels, stored as numbers so that "only upwards" is a comparison.
const (
	levelDelivered    = 1
	levelRead         = 2
	levelAcknowledged = 3
)

func receiptLevel(state string) (int, error) {
	switch state {
	case api.ReceiptDelivered:
		return levelDelivered, nil
	case api.ReceiptRead:
		return levelRead, nil
	case api.ReceiptAcknowledged:
		return levelAcknowledged, nil
	}
	return 0, wache.Errorf(wache.EINVALID, "state must be delivered, read or acknowledged")
}

// ackRequest is the counter row of an ack-required envelope.
type ackRequest struct {
	convID, senderID, priority         string
	seq                                int64
	recipients, delivered, read, acked int
	closedAt                           *int64
}

func (s *Service) loadRequest(ctx context.Context, q interface {
	QueryRow(ctx context.Context, q string, args ...any) *sql.Row
}, convID string, seq int64, lock string) (*ackRequest, error) {
	r := &ackRequest{convID: convID, seq: seq}
	var closed sql.NullInt64
	err := q.QueryRow(ctx, `SELECT sender_id, priority, recipients, delivered, read_count, acknowledged, closed_at
		FROM ack_requests WHERE conv_id = ? AND seq = ?`+lock, convID, seq).
		Scan(&r.senderID, &r.priority, &r.recipients, &r.delivered, &r.read, &r.acked, &closed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, wache.Errorf(wache.EINVALID, "message %d does not exist or needs no acknowledgement", seq)
	}
	if err != nil {
		return nil, fmt.Errorf("load ack request: %w", err)
	}
	if closed.Valid {
		r.closedAt = &closed.Int64
	}
	return r, nil
}

func checkSeq(convID string, seq int64) error {
	if convID == "" || len(convID) > 200 {
		return wache.Errorf(wache.EINVALID, "conversation id must be 1..200 bytes")
	}
	if seq <= 0 {
		return wache.Errorf(wache.EINVALID, "sequence number must be positive")
	}
	return nil
}

// member returns the user's membership, ENOTFOUND when there is none (a
// non-member learns nothing about the conversation).
func (s *Service) member(ctx context.Context, convID string, u *wache.User) (*wache.Member, error) {
	m, err := s.store.Member(ctx, convID, u.ID)
	if wache.ErrorCode(err) == wache.ENOTFOUND {
		return nil, wache.Errorf(wache.ENOTFOUND, "no such conversation")
	}
	return m, err
}

// Receipt records that the user's state for an ack-required message rose
// to state. A lower or equal state is a no-op; only members who received
// the message (not its sender) may post. Counters change in the same
// transaction as the user's row, so the counts are always exact.
func (s *Service) Receipt(ctx context.Context, u *wache.User, convID string, seq int64, state string) error {
	level, err := receiptLevel(state)
	if err != nil {
		return err
	}
	if err := checkSeq(convID, seq); err != nil {
		return err
	}
	m, err := s.member(ctx, convID, u)
	if err != nil {
		return err
	}
	if m.FromSeq >= seq {
		return wache.Errorf(wache.EFORBIDDEN, "you joined after this message")
	}
	// Most receipts change nothing (a user's second device, a repeated
	// read): a row at this level or higher means the request exists and was
	// accepted from this user before, so answer from a plain read without
	// taking the counter row's lock.
	var prev int
	err = s.db.QueryRow(ctx, `SELECT level FROM receipts WHERE conv_id = ? AND seq = ? AND user_id = ?`, convID, seq, u.ID).Scan(&prev)
	switch {
	case err == nil && level <= prev:
		return nil
	case err != nil && !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("load receipt: %w", err)
	}
	now := s.nowMS()
	return s.inTx(ctx, func(tx *sqldb.Tx) error {
		req, err := s.loadRequest(ctx, tx, convID, seq, s.forUpdate())
		if err != nil {
			return err
		}
		if req.senderID == u.ID {
			return wache.Errorf(wache.EFORBIDDEN, "the sender does not confirm their own message")
		}
		var old int
		var dAt int64
		var rAt, aAt sql.NullInt64
		err = tx.QueryRow(ctx, `SELECT level, delivered_at, read_at, acknowledged_at FROM receipts
			WHERE conv_id = ? AND seq = ? AND user_id = ?`, convID, seq, u.ID).Scan(&old, &dAt, &rAt, &aAt)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("load receipt: %w", err)
		}
		if level <= old {
			return nil // monotonic: nothing changes, nothing is written
		}
		if old == 0 {
			dAt = now
		}
		if level >= levelRead && !rAt.Valid {
			rAt = sql.NullInt64{Int64: now, Valid: true}
		}
		if level >= levelAcknowledged {
			aAt = sql.NullInt64{Int64: now, Valid: true}
		}
		if old == 0 {
			_, err = tx.Exec(ctx, `INSERT INTO receipts (conv_id, seq, user_id, level, delivered_at, read_at, acknowledged_at)
				VALUES (?, ?, ?, ?, ?, ?, ?)`, convID, seq, u.ID, level, dAt, rAt, aAt)
		} else {
			_, err = tx.Exec(ctx, `UPDATE receipts SET level = ?, read_at = ?, acknowledged_at = ?
				WHERE conv_id = ? AND seq = ? AND user_id = ?`, level, rAt, aAt, convID, seq, u.ID)
		}
		if err != nil {
			return fmt.Errorf("store receipt: %w", err)
		}
		dd, dr, da := 0, 0, 0
		if old < levelDelivered {
			dd = 1
		}
		if old < levelRead && level >= levelRead {
			dr = 1
		}
		if level >= levelAcknowledged {
			da = 1
		}
		// The last acknowledgement ends the reminders.
		if _, err := tx.Exec(ctx, `UPDATE ack_requests SET delivered = delivered + ?, read_count = read_count + ?,
			acknowledged = acknowledged + ?,
			next_remind_at = CASE WHEN acknowledged + ? >= recipients THEN NULL ELSE next_remind_at END
			WHERE conv_id = ? AND seq = ?`, dd, dr, da, da, convID, seq); err != nil {
			return fmt.Errorf("count receipt: %w", err)
		}
		return nil
	})
}

// canSeeReceipts: the sender and the conversation's admins.
func (s *Service) receiptsAccess(ctx context.Context, u *wache.User, convID string, seq int64) (*ackRequest, error) {
	if err := checkSeq(convID, seq); err != nil {
		return nil, err
	}
	m, err := s.member(ctx, convID, u)
	if err != nil {
		return nil, err
	}
	req, err := s.loadRequest(ctx, s.db, convID, seq, "")
	if err != nil {
		return nil, err
	}
	if req.senderID != u.ID && m.Role != wache.MemberAdmin {
		return nil, wache.Errorf(wache.EFORBIDDEN, "only the sender and the conversation's admins see receipts")
	}
	return req, nil
}

// Receipts returns the counts and one page of members (ordered by user
// id, after the given one); pending lists only those who have not
// acknowledged.
func (s *Service) Receipts(ctx context.Context, u *wache.User, convID string, seq int64, pending bool, limit int, after string) (*api.Receipts, error) {
	if limit == 0 {
		limit = DefaultPageSize
	}
	if limit < 0 || limit > MaxPageSize {
		return nil, wache.Errorf(wache.EINVALID, "limit must be 1..%d", MaxPageSize)
	}
	if len(after) > 200 {
		return nil, wache.Errorf(wache.EINVALID, "after is too long")
	}
	req, err := s.receiptsAccess(ctx, u, convID, seq)
	if err != nil {
		return nil, err
	}
	out := &api.Receipts{ConvID: convID, Seq: seq, Priority: req.priority, Recipients: req.recipients,
		Delivered: req.delivered, Read: req.read, Acknowledged: req.acked, ClosedAt: ptrMS(req.closedAt),
		Members: []api.MemberReceipt{}}
	cond := ""
	if pending {
		cond = " AND (r.level IS NULL OR r.level < 3)"
	}
	rows, err := s.db.Query(ctx, `SELECT m.user_id, u.email, u.display_name, r.delivered_at, r.read_at, r.acknowledged_at
		FROM members m
		JOIN users u ON u.id = m.user_id
		LEFT JOIN receipts r ON r.conv_id = m.conv_id AND r.seq = ? AND r.user_id = m.user_id
		WHERE m.conv_id = ? AND m.from_seq < ? AND m.user_id <> ? AND m.user_id > ?`+cond+`
		ORDER BY m.user_id LIMIT ?`, seq, convID, seq, req.senderID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list receipts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var mr api.MemberReceipt
		var d, r, a sql.NullInt64
		if err := rows.Scan(&mr.UserID, &mr.Email, &mr.DisplayName, &d, &r, &a); err != nil {
			return nil, fmt.Errorf("scan receipt: %w", err)
		}
		mr.DeliveredAt, mr.ReadAt, mr.AcknowledgedAt = nullTime(d), nullTime(r), nullTime(a)
		out.Members = append(out.Members, mr)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list receipts: %w", err)
	}
	return out, nil
}

func nullTime(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromMS(n.Int64)
	return &t
}

// CloseRequest ends the reminders of an ack-required message (sender or a
// conversation admin). Closing twice is fine.
func (s *Service) CloseRequest(ctx context.Context, u *wache.User, convID string, seq int64) error {
	if _, err := s.receiptsAccess(ctx, u, convID, seq); err != nil {
		return err
	}
	if _, err := s.db.Exec(ctx, `UPDATE ack_requests SET closed_at = ?, next_remind_at = NULL
		WHERE conv_id = ? AND seq = ? AND closed_at IS NULL`, s.nowMS(), convID, seq); err != nil {
		return fmt.Errorf("close ack request: %w", err)
	}
	return nil
}

// closeRequests closes the requests of envelopes an ended alarm posted.
func (s *Service) closeRequests(ctx context.Context, tx *sqldb.Tx, refs []api.AlarmEnvelopeRef, now int64) error {
	for _, r := range refs {
		if _, err := tx.Exec(ctx, `UPDATE ack_requests SET closed_at = ?, next_remind_at = NULL
			WHERE conv_id = ? AND seq = ? AND closed_at IS NULL`, now, r.ConvID, r.Seq); err != nil {
			return fmt.Errorf("close ack request: %w", err)
		}
	}
	return nil
}

// remindDue sends the reminders that are due: it claims each request by
// moving its next_remind_at forward with a conditional UPDATE (only one
// node wins), then notifies every member who has not acknowledged.
func (s *Service) remindDue(ctx context.Context) (int, error) {
	now := s.nowMS()
	rows, err := s.db.Query(ctx, `SELECT conv_id, seq, sender_id, remind_every_s, next_remind_at, created_at
		FROM ack_requests WHERE next_remind_at IS NOT NULL AND next_remind_at <= ?
		ORDER BY next_remind_at LIMIT `+fmt.Sprint(dueBatch), now)
	if err != nil {
		return 0, fmt.Errorf("due reminders: %w", err)
	}
	type due struct {
		conv, sender        string
		seq, every, at, ctd int64
	}
	var list []due
	for rows.Next() {
		var d due
		if err := rows.Scan(&d.conv, &d.seq, &d.sender, &d.every, &d.at, &d.ctd); err != nil {
			rows.Close()
			return 0, fmt.Errorf("scan reminder: %w", err)
		}
		list = append(list, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("due reminders: %w", err)
	}
	sent := 0
	for _, d := range list {
		expired := now >= d.ctd+RemindFor.Milliseconds()
		var next any
		if !expired {
			n := now + d.every*1000
			if n >= d.ctd+RemindFor.Milliseconds() {
				n = d.ctd + RemindFor.Milliseconds()
			}
			next = n
		}
		res, err := s.db.Exec(ctx, `UPDATE ack_requests SET next_remind_at = ?
			WHERE conv_id = ? AND seq = ? AND next_remind_at = ?`, next, d.conv, d.seq, d.at)
		if err != nil {
			return sent, fmt.Errorf("claim reminder: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 || expired {
			continue // another node sent it, or the 24 hours are over
		}
		users, err := s.pendingUsers(ctx, d.conv, d.seq, d.sender)
		if err != nil {
			return sent, err
		}
		if len(users) == 0 { // everyone left or acknowledged: stop
			if _, err := s.db.Exec(ctx, `UPDATE ack_requests SET next_remind_at = NULL WHERE conv_id = ? AND seq = ?`, d.conv, d.seq); err != nil {
				return sent, fmt.Errorf("stop reminders: %w", err)
			}
			continue
		}
		s.notifyUsers(ctx, users, api.Frame{Type: api.FrameReminder, ConvID: d.conv, Seq: d.seq})
		s.pushUsers(ctx, users, Notification{Kind: "reminder", Urgency: "high"})
		sent++
	}
	return sent, nil
}

// pendingUsers lists the recipients who have not acknowledged.
func (s *Service) pendingUsers(ctx context.Context, convID string, seq int64, sender string) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT m.user_id FROM members m
		LEFT JOIN receipts r ON r.conv_id = m.conv_id AND r.seq = ? AND r.user_id = m.user_id
		WHERE m.conv_id = ? AND m.from_seq < ? AND m.user_id <> ? AND (r.level IS NULL OR r.level < 3)
		LIMIT 100000`, seq, convID, seq, sender)
	if err != nil {
		return nil, fmt.Errorf("pending users: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("pending users: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
