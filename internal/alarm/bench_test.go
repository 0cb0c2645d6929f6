package alarm

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
	"github.com/wache/wache/internal/accounts"
	"github.com/wache/wache/internal/relay"
	"github.com/wache/wache/internal/store/sqldb"
)

// Acknowledgement bookkeeping in a 10,000-member channel: time per
// acknowledgement (one transaction: the user's receipt row and the
// counter row) and bytes stored per acknowledgement (receipt table and
// index, measured by the database), on SQLite and PostgreSQL.
//
//	go test -run=NONE -bench=Ack10k -benchtime=2000x ./internal/alarm/

const benchMembers = 10000

// bigChannel creates a channel with benchMembers members (bulk SQL: the
// store's one-at-a-time user creation would take minutes) and returns the
// sender and the members.
func bigChannel(b *testing.B, f *fixture) (person, *wache.Conversation, []*wache.User) {
	b.Helper()
	sender := f.person("sender", f.unit)
	conv := &wache.Conversation{ID: accounts.NewID(), OrgID: f.org, Kind: wache.ConvChannel, Name: "big", CreatedBy: sender.u.ID, CreatedAt: time.Now().UTC()}
	must(b, f.st.CreateConversation(f.ctx, conv, []wache.Member{{ConvID: conv.ID, UserID: sender.u.ID, Role: wache.MemberAdmin, JoinedAt: time.Now().UTC()}}))
	users := make([]*wache.User, benchMembers)
	now := time.Now().UnixMilli()
	must(b, f.db.InTx(f.ctx, func(tx *sqldb.Tx) error {
		for start := 0; start < benchMembers; start += 500 {
			var uargs, margs []any
			var urows, mrows []string
			for i := start; i < min(start+500, benchMembers); i++ {
				u := &wache.User{ID: accounts.NewID(), OrgID: f.org, UnitID: f.unit, Email: fmt.Sprintf("m%05d@t.example", i), DisplayName: fmt.Sprintf("Member %d", i)}
				users[i] = u
				urows = append(urows, "(?, ?, ?, ?, ?, ?, ?, ?)")
				uargs = append(uargs, u.ID, u.OrgID, u.UnitID, u.Email, u.DisplayName, strings.ToLower(u.DisplayName), "officer", now)
				mrows = append(mrows, "(?, ?, ?, ?, ?)")
				margs = append(margs, conv.ID, u.ID, "member", 0, now)
			}
			if _, err := tx.Exec(f.ctx, `INSERT INTO users (id, org_id, unit_id, email, display_name, search_name, roles, created_at) VALUES `+strings.Join(urows, ","), uargs...); err != nil {
				return err
			}
			if _, err := tx.Exec(f.ctx, `INSERT INTO members (conv_id, user_id, role, from_seq, joined_at) VALUES `+strings.Join(mrows, ","), margs...); err != nil {
				return err
			}
		}
		return nil
	}))
	return sender, conv, users
}

// receiptBytes is the storage of the receipts table with its index.
func receiptBytes(b *testing.B, f *fixture) int64 {
	b.Helper()
	var n int64
	if f.db.Dialect.Postgres() {
		must(b, f.db.QueryRow(f.ctx, `SELECT pg_total_relation_size('receipts')`).Scan(&n))
		return n
	}
	// SQLite: the pages of the table and its primary-key index (dbstat).
	err := f.db.QueryRow(f.ctx, `SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name IN ('receipts', 'sqlite_autoindex_receipts_1')`).Scan(&n)
	if err != nil {
		b.Skipf("dbstat unavailable: %v", err)
	}
	return n
}

func BenchmarkAck10k(b *testing.B) {
	for _, be := range backends() {
		b.Run(be.name, func(b *testing.B) {
			f := newFixture(b, be.open(b))
			f.svc.audit = nil // bookkeeping only
			sender, conv, users := bigChannel(b, f)
			post := func(i int) int64 {
				res, err := f.svc.relay.Post(f.ctx, sender.u, sender.d, conv.ID, relayMsg(fmt.Sprint("bench-", i)))
				must(b, err)
				return res.Seq
			}
			seq := post(0)
			var req api.Receipts
			before := receiptBytes(b, f)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if i > 0 && i%benchMembers == 0 {
					b.StopTimer()
					seq = post(i)
					b.StartTimer()
				}
				if err := f.svc.Receipt(f.ctx, users[i%benchMembers], conv.ID, seq, api.ReceiptAcknowledged); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			after := receiptBytes(b, f)
			b.ReportMetric(float64(after-before)/float64(b.N), "bytes/ack")
			// The summary stays one row read however many acknowledged.
			r, err := f.svc.Receipts(f.ctx, sender.u, conv.ID, seq, true, 1, "")
			must(b, err)
			req = *r
			if req.Recipients != benchMembers || req.Acknowledged != min(b.N-(b.N-1)/benchMembers*benchMembers, benchMembers) {
				b.Fatalf("counts %d/%d after %d acks", req.Acknowledged, req.Recipients, b.N)
			}
		})
	}
}

// BenchmarkReceiptSummary10k: reading the counts and the first page of
// pending members of a 10,000-member request.
func BenchmarkReceiptSummary10k(b *testing.B) {
	for _, be := range backends() {
		b.Run(be.name, func(b *testing.B) {
			f := newFixture(b, be.open(b))
			sender, conv, users := bigChannel(b, f)
			res, err := f.svc.relay.Post(f.ctx, sender.u, sender.d, conv.ID, relayMsg("summary"))
			must(b, err)
			for _, u := range users[:100] {
				must(b, f.svc.Receipt(f.ctx, u, conv.ID, res.Seq, api.ReceiptAcknowledged))
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := f.svc.Receipts(f.ctx, sender.u, conv.ID, res.Seq, true, 0, ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func relayMsg(clientID string) relay.Message {
	return relay.Message{ClientID: clientID, Payload: []byte("ciphertext"), Priority: relay.PriorityUrgent, AckRequired: true}
}
