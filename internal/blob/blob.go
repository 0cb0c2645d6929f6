// Package blob stores end-to-end encrypted attachments. Devices upload
// ciphertext resumably with the tus 1.0 protocol (tusd's handler and file
// store); the server records which conversation each blob belongs to and
// serves it only to that conversation's current members. It never sees a
// key, a file name or a MIME type: those travel inside the MLS message.
//
// Endpoints, under BasePath (/api/v1/blobs/), every one authenticated with
// the device's bearer token:
//
//	POST   /api/v1/blobs/      tus creation; Upload-Length, Upload-Metadata "conv_id <base64>"
//	HEAD   /api/v1/blobs/{id}  tus offset (uploading device only)
//	PATCH  /api/v1/blobs/{id}  tus append (uploading device only)
//	DELETE /api/v1/blobs/{id}  tus termination (uploading device only)
//	GET    /api/v1/blobs/{id}  download with Range support (members of the conversation)
//
// A blob that the caller may not see is "not found", whether it exists or
// not. Limits: a maximum blob size, a per-user quota of bytes uploaded
// within the retention window, and a deadline for completing an upload.
// Retention deletes blobs (file and row) older than the retention period
// and uploads that were not completed in time.
package blob

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/tus/tusd/v2/pkg/filestore"
	"github.com/tus/tusd/v2/pkg/handler"
	"github.com/tus/tusd/v2/pkg/memorylocker"
	"github.com/wache/wache"
	"github.com/wache/wache/api"
	"github.com/wache/wache/internal/store/sqldb"
)

//go:embed migrations
var migrations embed.FS

// Component is the migration component name of the blob table.
const Component = "blob"

// BasePath is where the handler must be mounted.
const BasePath = api.Version + "/blobs/"

// Authenticator resolves a bearer token (accounts.Service satisfies it).
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (*wache.User, *wache.Device, error)
}

// MembershipChecker reports a user's membership in a conversation, with
// ENOTFOUND when there is none (store.Store satisfies it).
type MembershipChecker interface {
	Member(ctx context.Context, convID, userID string) (*wache.Member, error)
}

// Options are the limits of the blob store. Zero values take the defaults.
type Options struct {
	// MaxSize is the largest blob in bytes (ciphertext). Default 1 GiB.
	MaxSize int64
	// Quota is how many bytes one user may upload within the quota window
	// (Retention, or 30 days when blobs are kept forever). Default 4 GiB.
	Quota int64
	// Retention deletes blobs older than this; 0 keeps them (as the
	// relay's retention does, so both take the same setting).
	Retention time.Duration
	// UploadTimeout is how long after creation an upload may take to
	// complete; later PATCHes are refused and retention deletes it.
	// Default 24 hours.
	UploadTimeout time.Duration
	// NetworkTimeout bounds each read of an upload body and each write of
	// a download. Default 60 s.
	NetworkTimeout time.Duration
	// Now is the clock (tests). Default time.Now.
	Now func() time.Time
}

func (o *Options) defaults() {
	if o.MaxSize <= 0 {
		o.MaxSize = 1 << 30
	}
	if o.Quota <= 0 {
		o.Quota = 4 << 30
	}
	if o.UploadTimeout <= 0 {
		o.UploadTimeout = 24 * time.Hour
	}
	if o.NetworkTimeout <= 0 {
		o.NetworkTimeout = 60 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// quotaWindow is the span over which a user's uploads count.
func (o *Options) quotaWindow() time.Duration {
	if o.Retention > 0 {
		return o.Retention
	}
	return 30 * 24 * time.Hour
}

// Service is the blob store of one node.
type Service struct {
	db      *sqldb.DB
	dir     string
	opts    Options
	auth    Authenticator
	members MembershipChecker
	log     *slog.Logger

	files  filestore.FileStore
	locker *memorylocker.MemoryLocker
	tus    *handler.UnroutedHandler
	post   http.Handler // tusd's steps, each behind its middleware
	head   http.Handler
	patch  http.Handler
	del    http.Handler
	closed atomic.Bool
}

// New applies the blob migrations to db, prepares dir (created with mode
// 0700 if missing) and returns the service.
func New(ctx context.Context, db *sqldb.DB, dir string, opts Options, auth Authenticator, members MembershipChecker, log *slog.Logger) (*Service, error) {
	if db == nil || auth == nil || members == nil {
		return nil, errors.New("blob: nil database, authenticator or membership checker")
	}
	if dir == "" {
		return nil, errors.New("blob: empty directory")
	}
	if log == nil {
		log = slog.Default()
	}
	opts.defaults()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("blob directory: %w", err)
	}
	sub := "migrations/sqlite"
	if db.Dialect.Postgres() {
		sub = "migrations/postgres"
	}
	fsys, err := fs.Sub(migrations, sub)
	if err != nil {
		return nil, fmt.Errorf("blob migrations: %w", err)
	}
	if err := db.Migrate(ctx, Component, fsys); err != nil {
		return nil, err
	}
	s := &Service{db: db, dir: dir, opts: opts, auth: auth, members: members, log: log,
		files: filestore.New(dir), locker: memorylocker.New()}
	s.files.DirModePerm, s.files.FileModePerm = 0o700, 0o600

	composer := handler.NewStoreComposer()
	composer.UseCore(s.files)
	composer.UseTerminater(s.files)
	composer.UseLocker(s.locker)
	s.tus, err = handler.NewUnroutedHandler(handler.Config{
		StoreComposer:             composer,
		MaxSize:                   opts.MaxSize,
		BasePath:                  BasePath,
		DisableDownload:           true, // served by download, with access checks
		DisableConcatenation:      true,
		Cors:                      &handler.CorsConfig{Disable: true}, // same-origin API
		PreUploadCreateCallback:   s.preCreate,
		PreFinishResponseCallback: s.preFinish,
		NetworkTimeout:            opts.NetworkTimeout,
		Logger:                    newTusLogger(log),
	})
	if err != nil {
		return nil, fmt.Errorf("tus handler: %w", err)
	}
	s.post = s.tus.Middleware(http.HandlerFunc(s.tus.PostFile))
	s.head = s.tus.Middleware(http.HandlerFunc(s.tus.HeadFile))
	s.patch = s.tus.Middleware(http.HandlerFunc(s.tus.PatchFile))
	s.del = s.tus.Middleware(http.HandlerFunc(s.tus.DelFile))
	return s, nil
}

// Close refuses further requests. It is idempotent; files and rows stay.
func (s *Service) Close() error {
	s.closed.Store(true)
	return nil
}

// newID returns 128 random bits as 32 hex digits.
func newID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic("blob: random: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// validID reports whether id has the form newID produces. It also keeps
// every id that reaches the file system free of path syntax.
func validID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func (s *Service) binPath(id string) string  { return filepath.Join(s.dir, id) }
func (s *Service) infoPath(id string) string { return filepath.Join(s.dir, id+".info") }

// row is one blob's record.
type row struct {
	ID        string
	ConvID    string
	Uploader  string // user id
	Device    string
	Size      int64 // declared ciphertext bytes
	Created   time.Time
	Completed *time.Time
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func (s *Service) getRow(ctx context.Context, id string) (*row, error) {
	var r row
	var created int64
	var completed sql.NullInt64
	err := s.db.QueryRow(ctx, `SELECT id, conv_id, uploader, device, size, created_at, completed_at FROM blobs WHERE id = ?`, id).
		Scan(&r.ID, &r.ConvID, &r.Uploader, &r.Device, &r.Size, &created, &completed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoBlob
	}
	if err != nil {
		return nil, fmt.Errorf("load blob: %w", err)
	}
	r.Created = time.UnixMilli(created)
	if completed.Valid {
		t := time.UnixMilli(completed.Int64)
		r.Completed = &t
	}
	return &r, nil
}

var errNoBlob = wache.Errorf(wache.ENOTFOUND, "no such blob")

// markComplete records that all bytes of a blob arrived.
func (s *Service) markComplete(ctx context.Context, id string) error {
	_, err := s.db.Exec(ctx, `UPDATE blobs SET completed_at = ? WHERE id = ? AND completed_at IS NULL`, ms(s.opts.Now()), id)
	if err != nil {
		return fmt.Errorf("mark blob complete: %w", err)
	}
	return nil
}

// complete reports whether the blob's bytes have all arrived. A blob whose
// file is full but whose completion was not recorded (the database failed
// at that moment) is recorded now.
func (s *Service) complete(ctx context.Context, r *row) (bool, error) {
	if r.Completed != nil {
		return true, nil
	}
	st, err := os.Stat(s.binPath(r.ID))
	if err != nil || st.Size() != r.Size {
		return false, nil
	}
	if err := s.markComplete(ctx, r.ID); err != nil {
		return false, err
	}
	return true, nil
}

// reserve checks the uploader's quota and records the new blob, as one
// transaction so that concurrent uploads cannot overrun the quota.
func (s *Service) reserve(ctx context.Context, r *row) error {
	now := s.opts.Now()
	window := s.opts.quotaWindow()
	return s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		if s.db.Dialect.Postgres() {
			// Serialise one user's reservations across nodes.
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext(?))`, "wache-blob-quota:"+r.Uploader); err != nil {
				return fmt.Errorf("quota lock: %w", err)
			}
		}
		var used int64
		var oldest sql.NullInt64
		if err := tx.QueryRow(ctx, `SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT), MIN(created_at) FROM blobs WHERE uploader = ? AND created_at >= ?`,
			r.Uploader, ms(now.Add(-window))).Scan(&used, &oldest); err != nil {
			return fmt.Errorf("quota: %w", err)
		}
		if used+r.Size > s.opts.Quota {
			e := &quotaError{used: used, need: r.Size, quota: s.opts.Quota, window: window}
			if oldest.Valid {
				e.retryAfter = time.UnixMilli(oldest.Int64).Add(window).Sub(now)
			}
			return e
		}
		if _, err := tx.Exec(ctx, `INSERT INTO blobs (id, conv_id, uploader, device, size, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			r.ID, r.ConvID, r.Uploader, r.Device, r.Size, ms(r.Created)); err != nil {
			return fmt.Errorf("insert blob: %w", err)
		}
		return nil
	})
}

// quotaError is a full quota: ERATELIMIT (429) with a Retry-After for
// when the oldest counted upload leaves the window.
type quotaError struct {
	used, need, quota int64
	window            time.Duration
	retryAfter        time.Duration
}

func (e *quotaError) Error() string { return e.wacheError().Error() }

func (e *quotaError) wacheError() *wache.Error {
	return wache.Errorf(wache.ERATELIMIT, "upload quota exhausted: %s of %s used in the last %d days, and this upload needs %s",
		humanBytes(e.used), humanBytes(e.quota), int(e.window.Hours()/24), humanBytes(e.need))
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// removeBlob deletes a blob's files and then its row, holding the upload
// lock so that no request writes to it meanwhile (a running PATCH is
// asked to stop). Files go first: a crash in between leaves a row without
// a file, which serves as "not found" and is swept again.
func (s *Service) removeBlob(ctx context.Context, id string) error {
	lock, err := s.locker.NewLock(id)
	if err != nil {
		return err
	}
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := lock.Lock(lctx, func() {}); err != nil {
		return fmt.Errorf("lock blob %s: %w", id, err)
	}
	defer lock.Unlock()
	for _, p := range []string{s.binPath(id), s.infoPath(id)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove blob file: %w", err)
		}
	}
	if _, err := s.db.Exec(ctx, `DELETE FROM blobs WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete blob row: %w", err)
	}
	return nil
}

// sweepBatch bounds one retention query.
const sweepBatch = 500

// Sweep deletes blobs older than the retention period and uploads not
// completed within the upload timeout, and returns how many went.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	now := s.opts.Now()
	expired := int64(-1 << 62) // retention off: nothing is too old
	if s.opts.Retention > 0 {
		expired = ms(now.Add(-s.opts.Retention))
	}
	stale := ms(now.Add(-s.opts.UploadTimeout))
	n := 0
	skip := map[string]bool{} // failed this run; retried next run
	for {
		rows, err := s.db.Query(ctx, `SELECT id, size, created_at, completed_at FROM blobs
			WHERE created_at < ? OR (completed_at IS NULL AND created_at < ?) ORDER BY created_at LIMIT ?`,
			expired, stale, sweepBatch+len(skip))
		if err != nil {
			return n, fmt.Errorf("list expired blobs: %w", err)
		}
		type cand struct {
			r       row
			expired bool
		}
		var cands []cand
		for rows.Next() {
			var c cand
			var created int64
			var completed sql.NullInt64
			if err := rows.Scan(&c.r.ID, &c.r.Size, &created, &completed); err != nil {
				rows.Close()
				return n, fmt.Errorf("list expired blobs: %w", err)
			}
			c.expired = created < expired
			if completed.Valid {
				t := time.UnixMilli(completed.Int64)
				c.r.Completed = &t
			}
			if !skip[c.r.ID] {
				cands = append(cands, c)
			}
		}
		if err := rows.Close(); err != nil {
			return n, fmt.Errorf("list expired blobs: %w", err)
		}
		if len(cands) == 0 {
			return n, nil
		}
		for _, c := range cands {
			if !c.expired {
				// A stale upload, unless its bytes all arrived unrecorded.
				ok, err := s.complete(ctx, &c.r)
				if err != nil {
					s.log.WarnContext(ctx, "blob retention", "blob", c.r.ID, "err", err)
					skip[c.r.ID] = true
					continue
				}
				if ok {
					continue
				}
			}
			if err := s.removeBlob(ctx, c.r.ID); err != nil {
				if ctx.Err() != nil {
					return n, ctx.Err()
				}
				s.log.WarnContext(ctx, "blob retention", "blob", c.r.ID, "err", err)
				skip[c.r.ID] = true
				continue
			}
			n++
		}
		if len(cands) < sweepBatch {
			return n, nil
		}
	}
}

// RunRetention sweeps at once and then every interval until ctx ends.
func (s *Service) RunRetention(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = time.Hour
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := s.Sweep(ctx)
		if err != nil && !errors.Is(err, context.Canceled) {
			s.log.WarnContext(ctx, "blob retention", "err", err)
		} else if n > 0 {
			s.log.InfoContext(ctx, "blob retention deleted blobs", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
