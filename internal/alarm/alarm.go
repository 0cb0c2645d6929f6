// Package alarm is the server side of priority messages with
// acknowledgement and of SOS alarms with escalation.
//
// What it knows: that a message is urgent and needs confirmation, who
// received, read or acknowledged it and when; that an alarm exists, its
// state, its conversations and who answered "coming" or "cannot". What it
// never sees: text, notes, positions or attachments — those travel only
// inside MLS ciphertexts, which it stores and posts without reading.
//
// Persistence: receipts and counters live in the core tables ack_requests
// and receipts (written in the relay's transaction); alarms, policies,
// responses and timelines in this package's own tables. Deadlines and
// reminder times are columns, not memory: every node polls for due rows and
// claims each with a conditional UPDATE, so a timer fires exactly once
// across restarts and across nodes on one PostgreSQL.
package alarm

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
	"github.com/wache/wache/internal/audit"
	"github.com/wache/wache/internal/relay"
	"github.com/wache/wache/internal/store"
	"github.com/wache/wache/internal/store/sqldb"
)

//go:embed migrations
var migrations embed.FS

// Notification is what a push says: its kind and urgency, no content.
type Notification struct {
	Kind    string // message, reminder, alarm
	Urgency string // normal, high
}

// Pusher sends Web Pushes to devices that have a subscription (devices
// without one are skipped by the implementation).
type Pusher interface {
	Notify(ctx context.Context, deviceIDs []string, n Notification) error
}

// Auditor records transitions; *audit.Log implements it.
type Auditor interface {
	Append(ctx context.Context, ev audit.Event) (audit.Entry, error)
}

// Options tune the service. The zero value is valid.
type Options struct {
	// Now is the clock (default time.Now). Tests move it forward instead of
	// sleeping; the loop in Run still waits in real time between polls.
	Now func() time.Time
	// Poll is how often Run looks for due deadlines and reminders (default 1 s).
	Poll time.Duration
	// Push sends Web Pushes; nil: no push.
	Push Pusher
	// Audit records every transition and response; nil: not audited (tests).
	Audit Auditor
	// Log defaults to slog.Default().
	Log *slog.Logger
}

// Service implements receipts, reminders and alarms.
type Service struct {
	db    *sqldb.DB
	store store.Store
	relay *relay.Relay
	now   func() time.Time
	poll  time.Duration
	push  Pusher
	audit Auditor
	log   *slog.Logger

	raiseMu [64]sync.Mutex // per-device raise serialisation, striped
}

// Bounds of the service.
const (
	RemindFor          = 24 * time.Hour   // reminders stop after this
	MaxAlarmsPerDevice = 3                // new alarms per device per RateWindow
	RateWindow         = 10 * time.Minute // of MaxAlarmsPerDevice
	MaxEnvelopes       = 4                // posted envelopes per raise
	MaxEvents          = 2000             // timeline entries per alarm
	MaxETASeconds      = 86400
	DefaultPageSize    = 200 // receipts members per page
	MaxPageSize        = 1000
	MaxListAlarms      = 200
	dueBatch           = 100 // due rows handled per poll and kind
	notifyChunk        = 1000
)

// New applies the alarm migrations and returns the service. r posts
// envelopes and carries frames; st answers membership questions.
func New(ctx context.Context, db *sqldb.DB, st store.Store, r *relay.Relay, opts Options) (*Service, error) {
	if db == nil || st == nil || r == nil {
		return nil, errors.New("alarm: nil dependency")
	}
	sub := "migrations/sqlite"
	if db.Dialect.Postgres() {
		sub = "migrations/postgres"
	}
	fsys, err := fs.Sub(migrations, sub)
	if err != nil {
		return nil, fmt.Errorf("alarm migrations: %w", err)
	}
	if err := db.Migrate(ctx, "alarm", fsys); err != nil {
		return nil, fmt.Errorf("alarm: %w", err)
	}
	s := &Service{db: db, store: st, relay: r, now: opts.Now, poll: opts.Poll, push: opts.Push, audit: opts.Audit, log: opts.Log}
	if s.now == nil {
		s.now = time.Now
	}
	if s.poll <= 0 {
		s.poll = time.Second
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s, nil
}

// SetPusher sets the push sender after construction (the app wires push
// once both services exist). Call it before Run.
func (s *Service) SetPusher(p Pusher) { s.push = p }

func (s *Service) nowMS() int64 { return s.now().UnixMilli() }

func fromMS(x int64) time.Time { return time.UnixMilli(x).UTC() }

func ptrMS(x *int64) *time.Time {
	if x == nil {
		return nil
	}
	t := fromMS(*x)
	return &t
}

// record writes an audit entry. A failure is logged, not returned: the
// transition already happened, and an SOS must never be refused because
// the audit writer is slow.
func (s *Service) record(ctx context.Context, action string, u *wache.User, d *wache.Device, criteria map[string]any, result string) {
	if s.audit == nil {
		return
	}
	ev := audit.Event{Action: action, Actor: "server", Criteria: criteria, Result: result}
	if u != nil {
		ev.Actor, ev.Org = u.ID, u.OrgID
	}
	if d != nil {
		ev.Device = d.ID
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := s.audit.Append(actx, ev); err != nil {
		s.log.ErrorContext(ctx, "audit append failed", "action", action, "err", err)
	}
}

// notifyUsers sends a frame to the users' live connections, logging
// failures (frames are hints; the state can be fetched).
func (s *Service) notifyUsers(ctx context.Context, userIDs []string, frame api.Frame) {
	if len(userIDs) == 0 {
		return
	}
	b, err := json.Marshal(frame)
	if err != nil {
		s.log.ErrorContext(ctx, "encode frame", "err", err)
		return
	}
	if err := s.relay.NotifyUsers(ctx, userIDs, b); err != nil {
		s.log.WarnContext(ctx, "notify users", "type", frame.Type, "err", err)
	}
}

// pushDevices sends a push to the active devices of the users.
func (s *Service) pushUsers(ctx context.Context, userIDs []string, n Notification) {
	if s.push == nil || len(userIDs) == 0 {
		return
	}
	for i := 0; i < len(userIDs); i += notifyChunk {
		chunk := userIDs[i:min(i+notifyChunk, len(userIDs))]
		args := make([]any, len(chunk))
		for j, id := range chunk {
			args[j] = id
		}
		rows, err := s.db.Query(ctx, `SELECT id FROM devices WHERE revoked_at IS NULL AND user_id IN (`+marks(len(chunk))+`)`, args...)
		if err != nil {
			s.log.WarnContext(ctx, "push: list devices", "err", err)
			return
		}
		var devs []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err == nil {
				devs = append(devs, id)
			}
		}
		rows.Close()
		if len(devs) == 0 {
			continue
		}
		if err := s.push.Notify(ctx, devs, n); err != nil {
			s.log.WarnContext(ctx, "push failed", "kind", n.Kind, "devices", len(devs), "err", err)
		}
	}
}

// marks returns "?,?,…" with n placeholders.
func marks(n int) string {
	if n <= 0 {
		return ""
	}
	b := make([]byte, 0, 2*n)
	for i := 0; i < n; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '?')
	}
	return string(b)
}

// inTx runs fn in a write transaction, retrying when PostgreSQL reports a
// lost race (unique violation, serialization failure or deadlock): fn then
// sees the other transaction's rows.
func (s *Service) inTx(ctx context.Context, fn func(tx *sqldb.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.db.InTx(ctx, fn)
		if err == nil || attempt >= 4 || ctx.Err() != nil {
			return err
		}
		var we *wache.Error
		if errors.As(err, &we) {
			return err
		}
		if !s.db.Dialect.IsUniqueViolation(err) && !retryable(err) {
			return err
		}
	}
}

func retryable(err error) bool {
	var e interface{ SQLState() string }
	if errors.As(err, &e) {
		c := e.SQLState()
		return c == "40001" || c == "40P01"
	}
	return false
}

// forUpdate is the row-lock suffix on PostgreSQL; SQLite has one writer.
func (s *Service) forUpdate() string {
	if s.db.Dialect.Postgres() {
		return " FOR UPDATE"
	}
	return ""
}
