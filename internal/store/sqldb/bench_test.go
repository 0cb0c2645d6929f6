package sqldb_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/wache/wache"
	"github.com/wache/wache/internal/store/dbtest"
	"github.com/wache/wache/internal/store/sqldb"
)

const benchConvs = 16

// benchSetup creates one org, one user with one device, and benchConvs
// conversations.
func benchSetup(b *testing.B, db *sqldb.DB) (*sqldb.Store, *wache.Device, []string) {
	b.Helper()
	ctx := context.Background()
	s := newStore(b, db)
	if err := s.CreateOrg(ctx, &wache.Org{ID: "org", Name: "PP"}); err != nil {
		b.Fatal(err)
	}
	u := &wache.User{ID: "u", OrgID: "org", Email: "u@polizei.example"}
	if err := s.CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	d := &wache.Device{ID: "d", UserID: "u", SigningKey: make([]byte, 32)}
	if err := s.CreateDevice(ctx, d, []byte("token")); err != nil {
		b.Fatal(err)
	}
	convs := make([]string, benchConvs)
	for i := range convs {
		convs[i] = fmt.Sprintf("c%02d", i)
		if err := s.CreateConversation(ctx, &wache.Conversation{ID: convs[i], OrgID: "org", Kind: wache.ConvGroup},
			[]wache.Member{{UserID: "u", Role: wache.MemberAdmin}}); err != nil {
			b.Fatal(err)
		}
	}
	return s, d, convs
}

func benchDBs(b *testing.B, fn func(b *testing.B, db func(b *testing.B) *sqldb.DB)) {
	// Keep migration logs out of the benchmark output.
	old := slog.Default()
	slog.SetDefault(slog.New(slog.DiscardHandler))
	b.Cleanup(func() { slog.SetDefault(old) })
	b.Run("sqlite", func(b *testing.B) { fn(b, func(b *testing.B) *sqldb.DB { return dbtest.SQLite(b) }) })
	b.Run("postgres", func(b *testing.B) {
		fn(b, func(b *testing.B) *sqldb.DB { db, _ := dbtest.Postgres(b); return db })
	})
}

// BenchmarkAppendEnvelopes measures group commit: one AppendEnvelopes call
// (one transaction) per batch of 1 KiB envelopes spread over 16
// conversations; "callers4" runs four callers at once (on the same 16
// conversations, so on PostgreSQL they queue on the same row locks).
func BenchmarkAppendEnvelopes(b *testing.B) {
	payload := bytes.Repeat([]byte{0xA5}, 1024)
	benchDBs(b, func(b *testing.B, open func(b *testing.B) *sqldb.DB) {
		for _, par := range []int{1, 4} {
			for _, size := range []int{1, 16, 128} {
				if par > 1 && size != 16 {
					continue
				}
				b.Run(fmt.Sprintf("batch%d/callers%d", size, par), func(b *testing.B) {
					s, d, convs := benchSetup(b, open(b))
					ctx := context.Background()
					var next atomic.Int64
					b.SetParallelism(1)
					b.ResetTimer()
					run := func() {
						batch := make([]*wache.Envelope, size)
						for i := range batch {
							n := next.Add(1)
							batch[i] = &wache.Envelope{ConvID: convs[n%benchConvs], SenderID: "u", SenderDevice: d.ID,
								ClientID: fmt.Sprint(n), Payload: payload}
						}
						res, err := s.AppendEnvelopes(ctx, batch)
						if err != nil {
							b.Error(err)
							return
						}
						for _, r := range res {
							if r.Err != nil {
								b.Error(r.Err)
								return
							}
						}
					}
					if par == 1 {
						for b.Loop() {
							run()
						}
					} else {
						b.SetParallelism(max(1, par/runtime.GOMAXPROCS(0))) // × GOMAXPROCS goroutines
						b.RunParallel(func(pb *testing.PB) {
							for pb.Next() {
								run()
							}
						})
					}
					b.ReportMetric(float64(next.Load())/b.Elapsed().Seconds(), "envelopes/s")
				})
			}
		}
	})
}

// BenchmarkEnvelopes reads pages of 100 envelopes (1 KiB each) from random
// positions of a conversation holding 10,000.
func BenchmarkEnvelopes(b *testing.B) {
	const total, page = 10000, 100
	payload := bytes.Repeat([]byte{0x5A}, 1024)
	benchDBs(b, func(b *testing.B, open func(b *testing.B) *sqldb.DB) {
		s, d, convs := benchSetup(b, open(b))
		ctx := context.Background()
		for i := 0; i < total; i += sqldb.MaxAppendBatch {
			var batch []*wache.Envelope
			for j := i; j < min(total, i+sqldb.MaxAppendBatch); j++ {
				batch = append(batch, &wache.Envelope{ConvID: convs[0], SenderID: "u", SenderDevice: d.ID,
					ClientID: fmt.Sprint(j), Payload: payload})
			}
			if _, err := s.AppendEnvelopes(ctx, batch); err != nil {
				b.Fatal(err)
			}
		}
		var read int64
		b.ResetTimer()
		for b.Loop() {
			es, err := s.Envelopes(ctx, convs[0], rand.Int64N(total-page), page)
			if err != nil || len(es) != page {
				b.Fatalf("%d envelopes, %v", len(es), err)
			}
			read += int64(len(es))
		}
		b.ReportMetric(float64(read)/b.Elapsed().Seconds(), "envelopes/s")
	})
}
