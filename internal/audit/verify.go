package audit

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/internal/store/sqldb"
)

// Report is the outcome of a verification.
type Report struct {
	OK        bool   `json:"ok"`
	Entries   int64  `json:"entries"`    // entries checked
	FirstSeq  int64  `json:"first_seq"`  // 0 when there were none
	LastSeq   int64  `json:"last_seq"`   // 0 when there were none
	HeadHash  string `json:"head_hash"`  // hash of the last entry checked (or the anchor)
	AnchorSeq int64  `json:"anchor_seq"` // entries up to here were deleted by retention
	Broken    *Break `json:"broken,omitempty"`
}

// Break names the first entry at which the chain does not hold.
type Break struct {
	Seq    int64  `json:"seq"`
	Reason string `json:"reason"`
}

func (b *Break) String() string { return fmt.Sprintf("entry %d: %s", b.Seq, b.Reason) }

// chain checks entries one by one in sequence order.
type chain struct {
	rep      Report
	nextSeq  int64 // 0: take the first entry's seq as given (exports)
	prevHash string
	prevAt   time.Time
	// latest retention entry seen
	retThrough int64
	retHash    string
}

func (c *chain) fail(seq int64, format string, args ...any) error {
	c.rep.Broken = &Break{Seq: seq, Reason: fmt.Sprintf(format, args...)}
	return errStop
}

func (c *chain) add(e *Entry) error {
	switch {
	case c.nextSeq != 0 && e.Seq > c.nextSeq:
		return c.fail(c.nextSeq, "entry missing (the next stored entry is %d)", e.Seq)
	case c.nextSeq != 0 && e.Seq < c.nextSeq:
		return c.fail(e.Seq, "entry out of order (expected %d)", c.nextSeq)
	case c.prevHash != "" && e.PrevHash != c.prevHash:
		return c.fail(e.Seq, "prev_hash does not match the previous entry's hash (entry changed, removed or reordered)")
	case e.At.Before(c.prevAt):
		return c.fail(e.Seq, "time runs backwards")
	}
	h, err := e.ComputeHash()
	if err != nil {
		return c.fail(e.Seq, "malformed prev_hash")
	}
	if h != e.Hash {
		return c.fail(e.Seq, "content does not match its hash (entry changed)")
	}
	if e.Action == ActionRetention {
		var r struct {
			ThroughSeq  int64  `json:"through_seq"`
			ThroughHash string `json:"through_hash"`
		}
		if err := json.Unmarshal(e.Criteria, &r); err != nil {
			return c.fail(e.Seq, "retention entry without through_seq/through_hash")
		}
		c.retThrough, c.retHash = r.ThroughSeq, r.ThroughHash
	}
	if c.rep.FirstSeq == 0 {
		c.rep.FirstSeq = e.Seq
	}
	c.rep.LastSeq = e.Seq
	c.rep.Entries++
	c.rep.HeadHash = e.Hash
	c.nextSeq = e.Seq + 1
	c.prevHash = e.Hash
	c.prevAt = e.At
	return nil
}

// Verify recomputes the whole stored chain from the retention anchor to the
// head and reports the first broken entry. The check itself is logged.
// Auditor only.
func (l *Log) Verify(ctx context.Context, c Caller) (Report, error) {
	if err := requireAuditor(c); err != nil {
		return Report{}, err
	}
	rep, err := l.verify(ctx)
	if err != nil {
		return rep, err
	}
	res := "intact"
	if !rep.OK {
		res = "broken"
	}
	crit := map[string]any{"entries": rep.Entries, "last_seq": rep.LastSeq}
	if rep.Broken != nil {
		crit["broken_seq"] = rep.Broken.Seq
	}
	if _, err := l.Append(ctx, Event{Action: ActionVerify, Actor: c.UserID, Device: c.DeviceID, Org: c.OrgID,
		Criteria: crit, Result: res}); err != nil {
		return rep, err
	}
	return rep, nil
}

func (l *Log) verify(ctx context.Context) (Report, error) {
	tx, err := l.readTx(ctx)
	if err != nil {
		return Report{}, err
	}
	defer tx.Rollback()
	var st state
	if err := tx.QueryRowContext(ctx, `SELECT head_seq, head_hash, head_at_us, anchor_seq, anchor_hash FROM audit_state WHERE id = 1`).
		Scan(&st.headSeq, &st.headHash, &st.headAt, &st.anchorSeq, &st.anchorHash); err != nil {
		return Report{}, fmt.Errorf("read audit state: %w", err)
	}
	ch := &chain{nextSeq: st.anchorSeq + 1, prevHash: st.anchorHash}
	ch.rep.AnchorSeq = st.anchorSeq
	ch.rep.HeadHash = st.anchorHash
	rows, err := tx.QueryContext(ctx, `SELECT `+entryCols+` FROM audit_log ORDER BY seq`)
	if err != nil {
		return Report{}, fmt.Errorf("read audit log: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return Report{}, err
		}
		if err := ch.add(&e); err != nil {
			return ch.rep, nil
		}
	}
	if err := rows.Err(); err != nil {
		return Report{}, fmt.Errorf("read audit log: %w", err)
	}
	switch {
	case ch.rep.LastSeq < st.headSeq && !(ch.rep.Entries == 0 && st.headSeq == st.anchorSeq):
		last := max(ch.rep.LastSeq, st.anchorSeq)
		ch.fail(last+1, "entries %d..%d missing (chain truncated)", last+1, st.headSeq)
	case ch.rep.LastSeq > st.headSeq:
		ch.fail(st.headSeq+1, "entries beyond the recorded head (written outside the log)")
	case ch.rep.Entries > 0 && ch.rep.HeadHash != st.headHash:
		ch.fail(ch.rep.LastSeq, "hash differs from the recorded head")
	case st.anchorSeq > 0 && (ch.retThrough < st.anchorSeq || ch.retThrough == st.anchorSeq && ch.retHash != st.anchorHash):
		ch.fail(st.anchorSeq, "retention anchor not authorised by a retention entry")
	}
	ch.rep.OK = ch.rep.Broken == nil
	return ch.rep, nil
}

// Export writes the entries with At in [from, to) to w as JSON Lines, each
// with prev_hash and hash, so that VerifyExport can check the excerpt
// offline. The export is logged. Auditor only.
func (l *Log) Export(ctx context.Context, c Caller, from, to time.Time, w io.Writer) (int64, error) {
	if err := requireAuditor(c); err != nil {
		return 0, err
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		return 0, wache.Errorf(wache.EINVALID, "export: from must be before to")
	}
	n, err := l.export(ctx, from, to, w)
	res := "ok"
	if err != nil {
		res = "failed"
	}
	crit := map[string]any{"entries": n}
	if !from.IsZero() {
		crit["from"] = from.UTC().Format(time.RFC3339)
	}
	if !to.IsZero() {
		crit["to"] = to.UTC().Format(time.RFC3339)
	}
	if _, aerr := l.Append(ctx, Event{Action: ActionExport, Actor: c.UserID, Device: c.DeviceID, Org: c.OrgID,
		Criteria: crit, Result: res}); aerr != nil && err == nil {
		err = aerr
	}
	return n, err
}

func (l *Log) export(ctx context.Context, from, to time.Time, w io.Writer) (int64, error) {
	tx, err := l.readTx(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	q := `SELECT ` + entryCols + ` FROM audit_log WHERE 1 = 1`
	var args []any
	if !from.IsZero() {
		q += ` AND at_us >= ?`
		args = append(args, from.UnixMicro())
	}
	if !to.IsZero() {
		q += ` AND at_us < ?`
		args = append(args, to.UnixMicro())
	}
	q += ` ORDER BY seq`
	rows, err := tx.QueryContext(ctx, l.db.Dialect.Rebind(q), args...)
	if err != nil {
		return 0, fmt.Errorf("export audit: %w", err)
	}
	defer rows.Close()
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	var n int64
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return n, err
		}
		if err := enc.Encode(&e); err != nil {
			return n, fmt.Errorf("export audit: %w", err)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("export audit: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("export audit: %w", err)
	}
	return n, nil
}

// maxExportLine bounds one line of an export: an entry's fields are bounded
// (see the Max* constants), so anything longer is not an export.
const maxExportLine = 64 << 10

// VerifyExport checks an export offline: every line's hash, and that lines
// link (prev_hash = the previous line's hash) with contiguous sequence
// numbers. The first line's prev_hash is taken as given; compare the
// report's FirstSeq/LastSeq/HeadHash with the database or a published head.
func VerifyExport(r io.Reader) (Report, error) {
	br := bufio.NewReaderSize(r, maxExportLine+1)
	ch := &chain{}
	line := 0
	for {
		b, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return ch.rep, wache.Errorf(wache.EINVALID, "export line %d over %d bytes", line+1, maxExportLine)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return ch.rep, fmt.Errorf("read export: %w", err)
		}
		eof := err != nil
		b = bytes.TrimSpace(b)
		if len(b) > 0 {
			line++
			var e Entry
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			if derr := dec.Decode(&e); derr != nil {
				return ch.rep, wache.Errorf(wache.EINVALID, "export line %d: %v", line, derr)
			}
			if ch.add(&e) != nil {
				ch.rep.OK = false
				return ch.rep, nil
			}
		}
		if eof {
			break
		}
	}
	ch.rep.OK = ch.rep.Broken == nil
	return ch.rep, nil
}

// Retain deletes the entries of every calendar year that ended more than a
// year ago (§ 76 Abs. 4 BDSG: logs are deleted at the end of the year after
// the one they were made in). It first appends a retention entry that
// names the last entry to go and its hash, then deletes from the front in
// bounded transactions while moving the anchor along, so the remaining
// chain verifies at every step. Returns how many entries were deleted.
func (l *Log) Retain(ctx context.Context) (int64, error) {
	now := l.now().In(l.loc)
	cutoff := time.Date(now.Year()-1, time.January, 1, 0, 0, 0, 0, l.loc)
	var through sql.NullInt64
	if err := l.db.QueryRow(ctx, `SELECT MAX(seq) FROM audit_log WHERE at_us < ?`, cutoff.UnixMicro()).Scan(&through); err != nil {
		return 0, fmt.Errorf("audit retention: %w", err)
	}
	var anchor int64
	if err := l.db.QueryRow(ctx, `SELECT anchor_seq FROM audit_state WHERE id = 1`).Scan(&anchor); err != nil {
		return 0, fmt.Errorf("audit retention: %w", err)
	}
	if !through.Valid || through.Int64 <= anchor {
		return 0, nil
	}
	var throughHash string
	if err := l.db.QueryRow(ctx, `SELECT hash FROM audit_log WHERE seq = ?`, through.Int64).Scan(&throughHash); err != nil {
		return 0, fmt.Errorf("audit retention: %w", err)
	}
	err := l.db.InTx(ctx, func(tx *sqldb.Tx) error {
		st, err := l.lockState(ctx, tx)
		if err != nil {
			return err
		}
		e := Entry{Action: ActionRetention, Actor: "system", Result: "ok"}
		e.Criteria, err = canonicalCriteria(map[string]any{
			"cutoff": cutoff.Format("2006-01-02"), "through_seq": through.Int64, "through_hash": throughHash,
		})
		if err != nil {
			return err
		}
		if err := l.appendInTx(ctx, tx, st, &e); err != nil {
			return err
		}
		return l.saveHead(ctx, tx, st)
	})
	if err != nil {
		return 0, fmt.Errorf("audit retention: %w", err)
	}
	const chunk = 20000
	var deleted int64
	for {
		var done bool
		err := l.db.InTx(ctx, func(tx *sqldb.Tx) error {
			st, err := l.lockState(ctx, tx)
			if err != nil {
				return err
			}
			if st.anchorSeq >= through.Int64 {
				done = true
				return nil
			}
			upto := min(st.anchorSeq+chunk, through.Int64)
			var h string
			if err := tx.QueryRow(ctx, `SELECT hash FROM audit_log WHERE seq = ?`, upto).Scan(&h); err != nil {
				return fmt.Errorf("read anchor entry %d: %w", upto, err)
			}
			res, err := tx.Exec(ctx, `DELETE FROM audit_log WHERE seq > ? AND seq <= ?`, st.anchorSeq, upto)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			deleted += n
			st.anchorSeq, st.anchorHash = upto, h
			return l.saveHead(ctx, tx, st)
		})
		if err != nil {
			return deleted, fmt.Errorf("audit retention: %w", err)
		}
		if done {
			return deleted, nil
		}
	}
}

// RunRetention applies Retain at start and then every interval until ctx
// ends. Retain is idempotent and cheap when nothing is due, so a short
// interval only bounds how late after New Year the old entries go; nodes
// of a cluster may all run it (the state row serialises them).
func (l *Log) RunRetention(ctx context.Context, every time.Duration, log *slog.Logger) {
	if log == nil {
		log = slog.Default()
	}
	t := time.NewTimer(min(every, time.Minute)) // let the node finish starting first
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		switch n, err := l.Retain(ctx); {
		case err != nil && ctx.Err() == nil:
			log.Warn("audit retention", "err", err)
		case n > 0:
			log.Info("audit retention deleted expired entries", "count", n)
		}
		t.Reset(every)
	}
}
