package auskunft

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/internal/audit"
)

// ImportOptions tune an import.
type ImportOptions struct {
	// Source names what is imported (a file name, a system) for the audit log.
	Source string
	// BatchSize is the number of records per transaction (default 5000).
	BatchSize int
	// MaxLineErrors bounds ImportStats.LineErrors (default 100); all errors
	// are counted.
	MaxLineErrors int
	// Progress, if set, is called after every batch and at the end.
	Progress func(ImportStats)
}

// LineError is a refused line of an import.
type LineError struct {
	Line    int64  `json:"line"`
	Message string `json:"message"`
}

// ImportStats reports an import's progress and outcome.
type ImportStats struct {
	Lines      int64         `json:"lines"`   // lines read, empty ones included
	Bytes      int64         `json:"bytes"`   // bytes read
	Applied    int64         `json:"applied"` // records stored or deleted
	Persons    int64         `json:"persons"`
	Vehicles   int64         `json:"vehicles"`
	Documents  int64         `json:"documents"`
	Alerts     int64         `json:"alerts"`
	Deletes    int64         `json:"deletes"`
	Errors     int64         `json:"errors"` // refused lines
	LineErrors []LineError   `json:"line_errors,omitempty"`
	Elapsed    time.Duration `json:"elapsed_ns"`
}

// RecordsPerSecond is the import rate so far.
func (st *ImportStats) RecordsPerSecond() float64 {
	if st.Elapsed <= 0 {
		return 0
	}
	return float64(st.Applied) / st.Elapsed.Seconds()
}

// Import streams JSON Lines from r into the store: one record per line,
// kind person, vehicle, document, alert or delete, upserted by id. Bad
// lines are reported with their number and skipped; each record is stored
// whole or not at all. The import is logged. Admin only.
func (s *Service) Import(ctx context.Context, c Caller, r io.Reader, opts ImportOptions) (*ImportStats, error) {
	ev := audit.Event{Action: ActionImport, Actor: c.UserID, Device: c.DeviceID, Org: c.OrgID,
		Purpose: "Datenübernahme", Criteria: map[string]any{"source": truncate(opts.Source)}}
	if c.UserID == "" {
		return nil, wache.Errorf(wache.EUNAUTHORIZED, "no caller")
	}
	if !c.Has(wache.RoleAdmin) {
		ev.Result = "denied"
		if _, err := s.audit.Append(ctx, ev); err != nil {
			return nil, err
		}
		return nil, wache.Errorf(wache.EFORBIDDEN, "only admins import data")
	}
	st, err := s.store.importStream(ctx, r, opts, s.now().In(s.loc).Format("2006-01-02"))
	ev.Criteria = map[string]any{"source": truncate(opts.Source), "lines": st.Lines, "applied": st.Applied,
		"persons": st.Persons, "vehicles": st.Vehicles, "documents": st.Documents, "alerts": st.Alerts,
		"deletes": st.Deletes, "errors": st.Errors}
	switch {
	case err != nil:
		ev.Result = "failed"
	case st.Errors > 0:
		ev.Result = "ok_with_errors"
	default:
		ev.Result = "ok"
	}
	// Log even when the caller went away mid-import.
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, aerr := s.audit.Append(actx, ev); aerr != nil {
		return st, errors.Join(err, aerr)
	}
	return st, err
}

// importStream is the import without role check and audit.
func (s *Store) importStream(ctx context.Context, r io.Reader, opts ImportOptions, today string) (*ImportStats, error) {
	if opts.BatchSize <= 0 {
		opts.BatchSize = 5000
	}
	if opts.MaxLineErrors <= 0 {
		opts.MaxLineErrors = 100
	}
	st := &ImportStats{}
	start := time.Now()
	// The first load into an empty store is a bulk load: lookup indexes
	// are built once at the end (see lookupIndexes).
	bulk, err := s.empty(ctx)
	if err != nil {
		return st, err
	}
	if bulk {
		if err := s.dropIndexes(ctx); err != nil {
			return st, err
		}
		defer func() {
			// Also after a failure: lookups must not run without indexes.
			ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 6*time.Hour)
			defer cancel()
			if err := s.createIndexes(ictx); err != nil {
				slog.ErrorContext(ctx, "auskunft: rebuild indexes after bulk load", "err", err)
			}
			if err := s.analyze(ictx, true); err != nil {
				slog.WarnContext(ctx, "auskunft: analyze after import", "err", err)
			}
			st.Elapsed = time.Since(start)
		}()
	}
	lineErr := func(line int64, err error) {
		st.Errors++
		if len(st.LineErrors) < opts.MaxLineErrors {
			st.LineErrors = append(st.LineErrors, LineError{Line: line, Message: wache.ErrorMessage(err)})
		}
	}
	var batch []*op
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := s.apply(ctx, batch)
		if err != nil && ctx.Err() == nil {
			// Find the record the database refused: one transaction each.
			slog.WarnContext(ctx, "import batch failed, retrying record by record", "err", err)
			err = nil
			for _, o := range batch {
				if e := s.apply(ctx, []*op{o}); e != nil {
					if ctx.Err() != nil {
						err = e
						break
					}
					slog.WarnContext(ctx, "import record refused by the database", "line", o.line, "err", e)
					lineErr(o.line, wache.Errorf(wache.EINVALID, "record could not be stored"))
					continue
				}
				st.count(o)
			}
		} else if err == nil {
			for _, o := range batch {
				st.count(o)
			}
		}
		batch = batch[:0]
		st.Elapsed = time.Since(start)
		if opts.Progress != nil {
			opts.Progress(*st)
		}
		if err != nil {
			return fmt.Errorf("import: %w", err)
		}
		return nil
	}
	br := bufio.NewReaderSize(r, 256<<10)
	var buf []byte
	for {
		if err := ctx.Err(); err != nil {
			return st, fmt.Errorf("import: %w", err)
		}
		line, n, tooLong, rerr := readLine(br, buf)
		buf = line[:0]
		st.Bytes += int64(n)
		if n > 0 {
			st.Lines++
		}
		if rerr != nil && !errors.Is(rerr, io.EOF) {
			flush()
			return st, fmt.Errorf("import: read line %d: %w", st.Lines+1, rerr)
		}
		if st.Lines == 1 {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
		}
		line = bytes.TrimSpace(line)
		switch {
		case tooLong:
			lineErr(st.Lines, wache.Errorf(wache.ETOOLARGE, "line longer than %d bytes", MaxLineBytes))
		case len(line) == 0:
		default:
			o, err := decodeLine(line, today)
			if err != nil {
				lineErr(st.Lines, err)
				break
			}
			o.line = st.Lines
			batch = append(batch, o)
			if len(batch) >= opts.BatchSize {
				if err := flush(); err != nil {
					return st, err
				}
			}
		}
		if rerr != nil { // EOF
			break
		}
	}
	if err := flush(); err != nil {
		return st, err
	}
	if !bulk && st.Applied >= analyzeAfter {
		if err := s.analyze(ctx, false); err != nil {
			slog.WarnContext(ctx, "auskunft: analyze after import", "err", err)
		}
	}
	st.Elapsed = time.Since(start)
	return st, nil
}

// analyzeAfter is the import size after which the planner statistics are
// refreshed, so that lookups keep using the right indexes.
const analyzeAfter = 50000

func (s *Store) analyze(ctx context.Context, bulk bool) error {
	tables := []string{"ak_person", "ak_name", "ak_vehicle", "ak_document", "ak_alert"}
	if s.db.Dialect.Postgres() {
		if bulk {
			// Mark the fresh pages all-visible so that name searches are
			// index-only scans right away, not after autovacuum.
			if _, err := s.db.Exec(ctx, `VACUUM (ANALYZE) ak_name`); err != nil {
				return err
			}
		}
		_, err := s.db.Exec(ctx, `ANALYZE `+strings.Join(tables, ", "))
		return err
	}
	// Sampled statistics: a full ANALYZE of ten million rows takes minutes.
	if _, err := s.db.Exec(ctx, `PRAGMA analysis_limit = 1000`); err != nil {
		return err
	}
	defer s.db.Exec(context.WithoutCancel(ctx), `PRAGMA analysis_limit = 0`)
	for _, t := range tables {
		if _, err := s.db.Exec(ctx, `ANALYZE `+t); err != nil {
			return err
		}
	}
	return nil
}

func (st *ImportStats) count(o *op) {
	st.Applied++
	switch o.kind {
	case KindPerson:
		st.Persons++
	case KindVehicle:
		st.Vehicles++
	case KindDocument:
		st.Documents++
	case KindAlert:
		st.Alerts++
	case KindDelete:
		st.Deletes++
	}
}

// readLine reads one line into buf (reusing it). A line longer than
// MaxLineBytes is consumed to its end and reported as tooLong, without
// being held in memory. n is the number of bytes consumed.
func readLine(br *bufio.Reader, buf []byte) (line []byte, n int, tooLong bool, err error) {
	buf = buf[:0]
	for {
		chunk, err := br.ReadSlice('\n')
		n += len(chunk)
		if !tooLong {
			if len(buf)+len(chunk) > MaxLineBytes+2 { // allow "\r\n"
				tooLong = true
				buf = buf[:0]
			} else {
				buf = append(buf, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return buf, n, tooLong, err
	}
}
