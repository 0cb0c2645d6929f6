// Package dbtest opens real, throw-away databases for tests: a SQLite file
// in the test's temp dir, and a private schema in the PostgreSQL server
// named by WACHE_TEST_POSTGRES (default: the local server, database test).
//
// Without a reachable PostgreSQL, Postgres skips the test with a clear
// message; with WACHE_TEST_POSTGRES_REQUIRED=1 (set by CI) it fails instead.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wache/wache/internal/store/postgres"
	"github.com/wache/wache/internal/store/sqldb"
	"github.com/wache/wache/internal/store/sqlite"
)

// DefaultPostgres is used when WACHE_TEST_POSTGRES is unset.
const DefaultPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// PostgresURL returns the base URL of the test server.
func PostgresURL() string {
	if u := os.Getenv("WACHE_TEST_POSTGRES"); u != "" {
		return u
	}
	return DefaultPostgres
}

// SQLite opens a fresh SQLite database for the test.
func SQLite(t testing.TB) *sqldb.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "wache.db"))
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Postgres opens a fresh schema in the test PostgreSQL server and drops it
// when the test ends. It returns the DB and its connection URL (for tests
// that start a server process on the same schema).
func Postgres(t testing.TB) (*sqldb.DB, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	base := PostgresURL()
	admin, err := postgres.Open(ctx, base)
	if err != nil {
		if os.Getenv("WACHE_TEST_POSTGRES_REQUIRED") == "1" {
			t.Fatalf("PostgreSQL required but unreachable at %s: %v", base, err)
		}
		t.Skipf("PostgreSQL not reachable at %s (set WACHE_TEST_POSTGRES): %v", base, err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "wache_test_" + hex.EncodeToString(b)
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", base, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db, err := postgres.Open(ctx, u.String())
	if err != nil {
		t.Fatalf("open schema: %v", err)
	}
	t.Cleanup(func() {
		db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Logf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	return db, u.String()
}
