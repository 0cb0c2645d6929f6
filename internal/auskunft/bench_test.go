package auskunft

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wache/wache/internal/auskunft/synth"
	"github.com/wache/wache/internal/store/dbtest"
	"github.com/wache/wache/internal/store/postgres"
	"github.com/wache/wache/internal/store/sqldb"
	"github.com/wache/wache/internal/store/sqlite"
)

// Benchmark data: WACHE_BENCH_PERSONS generated persons (default 100,000)
// with their vehicles, documents and alerts (about 3.5 records a person).
// WACHE_BENCH_KEEP=1 keeps the databases (SQLite file in WACHE_BENCH_DIR,
// default the temp dir; PostgreSQL schema auskunft_bench_N) and reuses
// them on the next run, skipping the import.
//
//	WACHE_BENCH_PERSONS=10000000 WACHE_BENCH_KEEP=1 \
//	  go test -run XXX -bench Auskunft -benchtime 2000x -timeout 6h ./internal/auskunft/
func benchPersons() int {
	if n, err := strconv.Atoi(os.Getenv("WACHE_BENCH_PERSONS")); err == nil && n > 0 {
		return n
	}
	return 100000
}

var benchToday = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

// samples are records picked from the generated data for lookups.
type samples struct {
	persons  []*synth.Person
	vehicles []*synth.Vehicle
	docs     []*synth.Document
}

const sampleEvery = 997 // a prime, so samples spread over record shapes

func (s *samples) take(i int, rec any) {
	if i%sampleEvery != 0 {
		return
	}
	switch r := rec.(type) {
	case *synth.Person:
		if len(s.persons) < 5000 {
			s.persons = append(s.persons, r)
		}
	case *synth.Vehicle:
		if len(s.vehicles) < 5000 {
			s.vehicles = append(s.vehicles, r)
		}
	case *synth.Document:
		if len(s.docs) < 5000 {
			s.docs = append(s.docs, r)
		}
	}
}

func benchDB(b *testing.B, name string, n int) *sqldb.DB {
	keep := os.Getenv("WACHE_BENCH_KEEP") == "1"
	ctx := context.Background()
	switch name {
	case "sqlite":
		if !keep {
			return dbtest.SQLite(b)
		}
		dir := os.Getenv("WACHE_BENCH_DIR")
		if dir == "" {
			dir = os.TempDir()
		}
		db, err := sqlite.Open(ctx, filepath.Join(dir, fmt.Sprintf("auskunft-bench-%d.db", n)))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		return db
	default:
		if !keep {
			db, _ := dbtest.Postgres(b)
			return db
		}
		admin, err := postgres.Open(ctx, dbtest.PostgresURL())
		if err != nil {
			b.Skipf("PostgreSQL: %v", err)
		}
		schema := fmt.Sprintf("auskunft_bench_%d", n)
		if _, err := admin.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+schema); err != nil {
			b.Fatal(err)
		}
		admin.Close()
		u, _ := url.Parse(dbtest.PostgresURL())
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		db, err := postgres.Open(ctx, u.String())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		return db
	}
}

func BenchmarkAuskunft(b *testing.B) {
	n := benchPersons()
	for _, dbName := range []string{"sqlite", "postgres"} {
		b.Run(dbName, func(b *testing.B) {
			ctx := context.Background()
			db := benchDB(b, dbName, n)
			e := newEnv(b, db, Config{Limits: Limits{Rate: 1e9, Burst: 1 << 30, FlagPerHour: 1 << 30}})
			opts := synth.Options{Persons: n, Seed: 1, Today: benchToday}
			smp := &samples{}
			counts, _ := e.store.Counts(ctx)
			var once sync.Once
			var imported *ImportStats
			b.Run("import", func(b *testing.B) {
				defer func() {
					if st := imported; st != nil {
						b.ReportMetric(st.RecordsPerSecond(), "records/s")
						b.ReportMetric(float64(st.Persons)/st.Elapsed.Seconds(), "persons/s")
						b.ReportMetric(st.Elapsed.Seconds(), "import-s")
					}
				}()
				once.Do(func() {
					if counts[KindPerson] == int64(n) {
						b.Logf("reusing %d persons", n)
						i := 0
						synth.Each(opts, func(rec any) error { smp.take(i, rec); i++; return nil })
						return
					}
					pr, pw := io.Pipe()
					go func() {
						bw := bufio.NewWriterSize(pw, 1<<20)
						enc := json.NewEncoder(bw)
						enc.SetEscapeHTML(false)
						i := 0
						_, err := synth.Each(opts, func(rec any) error { smp.take(i, rec); i++; return enc.Encode(rec) })
						if err == nil {
							err = bw.Flush()
						}
						pw.CloseWithError(err)
					}()
					last := time.Now()
					st, err := e.svc.Import(ctx, admin, pr, ImportOptions{Source: "synth", Progress: func(s ImportStats) {
						if time.Since(last) > time.Minute {
							last = time.Now()
							b.Logf("%d records, %.0f/s", s.Applied, s.RecordsPerSecond())
						}
					}})
					if err != nil || st.Errors != 0 {
						b.Fatalf("import: %v %+v", err, st.LineErrors)
					}
					imported = st
					b.Logf("imported %d records (%d persons) in %s", st.Applied, st.Persons, st.Elapsed.Round(time.Second))
				})
			})
			if len(smp.persons) == 0 {
				b.Fatal("no samples")
			}
			lookup := func(name string, mk func(i int) Query, full bool) {
				b.Run(name, func(b *testing.B) {
					lat := make([]time.Duration, 0, b.N)
					b.ResetTimer()
					for i := range b.N {
						q := mk(i)
						q.Purpose = purpose
						t0 := time.Now()
						var err error
						if full {
							_, err = e.svc.Query(ctx, dispatcher, q)
						} else {
							if err = validateQuery(&q); err == nil {
								_, err = e.store.Search(ctx, q)
							}
						}
						lat = append(lat, time.Since(t0))
						if err != nil {
							b.Fatal(err)
						}
					}
					b.StopTimer()
					slices.Sort(lat)
					ms := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / 1e6 }
					b.ReportMetric(ms(0.50), "p50-ms")
					b.ReportMetric(ms(0.99), "p99-ms")
				})
			}
			plate := func(i int) Query {
				v := smp.vehicles[i%len(smp.vehicles)]
				text := v.Plate
				if i%2 == 1 { // typed without separators, lower case
					text = strings.ToLower(strings.NewReplacer("-", "", " ", "").Replace(text))
				}
				return Query{Kind: QueryPlate, Text: text}
			}
			person := func(i int) Query {
				p := smp.persons[i%len(smp.persons)]
				sp := spellings[i%len(spellings)]
				return Query{Kind: QueryPerson, Surname: sp.fn(p.Surname), Given: strings.Fields(p.GivenNames)[0], DOB: p.DOB}
			}
			lookup("plate", plate, false)
			lookup("vin", func(i int) Query {
				return Query{Kind: QueryVIN, Text: smp.vehicles[i%len(smp.vehicles)].VIN}
			}, false)
			lookup("document", func(i int) Query {
				return Query{Kind: QueryDocument, Text: smp.docs[i%len(smp.docs)].Number}
			}, false)
			lookup("person", person, false)
			lookup("person-nodob", func(i int) Query {
				q := person(i)
				q.DOB = ""
				return q
			}, false)
			// End to end: validation, rate limit, search, result, audit append.
			lookup("plate-audited", plate, true)
			lookup("person-audited", person, true)
		})
	}
}
