package sqldb

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/internal/store"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrations embed.FS

// CoreComponent is the migration component name of the core schema.
const CoreComponent = "core"

// Limits that keep every statement bounded.
const (
	MaxListLimit   = 1000 // rows per page of Envelopes and Users
	MaxAppendBatch = 1000 // envelopes per AppendEnvelopes call
	MaxIDLen       = 200  // bytes of any id, email or client id
	MaxNameLen     = 1000 // bytes of any display name
)

// Store implements store.Store on a SQLite or PostgreSQL database.
type Store struct {
	db *DB
}

var _ store.Store = (*Store)(nil)

// CoreMigrations returns the embedded core migrations for a dialect.
func CoreMigrations(d Dialect) (fs.FS, error) {
	return fs.Sub(migrations, "migrations/"+d.Name)
}

// NewStore applies the core migrations and returns the store. The store
// owns db: Close closes it.
func NewStore(ctx context.Context, db *DB) (*Store, error) {
	if db == nil || db.W == nil || db.R == nil {
		return nil, errors.New("sqldb: nil database")
	}
	if db.Dialect.Name != "sqlite" && db.Dialect.Name != "postgres" {
		return nil, fmt.Errorf("sqldb: unknown dialect %q", db.Dialect.Name)
	}
	if db.Dialect.IsUniqueViolation == nil {
		return nil, errors.New("sqldb: dialect without IsUniqueViolation")
	}
	fsys, err := CoreMigrations(db.Dialect)
	if err != nil {
		return nil, fmt.Errorf("core migrations: %w", err)
	}
	if err := db.Migrate(ctx, CoreComponent, fsys); err != nil {
		return nil, err
	}
	return &Store{db: db}, nil
}

// DB returns the underlying database, for components that keep their own
// tables next to the core ones.
func (s *Store) DB() *DB { return s.db }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.W.PingContext(ctx); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	if s.db.R != s.db.W {
		if err := s.db.R.PingContext(ctx); err != nil {
			return fmt.Errorf("ping readers: %w", err)
		}
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// --- helpers ---

// ms converts t to unix milliseconds; the zero time means "now".
func ms(t time.Time) int64 {
	if t.IsZero() {
		return time.Now().UnixMilli()
	}
	return t.UnixMilli()
}

// fromMS is the inverse of ms, always in UTC.
func fromMS(x int64) time.Time { return time.UnixMilli(x).UTC() }

// norm returns t as it will read back from the database (ms, UTC; zero → now).
func norm(t time.Time) time.Time { return fromMS(ms(t)) }

func nullMS(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: ms(*t), Valid: true}
}

func fromNullMS(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromMS(n.Int64)
	return &t
}

func normPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	n := norm(*t)
	return &n
}

func nullStr(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

func notFound(what string) error { return wache.Errorf(wache.ENOTFOUND, "%s not found", what) }

func invalid(format string, args ...any) error { return wache.Errorf(wache.EINVALID, format, args...) }

// wrap turns a unique violation into ECONFLICT and gives any other error
// context; application errors pass unchanged.
func (s *Store) wrap(err error, op, what string) error {
	if err == nil {
		return nil
	}
	var we *wache.Error
	if errors.As(err, &we) {
		return err
	}
	if s.db.Dialect.IsUniqueViolation(err) {
		return &wache.Error{Code: wache.ECONFLICT, Message: what + " already exists", Err: err}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// checkID validates a caller-supplied identifier.
func checkID(name, id string) error {
	if id == "" {
		return invalid("%s is required", name)
	}
	if len(id) > MaxIDLen {
		return invalid("%s is too long", name)
	}
	return nil
}

func checkName(name, v string) error {
	if len(v) > MaxNameLen {
		return invalid("%s is too long", name)
	}
	return nil
}

func clampLimit(limit int) int { return min(max(limit, 1), MaxListLimit) }

// likeEscape escapes LIKE wildcards so that q matches literally (with ESCAPE '\').
func likeEscape(q string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(q)
}

// placeholders returns "(?,?,…),(?,?,…)" with rows groups of cols.
func placeholders(rows, cols int) string {
	one := "(" + strings.TrimSuffix(strings.Repeat("?,", cols), ",") + ")"
	return strings.TrimSuffix(strings.Repeat(one+",", rows), ",")
}

// exists reports whether a query returns a row.
func existsRow(row *sql.Row) (bool, error) {
	var one int
	err := row.Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}
