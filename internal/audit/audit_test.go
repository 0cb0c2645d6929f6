package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/internal/store/dbtest"
	"github.com/wache/wache/internal/store/sqldb"
)

var auditor = Caller{UserID: "u-aud", DeviceID: "d-aud", OrgID: "o1", Roles: []wache.Role{wache.RoleAuditor}}

// eachDB runs fn against a fresh SQLite and a fresh PostgreSQL database.
func eachDB(t *testing.T, fn func(t *testing.T, db *sqldb.DB)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, dbtest.SQLite(t)) })
	t.Run("postgres", func(t *testing.T) {
		db, _ := dbtest.Postgres(t)
		fn(t, db)
	})
}

func openLog(t *testing.T, db *sqldb.DB, opts Options) *Log {
	t.Helper()
	l, err := Open(context.Background(), db, opts)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func appendN(t *testing.T, l *Log, n int) []Entry {
	t.Helper()
	var out []Entry
	for i := range n {
		e, err := l.Append(context.Background(), Event{
			Action: "auskunft.query", Actor: fmt.Sprintf("u%d", i%3), Device: "d1", Org: "o1",
			Purpose:  "Verkehrskontrolle B 96 Höhe km 12",
			Criteria: map[string]any{"kind": "plate", "text": fmt.Sprintf("B-AB %d", i), "html": "<&>"},
			Result:   "no_hit",
		})
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		out = append(out, e)
	}
	return out
}

func verify(t *testing.T, l *Log) Report {
	t.Helper()
	rep, err := l.verify(context.Background())
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return rep
}

func TestAppendChains(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		l := openLog(t, db, Options{})
		es := appendN(t, l, 5)
		for i, e := range es {
			if e.Seq != int64(i+1) {
				t.Errorf("entry %d: seq %d", i, e.Seq)
			}
			if i == 0 && e.PrevHash != ZeroHash {
				t.Errorf("first prev_hash %s", e.PrevHash)
			}
			if i > 0 && e.PrevHash != es[i-1].Hash {
				t.Errorf("entry %d not linked", i)
			}
		}
		if got := string(es[0].Criteria); got != `{"html":"<&>","kind":"plate","text":"B-AB 0"}` {
			t.Errorf("criteria not canonical: %s", got)
		}
		rep := verify(t, l)
		if !rep.OK || rep.Entries != 5 || rep.LastSeq != 5 || rep.HeadHash != es[4].Hash {
			t.Errorf("report %+v", rep)
		}
		seq, h, err := l.Head(context.Background())
		if err != nil || seq != 5 || h != es[4].Hash {
			t.Errorf("head %d %s %v", seq, h, err)
		}
	})
}

func TestConcurrentAppendsFromTwoNodes(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		// Two Logs on one database stand for two server nodes.
		a := openLog(t, db, Options{})
		b := openLog(t, db, Options{MaxBatch: 7})
		var wg sync.WaitGroup
		errs := make(chan error, 400)
		for g := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				l := a
				if g%2 == 1 {
					l = b
				}
				for i := range 20 {
					_, err := l.Append(context.Background(), Event{Action: "admin.user_create", Actor: fmt.Sprintf("g%d", g),
						Criteria: map[string]any{"i": i}, Result: "ok"})
					if err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		rep := verify(t, a)
		if !rep.OK || rep.Entries != 400 || rep.LastSeq != 400 {
			t.Fatalf("report %+v", rep)
		}
	})
}

func TestVerifyDetectsTampering(t *testing.T) {
	ctx := context.Background()
	flip := func(db *sqldb.DB, seq int, col string) error {
		var v string
		if err := db.QueryRow(ctx, `SELECT `+col+` FROM audit_log WHERE seq = ?`, seq).Scan(&v); err != nil {
			return err
		}
		b := []byte(v)
		b[len(b)/2] ^= 0x01 // one changed bit in one byte
		_, err := db.Exec(ctx, `UPDATE audit_log SET `+col+` = ? WHERE seq = ?`, string(b), seq)
		return err
	}
	cases := []struct {
		name    string
		tamper  func(db *sqldb.DB) error
		seq     int64
		message string
	}{
		{"changed byte in purpose", func(db *sqldb.DB) error { return flip(db, 5, "purpose") }, 5, "content does not match"},
		{"changed byte in criteria", func(db *sqldb.DB) error { return flip(db, 3, "criteria") }, 3, "content does not match"},
		{"changed byte in actor", func(db *sqldb.DB) error { return flip(db, 1, "actor") }, 1, "content does not match"},
		{"changed byte in hash", func(db *sqldb.DB) error { return flip(db, 6, "hash") }, 6, "content does not match"},
		{"changed byte in prev_hash", func(db *sqldb.DB) error { return flip(db, 7, "prev_hash") }, 7, "prev_hash"},
		{"changed time", func(db *sqldb.DB) error {
			_, err := db.Exec(ctx, `UPDATE audit_log SET at_us = at_us + 1 WHERE seq = 2`)
			return err
		}, 2, "content does not match"},
		{"deleted row", func(db *sqldb.DB) error {
			_, err := db.Exec(ctx, `DELETE FROM audit_log WHERE seq = 4`)
			return err
		}, 4, "missing"},
		{"deleted first row", func(db *sqldb.DB) error {
			_, err := db.Exec(ctx, `DELETE FROM audit_log WHERE seq = 1`)
			return err
		}, 1, "missing"},
		{"deleted last row", func(db *sqldb.DB) error {
			_, err := db.Exec(ctx, `DELETE FROM audit_log WHERE seq = 8`)
			return err
		}, 8, "truncated"},
		{"reordered pair", func(db *sqldb.DB) error {
			for _, q := range []string{
				`UPDATE audit_log SET seq = -1 WHERE seq = 4`,
				`UPDATE audit_log SET seq = 4 WHERE seq = 5`,
				`UPDATE audit_log SET seq = 5 WHERE seq = -1`,
			} {
				if _, err := db.Exec(ctx, q); err != nil {
					return err
				}
			}
			return nil
		}, 4, "prev_hash"},
		{"inserted row", func(db *sqldb.DB) error {
			_, err := db.Exec(ctx, `INSERT INTO audit_log (seq, at_us, action, actor, device, org, purpose, criteria, result, prev_hash, hash)
				SELECT 9, at_us, action, actor, device, org, purpose, criteria, result, hash, hash FROM audit_log WHERE seq = 8`)
			return err
		}, 9, "content does not match"},
		{"forged anchor", func(db *sqldb.DB) error {
			if _, err := db.Exec(ctx, `UPDATE audit_state SET anchor_seq = 2, anchor_hash = (SELECT hash FROM audit_log WHERE seq = 2)`); err != nil {
				return err
			}
			_, err := db.Exec(ctx, `DELETE FROM audit_log WHERE seq <= 2`)
			return err
		}, 2, "not authorised"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			eachDB(t, func(t *testing.T, db *sqldb.DB) {
				l := openLog(t, db, Options{})
				appendN(t, l, 8)
				if rep := verify(t, l); !rep.OK {
					t.Fatalf("intact chain reported broken: %+v", rep.Broken)
				}
				if err := tc.tamper(db); err != nil {
					t.Fatalf("tamper: %v", err)
				}
				rep := verify(t, l)
				if rep.OK || rep.Broken == nil {
					t.Fatalf("tampering not detected: %+v", rep)
				}
				if rep.Broken.Seq != tc.seq || !strings.Contains(rep.Broken.Reason, tc.message) {
					t.Errorf("broken = %v, want entry %d (%s)", rep.Broken, tc.seq, tc.message)
				}
			})
		})
	}
}

func TestRolesAndLoggingOfAuditorActions(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		l := openLog(t, db, Options{})
		appendN(t, l, 3)
		for _, roles := range [][]wache.Role{nil, {wache.RoleOfficer}, {wache.RoleAdmin, wache.RoleDispatcher}} {
			c := Caller{UserID: "x", Roles: roles}
			if _, err := l.List(ctx, c, Filter{}); wache.ErrorCode(err) != wache.EFORBIDDEN {
				t.Errorf("List by %v: %v", roles, err)
			}
			if _, err := l.Export(ctx, c, time.Time{}, time.Time{}, &bytes.Buffer{}); wache.ErrorCode(err) != wache.EFORBIDDEN {
				t.Errorf("Export by %v: %v", roles, err)
			}
			if _, err := l.Verify(ctx, c); wache.ErrorCode(err) != wache.EFORBIDDEN {
				t.Errorf("Verify by %v: %v", roles, err)
			}
		}
		rep, err := l.Verify(ctx, auditor)
		if err != nil || !rep.OK {
			t.Fatalf("verify: %+v %v", rep, err)
		}
		es, err := l.List(ctx, auditor, Filter{Action: ActionVerify})
		if err != nil || len(es) != 1 || es[0].Actor != "u-aud" || es[0].Result != "intact" {
			t.Fatalf("verify not logged: %+v %v", es, err)
		}
		es, err = l.List(ctx, auditor, Filter{Actor: "u1"})
		if err != nil || len(es) != 1 || es[0].Seq != 2 {
			t.Fatalf("list by actor: %+v %v", es, err)
		}
		if _, err := l.List(ctx, auditor, Filter{Limit: 5000}); wache.ErrorCode(err) != wache.EINVALID {
			t.Errorf("limit 5000: %v", err)
		}
	})
}

func TestExportVerifiesOffline(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		clock := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
		l := openLog(t, db, Options{Now: func() time.Time { clock = clock.Add(time.Minute); return clock }})
		appendN(t, l, 10)
		var buf bytes.Buffer
		from := time.Date(2026, 3, 1, 10, 3, 0, 0, time.UTC) // entries 3..7
		to := time.Date(2026, 3, 1, 10, 8, 0, 0, time.UTC)
		n, err := l.Export(ctx, auditor, from, to, &buf)
		if err != nil || n != 5 {
			t.Fatalf("export: %d %v", n, err)
		}
		rep, err := VerifyExport(bytes.NewReader(buf.Bytes()))
		if err != nil || !rep.OK || rep.FirstSeq != 3 || rep.LastSeq != 7 {
			t.Fatalf("verify export: %+v %v", rep, err)
		}
		lines := strings.SplitAfter(strings.TrimSpace(buf.String()), "\n")
		tampered := []struct {
			name string
			text string
			seq  int64
		}{
			{"changed purpose", strings.Replace(buf.String(), "Höhe km 12", "Höhe km 13", 1), 3},
			{"line removed", lines[0] + lines[1] + lines[3] + lines[4], 5},
			{"lines swapped", lines[0] + lines[2] + lines[1] + lines[3] + lines[4], 4},
		}
		for _, tc := range tampered {
			rep, err := VerifyExport(strings.NewReader(tc.text))
			if err != nil || rep.OK || rep.Broken == nil || rep.Broken.Seq != tc.seq {
				t.Errorf("%s: %+v %v", tc.name, rep.Broken, err)
			}
		}
		if _, err := VerifyExport(strings.NewReader(`{"seq":1,"bogus":true}` + "\n")); wache.ErrorCode(err) != wache.EINVALID {
			t.Errorf("unknown field: %v", err)
		}
		if _, err := VerifyExport(strings.NewReader(strings.Repeat("x", maxExportLine+10))); wache.ErrorCode(err) != wache.EINVALID {
			t.Errorf("long line: %v", err)
		}
		if _, err := l.Export(ctx, auditor, to, from, &buf); wache.ErrorCode(err) != wache.EINVALID {
			t.Errorf("reversed range: %v", err)
		}
	})
}

func TestRetentionKeepsChainVerifiable(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		berlin, _ := time.LoadLocation("Europe/Berlin")
		var clock time.Time
		l := openLog(t, db, Options{Now: func() time.Time { return clock }, Location: berlin})
		at := func(y int, m time.Month, d, h int) { clock = time.Date(y, m, d, h, 0, 0, 0, berlin) }
		at(2024, 5, 1, 12)
		appendN(t, l, 3) // 1..3 in 2024
		at(2024, 12, 31, 23)
		appendN(t, l, 1) // 4: last hour of 2024 in Berlin (UTC 22:00)
		at(2025, 1, 1, 0)
		appendN(t, l, 2) // 5..6 in 2025
		at(2025, 12, 31, 12)
		if n, err := l.Retain(ctx); err != nil || n != 0 {
			t.Fatalf("retain in 2025 deleted %d (%v): 2024 is kept to the end of 2025", n, err)
		}
		at(2026, 1, 1, 0)
		n, err := l.Retain(ctx)
		if err != nil || n != 4 {
			t.Fatalf("retain in 2026: %d %v", n, err)
		}
		rep := verify(t, l)
		if !rep.OK || rep.AnchorSeq != 4 || rep.FirstSeq != 5 || rep.LastSeq != 7 {
			t.Fatalf("after retention: %+v %v", rep, rep.Broken)
		}
		es, err := l.List(ctx, auditor, Filter{Action: ActionRetention})
		if err != nil || len(es) != 1 {
			t.Fatalf("retention entry: %v %v", es, err)
		}
		var crit map[string]any
		json.Unmarshal(es[0].Criteria, &crit)
		if crit["cutoff"] != "2025-01-01" || crit["through_seq"] != float64(4) {
			t.Errorf("retention criteria %s", es[0].Criteria)
		}
		if n, err := l.Retain(ctx); err != nil || n != 0 {
			t.Errorf("second retain: %d %v", n, err)
		}
		appendN(t, l, 2)
		if rep := verify(t, l); !rep.OK {
			t.Fatalf("after more appends: %v", rep.Broken)
		}
		// Deleting beyond the authorised prefix is detected.
		db.Exec(ctx, `DELETE FROM audit_log WHERE seq = 5`)
		db.Exec(ctx, `UPDATE audit_state SET anchor_seq = 5, anchor_hash = (SELECT prev_hash FROM audit_log WHERE seq = 6)`)
		rep = verify(t, l)
		if rep.OK || rep.Broken.Seq != 5 || !strings.Contains(rep.Broken.Reason, "not authorised") {
			t.Errorf("unauthorised deletion: %+v", rep.Broken)
		}
	})
}

func TestAppendRejectsBadEvents(t *testing.T) {
	db := dbtest.SQLite(t)
	l := openLog(t, db, Options{})
	ok := Event{Action: "auskunft.query", Actor: "u1", Result: "hit"}
	cases := []struct {
		name string
		edit func(e *Event)
		code string
	}{
		{"no action", func(e *Event) { e.Action = "" }, wache.EINVALID},
		{"bad action", func(e *Event) { e.Action = "DROP TABLE" }, wache.EINVALID},
		{"no actor", func(e *Event) { e.Actor = "" }, wache.EINVALID},
		{"criteria array", func(e *Event) { e.Criteria = []int{1} }, wache.EINVALID},
		{"criteria raw garbage", func(e *Event) { e.Criteria = json.RawMessage(`{"a":`) }, wache.EINVALID},
		{"criteria two objects", func(e *Event) { e.Criteria = json.RawMessage(`{}{}`) }, wache.EINVALID},
		{"criteria too large", func(e *Event) { e.Criteria = map[string]string{"x": strings.Repeat("a", MaxCriteriaLen)} }, wache.ETOOLARGE},
		{"purpose too long", func(e *Event) { e.Purpose = strings.Repeat("ä", MaxPurposeLen+1) }, wache.EINVALID},
		{"invalid utf-8", func(e *Event) { e.Purpose = "\xff" }, wache.EINVALID},
		{"actor too long", func(e *Event) { e.Actor = strings.Repeat("u", MaxIDLen+1) }, wache.EINVALID},
	}
	for _, tc := range cases {
		e := ok
		tc.edit(&e)
		if _, err := l.Append(context.Background(), e); wache.ErrorCode(err) != tc.code {
			t.Errorf("%s: got %v, want %s", tc.name, err, tc.code)
		}
	}
	if seq, _, _ := l.Head(context.Background()); seq != 0 {
		t.Errorf("a refused event was stored: head %d", seq)
	}
	l.Close()
	if _, err := l.Append(context.Background(), ok); wache.ErrorCode(err) != wache.EUNAVAILABLE {
		t.Errorf("append after close: %v", err)
	}
}

func FuzzVerifyExport(f *testing.F) {
	e := Entry{Seq: 1, At: time.UnixMicro(1700000000000000).UTC(), Action: "a", Actor: "u", Criteria: json.RawMessage(`{}`), PrevHash: ZeroHash}
	e.Hash, _ = e.ComputeHash()
	b, _ := json.Marshal(&e)
	f.Add(b)
	f.Add([]byte(`{"seq":1}` + "\n" + `{"seq":3}`))
	f.Add([]byte("\n\n{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := VerifyExport(bytes.NewReader(data))
		if err == nil && rep.OK && rep.Entries > 0 && rep.HeadHash == "" {
			t.Fatal("ok report without head hash")
		}
	})
}

func TestCloseWhileAppending(t *testing.T) {
	db := dbtest.SQLite(t)
	l := openLog(t, db, Options{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				_, err := l.Append(context.Background(), Event{Action: "x.y", Actor: fmt.Sprintf("g%d", g), Criteria: map[string]int{"i": i}})
				if err == nil {
					mu.Lock()
					ok++
					mu.Unlock()
				} else if wache.ErrorCode(err) != wache.EUNAVAILABLE {
					t.Errorf("append: %v", err)
				}
			}
		}()
	}
	time.Sleep(5 * time.Millisecond)
	l.Close()
	wg.Wait() // every Append returned: none hangs on a closed log
	seq, _, err := l.Head(context.Background())
	if err != nil || seq != int64(ok) {
		t.Errorf("head %d, %d appends succeeded (%v)", seq, ok, err)
	}
	if rep := verify(t, l); !rep.OK {
		t.Errorf("chain broken: %v", rep.Broken)
	}
}

func TestRunRetentionDeletesOnSchedule(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		berlin, _ := time.LoadLocation("Europe/Berlin")
		clock := time.Date(2024, 6, 1, 12, 0, 0, 0, berlin)
		l := openLog(t, db, Options{Now: func() time.Time { return clock }, Location: berlin})
		appendN(t, l, 3)
		l.now = func() time.Time { return time.Date(2026, 2, 1, 12, 0, 0, 0, berlin) }
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { l.RunRetention(ctx, 10*time.Millisecond, nil); close(done) }()
		defer func() { cancel(); <-done }()
		deadline := time.Now().Add(20 * time.Second)
		for {
			rep := verify(t, l)
			if rep.AnchorSeq == 3 {
				if !rep.OK {
					t.Fatalf("chain broken after scheduled retention: %v", rep.Broken)
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("scheduled retention did not delete the 2024 entries: %+v", rep)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}
