package sqldb_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/internal/store"
	"github.com/wache/wache/internal/store/dbtest"
	"github.com/wache/wache/internal/store/sqldb"
	"github.com/wache/wache/internal/store/sqlite"
	"github.com/wache/wache/internal/store/storetest"
)

func newStore(t testing.TB, db *sqldb.DB) *sqldb.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := sqldb.NewStore(ctx, db)
	if err != nil {
		t.Fatalf("NewStore: %v", err)
	}
	return s
}

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return newStore(t, dbtest.SQLite(t)) })
}

func TestPostgres(t *testing.T) {
	dbtest.Postgres(t) // skips the whole test early when PostgreSQL is unreachable
	storetest.Run(t, func(t *testing.T) store.Store {
		db, _ := dbtest.Postgres(t)
		return newStore(t, db)
	})
}

// TestReopenSQLite checks that an existing database keeps its data and
// that the migrations are recorded once, not run again.
func TestReopenSQLite(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "wache.db")
	open := func() *sqldb.Store {
		db, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		return newStore(t, db)
	}
	s := open()
	if err := s.CreateOrg(ctx, &wache.Org{ID: "org-1", Name: "PP", Domains: []string{"polizei.example"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open()
	defer s.Close()
	o, err := s.OrgByDomain(ctx, "polizei.example")
	if err != nil || o.ID != "org-1" {
		t.Fatalf("after reopen: %+v, %v", o, err)
	}
	var n int
	if err := s.DB().QueryRow(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE component = ?`, sqldb.CoreComponent).Scan(&n); err != nil {
		t.Fatal(err)
	}
	fsys, err := sqldb.CoreMigrations(s.DB().Dialect)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := sqldb.LoadMigrations(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(ms) || n == 0 {
		t.Errorf("%d migrations recorded, want %d", n, len(ms))
	}
}
