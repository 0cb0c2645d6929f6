// Package audit is Wache's tamper-evident log of who did what and why: every
// Auskunft query and import, and the administrators' actions (§ 76 BDSG:
// reason, date and time, identity of the acting person).
//
// Entries form a hash chain: each entry's hash is SHA-256 over the previous
// hash and a canonical encoding of the entry, and sequence numbers are
// contiguous. Verify recomputes the chain and names the first broken entry,
// so that a changed byte, a deleted row or a reordered pair is detected; a
// state row holding the head detects a truncated tail. Retention deletes
// whole years from the front of the chain and leaves an anchor (the last
// deleted entry's seq and hash) that is itself authorised by a chained
// retention entry, so the rest still verifies.
//
// Appends from concurrent requests are group-committed by one writer
// goroutine per Log; across several server nodes on PostgreSQL the state row
// is locked (SELECT … FOR UPDATE) so that the chain stays linear.
//
// Only the auditor role reads the log (List, Export, Verify).
package audit

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync"
	"time"
	_ "time/tzdata" // Europe/Berlin for year boundaries, also on minimal hosts

	"github.com/wache/wache"
	"github.com/wache/wache/internal/store/sqldb"
)

//go:embed migrations
var migrations embed.FS

// Options tune a Log. The zero value is valid.
type Options struct {
	// Location decides where a calendar year starts for retention;
	// default Europe/Berlin.
	Location *time.Location
	// Now is the clock; default time.Now.
	Now func() time.Time
	// MaxBatch bounds how many appends share one transaction (default 256).
	MaxBatch int
}

// Log is the audit log of one database.
type Log struct {
	db       *sqldb.DB
	loc      *time.Location
	now      func() time.Time
	maxBatch int

	reqs      chan *appendReq
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

type appendReq struct {
	ctx   context.Context
	entry Entry
	reply chan appendReply
}

type appendReply struct {
	entry Entry
	err   error
}

// Open applies the audit migrations to db and starts the log's writer.
// Close stops it.
func Open(ctx context.Context, db *sqldb.DB, opts Options) (*Log, error) {
	sub := "migrations/sqlite"
	if db.Dialect.Postgres() {
		sub = "migrations/postgres"
	}
	fsys, err := fs.Sub(migrations, sub)
	if err != nil {
		return nil, fmt.Errorf("audit migrations: %w", err)
	}
	if err := db.Migrate(ctx, "audit", fsys); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	l := &Log{
		db:       db,
		loc:      opts.Location,
		now:      opts.Now,
		maxBatch: opts.MaxBatch,
		reqs:     make(chan *appendReq, 1024),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	if l.loc == nil {
		if l.loc, err = time.LoadLocation("Europe/Berlin"); err != nil {
			return nil, fmt.Errorf("audit: load Europe/Berlin: %w", err)
		}
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.maxBatch <= 0 {
		l.maxBatch = 256
	}
	go l.writer()
	return l, nil
}

// Close stops the writer after the appends already queued are written.
func (l *Log) Close() error {
	l.closeOnce.Do(func() { close(l.stop) })
	<-l.done
	return nil
}

var errClosed = wache.Errorf(wache.EUNAVAILABLE, "audit log is closed")

// Append writes ev as the next entry of the chain and returns it once it is
// durable. A caller must not release data before Append succeeded: an
// action that cannot be logged must not happen.
func (l *Log) Append(ctx context.Context, ev Event) (Entry, error) {
	crit, err := ev.validate()
	if err != nil {
		return Entry{}, err
	}
	req := &appendReq{
		ctx: ctx,
		entry: Entry{
			Action: ev.Action, Actor: ev.Actor, Device: ev.Device, Org: ev.Org,
			Purpose: ev.Purpose, Criteria: crit, Result: ev.Result,
		},
		reply: make(chan appendReply, 1),
	}
	select {
	case <-l.stop:
		return Entry{}, errClosed
	default:
	}
	select {
	case l.reqs <- req:
	case <-l.stop:
		return Entry{}, errClosed
	case <-ctx.Done():
		return Entry{}, fmt.Errorf("audit append: %w", ctx.Err())
	}
	select {
	case r := <-req.reply:
		return r.entry, r.err
	case <-l.done:
		// The writer stopped; it may have answered just before.
		select {
		case r := <-req.reply:
			return r.entry, r.err
		default:
			return Entry{}, errClosed
		}
	case <-ctx.Done():
		// The entry may still be written; logging more than was served is
		// the safe side.
		return Entry{}, fmt.Errorf("audit append: %w", ctx.Err())
	}
}

// writer group-commits queued appends: one transaction (one fsync) for
// everything that queued up while the previous one was being written.
func (l *Log) writer() {
	defer close(l.done)
	for {
		var first *appendReq
		select {
		case first = <-l.reqs:
		case <-l.stop:
			// Drain what is queued so that no accepted append is lost.
			for {
				select {
				case r := <-l.reqs:
					l.writeBatch([]*appendReq{r})
				default:
					return
				}
			}
		}
		batch := []*appendReq{first}
	fill:
		for len(batch) < l.maxBatch {
			select {
			case r := <-l.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		l.writeBatch(batch)
	}
}

func (l *Log) writeBatch(batch []*appendReq) {
	live := batch[:0]
	for _, r := range batch {
		if r.ctx.Err() != nil {
			r.reply <- appendReply{err: fmt.Errorf("audit append: %w", r.ctx.Err())}
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	entries := make([]Entry, len(live))
	for i, r := range live {
		entries[i] = r.entry
	}
	// The batch must not hang on one caller's context: bound it on its own.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := l.db.InTx(ctx, func(tx *sqldb.Tx) error {
		st, err := l.lockState(ctx, tx)
		if err != nil {
			return err
		}
		for i := range entries {
			if err := l.appendInTx(ctx, tx, st, &entries[i]); err != nil {
				return err
			}
		}
		return l.saveHead(ctx, tx, st)
	})
	if err != nil {
		slog.Error("audit append failed", "entries", len(entries), "err", err)
		err = &wache.Error{Code: wache.EUNAVAILABLE, Message: "audit log unavailable", Err: err}
	}
	for i, r := range live {
		if err != nil {
			r.reply <- appendReply{err: err}
		} else {
			r.reply <- appendReply{entry: entries[i]}
		}
	}
}

// state mirrors the audit_state row.
type state struct {
	headSeq    int64
	headHash   string
	headAt     int64 // µs
	anchorSeq  int64
	anchorHash string
}

// lockState reads the state row, locking it on PostgreSQL so that appends
// from several nodes serialise (SQLite has one writer connection).
func (l *Log) lockState(ctx context.Context, tx *sqldb.Tx) (*state, error) {
	q := `SELECT head_seq, head_hash, head_at_us, anchor_seq, anchor_hash FROM audit_state WHERE id = 1`
	if l.db.Dialect.Postgres() {
		q += ` FOR UPDATE`
	}
	var st state
	if err := tx.QueryRow(ctx, q).Scan(&st.headSeq, &st.headHash, &st.headAt, &st.anchorSeq, &st.anchorHash); err != nil {
		return nil, fmt.Errorf("read audit state: %w", err)
	}
	return &st, nil
}

func (l *Log) saveHead(ctx context.Context, tx *sqldb.Tx, st *state) error {
	if _, err := tx.Exec(ctx, `UPDATE audit_state SET head_seq = ?, head_hash = ?, head_at_us = ?, anchor_seq = ?, anchor_hash = ? WHERE id = 1`,
		st.headSeq, st.headHash, st.headAt, st.anchorSeq, st.anchorHash); err != nil {
		return fmt.Errorf("update audit state: %w", err)
	}
	return nil
}

// appendInTx chains e after the head in st and inserts it. Time never runs
// backwards along the chain, so that deleting "everything before a date"
// always deletes a prefix.
func (l *Log) appendInTx(ctx context.Context, tx *sqldb.Tx, st *state, e *Entry) error {
	at := l.now().UnixMicro()
	if at < st.headAt {
		at = st.headAt
	}
	e.Seq = st.headSeq + 1
	e.At = time.UnixMicro(at).UTC()
	e.PrevHash = st.headHash
	h, err := e.ComputeHash()
	if err != nil {
		return err
	}
	e.Hash = h
	if _, err := tx.Exec(ctx, `INSERT INTO audit_log (seq, at_us, action, actor, device, org, purpose, criteria, result, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.Seq, at, e.Action, e.Actor, e.Device, e.Org, e.Purpose, string(e.Criteria), e.Result, e.PrevHash, e.Hash); err != nil {
		return fmt.Errorf("insert audit entry: %w", err)
	}
	st.headSeq, st.headHash, st.headAt = e.Seq, e.Hash, at
	return nil
}

// Head returns the newest entry's sequence number and hash. Publishing the
// head from time to time (to the data-protection officer, a ticket, paper)
// makes even a rewrite of the whole chain by a database administrator
// detectable.
func (l *Log) Head(ctx context.Context) (seq int64, hash string, err error) {
	err = l.db.QueryRow(ctx, `SELECT head_seq, head_hash FROM audit_state WHERE id = 1`).Scan(&seq, &hash)
	if err != nil {
		return 0, "", fmt.Errorf("audit head: %w", err)
	}
	return seq, hash, nil
}

func requireAuditor(c Caller) error {
	if !c.Has(wache.RoleAuditor) {
		return wache.Errorf(wache.EFORBIDDEN, "only the auditor role reads the audit log")
	}
	return nil
}

// Filter selects entries for List. Zero fields do not filter.
type Filter struct {
	From, To time.Time // At in [From, To)
	Actor    string
	Action   string
	AfterSeq int64 // for paging: entries with Seq > AfterSeq
	Limit    int   // default 100, at most 1000
}

// List returns entries in sequence order. Auditor only.
func (l *Log) List(ctx context.Context, c Caller, f Filter) ([]Entry, error) {
	if err := requireAuditor(c); err != nil {
		return nil, err
	}
	return l.list(ctx, f)
}

func (l *Log) list(ctx context.Context, f Filter) ([]Entry, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	if f.Limit > 1000 {
		return nil, wache.Errorf(wache.EINVALID, "limit over 1000")
	}
	q := `SELECT ` + entryCols + ` FROM audit_log WHERE seq > ?`
	args := []any{f.AfterSeq}
	if !f.From.IsZero() {
		q += ` AND at_us >= ?`
		args = append(args, f.From.UnixMicro())
	}
	if !f.To.IsZero() {
		q += ` AND at_us < ?`
		args = append(args, f.To.UnixMicro())
	}
	if f.Actor != "" {
		q += ` AND actor = ?`
		args = append(args, f.Actor)
	}
	if f.Action != "" {
		q += ` AND action = ?`
		args = append(args, f.Action)
	}
	q += ` ORDER BY seq LIMIT ?`
	args = append(args, f.Limit)
	rows, err := l.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

const entryCols = `seq, at_us, action, actor, device, org, purpose, criteria, result, prev_hash, hash`

type scanner interface{ Scan(dest ...any) error }

func scanEntry(s scanner) (Entry, error) {
	var e Entry
	var at int64
	var crit string
	if err := s.Scan(&e.Seq, &at, &e.Action, &e.Actor, &e.Device, &e.Org, &e.Purpose, &crit, &e.Result, &e.PrevHash, &e.Hash); err != nil {
		return e, fmt.Errorf("scan audit entry: %w", err)
	}
	e.At = time.UnixMicro(at).UTC()
	e.Criteria = []byte(crit)
	return e, nil
}

// readTx opens a read-only snapshot so that Verify and Export see one
// consistent chain while appends go on.
func (l *Log) readTx(ctx context.Context) (*sql.Tx, error) {
	opts := &sql.TxOptions{ReadOnly: true}
	if l.db.Dialect.Postgres() {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := l.db.R.BeginTx(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("audit read: %w", err)
	}
	return tx, nil
}

// errStop ends a scan early without being an error.
var errStop = errors.New("stop")
