package push_test

import (
	"context"
	"sync"
	"testing"

	"github.com/wache/wache/internal/push"
	"github.com/wache/wache/internal/store/dbtest"
	"github.com/wache/wache/internal/store/sqldb"
)

// TestVAPIDKeyShared: nodes starting at the same time on one database agree
// on one key pair, and a restart keeps it.
func TestVAPIDKeyShared(t *testing.T) {
	for _, c := range []struct {
		name string
		open func(testing.TB) *sqldb.DB
	}{
		{"sqlite", dbtest.SQLite},
		{"postgres", func(t testing.TB) *sqldb.DB { db, _ := dbtest.Postgres(t); return db }},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			db := c.open(t)
			if _, err := sqldb.NewStore(ctx, db); err != nil { // core schema (devices)
				t.Fatal(err)
			}
			const nodes = 4
			keys := make([]string, nodes)
			errs := make([]error, nodes)
			var wg sync.WaitGroup
			for i := range nodes {
				wg.Add(1)
				go func() {
					defer wg.Done()
					s, err := push.Open(ctx, db, push.Options{Subject: "mailto:ops@polizei.example"})
					if err != nil {
						errs[i] = err
						return
					}
					keys[i] = s.PublicKey()
					s.Close()
				}()
			}
			wg.Wait()
			for i := range nodes {
				if errs[i] != nil {
					t.Fatalf("node %d: %v", i, errs[i])
				}
				if keys[i] != keys[0] || len(keys[i]) != 87 {
					t.Fatalf("node %d key %q, node 0 key %q", i, keys[i], keys[0])
				}
			}
			s, err := push.Open(ctx, db, push.Options{Subject: "https://wache.polizei.example"})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.PublicKey() != keys[0] {
				t.Fatal("restart changed the VAPID key")
			}
			// A corrupted key row stops the start instead of signing garbage.
			if _, err := db.Exec(ctx, `UPDATE push_vapid SET public_key = 'AAAA'`); err != nil {
				t.Fatal(err)
			}
			if _, err := push.Open(ctx, db, push.Options{Subject: "mailto:ops@polizei.example"}); err == nil {
				t.Fatal("opened with a mismatching key pair")
			}
			for _, bad := range []string{"", "ops@polizei.example", "mailto:", "http://wache.example"} {
				if _, err := push.Open(ctx, db, push.Options{Subject: bad}); err == nil {
					t.Errorf("subject %q accepted", bad)
				}
			}
		})
	}
}
