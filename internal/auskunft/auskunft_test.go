package auskunft

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/internal/audit"
	"github.com/wache/wache/internal/store/dbtest"
	"github.com/wache/wache/internal/store/sqldb"
)

var (
	officer    = Caller{UserID: "u-off", DeviceID: "d-off", OrgID: "o1", Roles: []wache.Role{wache.RoleOfficer}}
	dispatcher = Caller{UserID: "u-disp", DeviceID: "d-disp", OrgID: "o1", Roles: []wache.Role{wache.RoleDispatcher}}
	admin      = Caller{UserID: "u-adm", DeviceID: "d-adm", OrgID: "o1", Roles: []wache.Role{wache.RoleAdmin}}
	auditor    = Caller{UserID: "u-aud", DeviceID: "d-aud", OrgID: "o1", Roles: []wache.Role{wache.RoleAuditor}}
)

const purpose = "Verkehrskontrolle B 96, Fahrer ohne Führerschein"

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	db    *sqldb.DB
	store *Store
	log   *audit.Log
	svc   *Service
	clock *clock
}

func eachDB(t *testing.T, fn func(t *testing.T, db *sqldb.DB)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, dbtest.SQLite(t)) })
	t.Run("postgres", func(t *testing.T) {
		db, _ := dbtest.Postgres(t)
		fn(t, db)
	})
}

func newEnv(t testing.TB, db *sqldb.DB, cfg Config) *env {
	t.Helper()
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)}
	l, err := audit.Open(ctx, db, audit.Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	st, err := OpenStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Store, cfg.Audit, cfg.Now = st, l, clk.Now
	if cfg.Limits.Rate == 0 {
		cfg.Limits = Limits{Rate: 1000, Burst: 1000, FlagPerHour: 100000}
	}
	svc, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &env{db: db, store: st, log: l, svc: svc, clock: clk}
}

// fixture is a small hand-made data set whose answers are known.
var fixture = strings.Join([]string{
	`{"kind":"person","id":"P1","surname":"Müller","given_names":"Hans Peter","birth_name":"Schulze","dob":"1970-05-03","birth_place":"Berlin","nationality":"D","sex":"m","aliases":["MÜLLER-SCHMIDT, Hans"],"warnings":["violent","armed"]}`,
	`{"kind":"person","id":"P2","surname":"Müller","given_names":"Hans","dob":"1970-03-05","nationality":"D","sex":"m"}`,
	`{"kind":"person","id":"P3","surname":"Möller","given_names":"Hans","dob":"1970-05-03","sex":"m"}`,
	`{"kind":"person","id":"P4","surname":"Meier","given_names":"Anna","birth_name":"Schmidt","dob":"1985-12-24","sex":"f"}`,
	`{"kind":"person","id":"P5","surname":"Schmitt","given_names":"Klaus","dob":"1960-01-01","sex":"m","warnings":["drug_use"]}`,
	`{"kind":"person","id":"P6","surname":"Yılmaz","given_names":"Mehmet","dob":"1980-02-29","nationality":"TUR","sex":"m"}`,
	`{"kind":"person","id":"P7","surname":"Müller","given_names":"Erika","dob":"1990-07-07","sex":"f"}`,
	`{"kind":"vehicle","id":"V1","plate":"B-AB 123","vin":"1M8GDM9AXKP042788","make":"Volkswagen","model":"Golf","colour":"blau","holder":"P1"}`,
	`{"kind":"vehicle","id":"V2","plate":"BA-B 123","make":"Opel","model":"Corsa","holder":"P7"}`,
	`{"kind":"vehicle","id":"V3","plate":"M-XY 4711","make":"BMW","model":"320d","holder":"P5"}`,
	`{"kind":"vehicle","id":"V4","plate":"BÖ-K 12","make":"Ford","model":"Fiesta"}`,
	`{"kind":"vehicle","id":"V5","plate":"M-XY 4717","make":"Audi","model":"A4"}`,
	`{"kind":"document","id":"D1","type":"id_card","number":"T22000129","issuing_state":"D","expiry":"2031-08-01","holder":"P4"}`,
	`{"kind":"document","id":"D2","type":"passport","number":"C01X00T47","issuing_state":"D","expiry":"2024-01-01","holder":"P1"}`,
	`{"kind":"alert","id":"A1","subject_kind":"person","subject":"P1","category":"arrest","action":"Festnehmen, Haftbefehl AG Berlin","authority":"StA Berlin","valid_from":"2025-01-01","valid_until":"2027-12-31"}`,
	`{"kind":"alert","id":"A2","subject_kind":"person","subject":"P1","category":"whereabouts","action":"Aufenthalt ermitteln","authority":"PP München","valid_until":"2025-01-01"}`,
	`{"kind":"alert","id":"A3","subject_kind":"vehicle","subject":"V1","category":"stolen","action":"Sicherstellen","authority":"PD Hannover"}`,
	`{"kind":"alert","id":"A4","subject_kind":"person","subject":"P5","category":"arrest","action":"Festnehmen","authority":"LKA Bayern"}`,
	`{"kind":"alert","id":"A5","subject_kind":"document","subject":"D1","category":"seizure","action":"Einziehen","authority":"Stadt Köln"}`,
	`{"kind":"alert","id":"A6","subject_kind":"person","subject":"P3","category":"missing","action":"In Obhut nehmen","authority":"PP Köln","valid_from":"2027-01-01"}`,
	`{"kind":"alert","id":"A7","subject_kind":"vehicle","subject":"V5","category":"stolen","action":"Sicherstellen","authority":"PP München"}`,
}, "\n") + "\n"

func (e *env) importFixture(t testing.TB) {
	t.Helper()
	st, err := e.svc.Import(context.Background(), admin, strings.NewReader(fixture), ImportOptions{Source: "fixture.jsonl"})
	if err != nil || st.Errors != 0 {
		t.Fatalf("import fixture: %v %+v", err, st.LineErrors)
	}
}

func (e *env) counts(t testing.TB) map[string]int64 {
	t.Helper()
	c, err := e.store.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names int64
	if err := e.db.QueryRow(context.Background(), `SELECT COUNT(*) FROM ak_name n WHERE NOT EXISTS (SELECT 1 FROM ak_person p WHERE p.id = n.person_id)`).Scan(&names); err != nil {
		t.Fatal(err)
	}
	c["orphan_names"] = names
	return c
}

func (e *env) auditEntries(t testing.TB, action string) []audit.Entry {
	t.Helper()
	es, err := e.log.List(context.Background(), auditor, audit.Filter{Action: action, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func TestImportFixture(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db, Config{})
		var progress []ImportStats
		st, err := e.svc.Import(context.Background(), admin, strings.NewReader(fixture),
			ImportOptions{Source: "fixture.jsonl", BatchSize: 4, Progress: func(s ImportStats) { progress = append(progress, s) }})
		if err != nil {
			t.Fatal(err)
		}
		if st.Lines != 21 || st.Applied != 21 || st.Persons != 7 || st.Vehicles != 5 || st.Documents != 2 || st.Alerts != 7 || st.Errors != 0 {
			t.Errorf("stats %+v", st)
		}
		if len(progress) != 6 || progress[len(progress)-1].Applied != 21 {
			t.Errorf("progress calls %d, last %+v", len(progress), progress[len(progress)-1])
		}
		c := e.counts(t)
		if c[KindPerson] != 7 || c[KindVehicle] != 5 || c[KindDocument] != 2 || c[KindAlert] != 7 {
			t.Errorf("counts %v", c)
		}
		// Importing again changes nothing (upsert by id).
		e.importFixture(t)
		if c2 := e.counts(t); fmt.Sprint(c2) != fmt.Sprint(c) {
			t.Errorf("re-import changed counts: %v → %v", c, c2)
		}
		var keys int
		db.QueryRow(context.Background(), `SELECT COUNT(*) FROM ak_name WHERE person_id = 'P1'`).Scan(&keys)
		if keys != 3 { // surname, birth name, alias
			t.Errorf("P1 has %d name keys, want 3", keys)
		}
		imports := e.auditEntries(t, ActionImport)
		if len(imports) != 2 || imports[0].Actor != "u-adm" || imports[0].Result != "ok" {
			t.Fatalf("import audit: %+v", imports)
		}
		var crit map[string]any
		json.Unmarshal(imports[0].Criteria, &crit)
		if crit["source"] != "fixture.jsonl" || crit["persons"] != float64(7) {
			t.Errorf("import criteria %s", imports[0].Criteria)
		}
	})
}

func TestImportRejectsBadLines(t *testing.T) {
	big := strings.Repeat("x", 1_000_000)
	good := func(id string) string {
		return `{"kind":"person","id":"` + id + `","surname":"Gut","dob":"1970-01-01"}`
	}
	cases := []struct {
		name, line, msg string
	}{
		{"malformed json", `{"kind":"person","id":"X1","surname":"Müller"`, "JSON"},
		{"not an object", `["person"]`, "not a JSON object"},
		{"bare string", `"hello"`, "not a JSON object"},
		{"unknown kind", `{"kind":"weapon","id":"W1"}`, "unknown kind"},
		{"missing kind", `{"id":"X1","surname":"Müller"}`, "kind is missing"},
		{"unknown field", `{"kind":"person","id":"X1","surnme":"Müller"}`, "unknown field"},
		{"wrong type", `{"kind":"person","id":"X1","surname":42}`, "surname"},
		{"missing surname", `{"kind":"person","id":"X1"}`, "surname is required"},
		{"impossible date", `{"kind":"person","id":"X1","surname":"Müller","dob":"1964-02-30"}`, "not a valid date"},
		{"date format", `{"kind":"person","id":"X1","surname":"Müller","dob":"03.05.1970"}`, "not a valid date"},
		{"short date", `{"kind":"person","id":"X1","surname":"Müller","dob":"1970-5-3"}`, "not a date"},
		{"future dob", `{"kind":"person","id":"X1","surname":"Müller","dob":"2030-01-01"}`, "future"},
		{"1 MB field", `{"kind":"person","id":"X1","surname":"` + big + `"}`, "longer than 100"},
		{"line over 1 MiB", `{"kind":"person","id":"X1","surname":"Müller","birth_place":"` + big + big + `"}`, "line longer"},
		{"control character", `{"kind":"person","id":"X1","surname":"Mül\u0000ler"}`, "control"},
		{"invalid utf-8", "{\"kind\":\"person\",\"id\":\"X1\",\"surname\":\"M\xffller\"}", "UTF-8"},
		{"no latin letters", `{"kind":"person","id":"X1","surname":"Иванов"}`, "Latin"},
		{"injection in id", `{"kind":"person","id":"X1'; DROP TABLE ak_person; --","surname":"Müller"}`, "only letters"},
		{"unknown warning", `{"kind":"person","id":"X1","surname":"Müller","warnings":["grumpy"]}`, "unknown warning"},
		{"sex", `{"kind":"person","id":"X1","surname":"Müller","sex":"male"}`, "sex"},
		{"vehicle without keys", `{"kind":"vehicle","id":"V9","make":"VW"}`, "plate or a vin"},
		{"bad vin", `{"kind":"vehicle","id":"V9","vin":"123"}`, "vin"},
		{"bad doc type", `{"kind":"document","id":"D9","type":"library_card","number":"12345"}`, "document type"},
		{"bad category", `{"kind":"alert","id":"A9","subject_kind":"person","subject":"P1","category":"parking","action":"x","authority":"y"}`, "category"},
		{"alert without action", `{"kind":"alert","id":"A9","subject_kind":"person","subject":"P1","category":"arrest","authority":"y"}`, "action is required"},
		{"validity reversed", `{"kind":"alert","id":"A9","subject_kind":"person","subject":"P1","category":"arrest","action":"x","authority":"y","valid_from":"2026-01-01","valid_until":"2025-01-01"}`, "before"},
		{"bad delete", `{"kind":"delete","target":"everything","id":"P1"}`, "delete target"},
		{"two values", `{"kind":"person","id":"X1","surname":"A"} {"kind":"person","id":"X2","surname":"B"}`, "more than one JSON value"},
	}
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db, Config{})
		var in strings.Builder
		in.WriteString(good("G0") + "\n")
		for i, c := range cases {
			in.WriteString(c.line + "\n")
			in.WriteString(good(fmt.Sprintf("G%d", i+1)) + "\r\n")
		}
		in.WriteString("\n\n" + good("GEND")) // no final newline
		st, err := e.svc.Import(context.Background(), admin, strings.NewReader(in.String()), ImportOptions{BatchSize: 7})
		if err != nil {
			t.Fatal(err)
		}
		if st.Errors != int64(len(cases)) || st.Persons != int64(len(cases)+2) {
			t.Errorf("errors %d persons %d, want %d and %d", st.Errors, st.Persons, len(cases), len(cases)+2)
		}
		for i, c := range cases {
			if i >= len(st.LineErrors) {
				t.Fatalf("only %d line errors", len(st.LineErrors))
			}
			le := st.LineErrors[i]
			if le.Line != int64(2*i+2) || !strings.Contains(le.Message, c.msg) {
				t.Errorf("%s: line %d %q, want line %d containing %q", c.name, le.Line, le.Message, 2*i+2, c.msg)
			}
		}
		cnt := e.counts(t)
		if cnt[KindPerson] != int64(len(cases)+2) || cnt["orphan_names"] != 0 {
			t.Errorf("counts %v: nothing but the good lines may be stored", cnt)
		}
		if es := e.auditEntries(t, ActionImport); len(es) != 1 || es[0].Result != "ok_with_errors" {
			t.Errorf("audit %+v", es)
		}
	})
}

func TestImportUpsertAndDelete(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		e := newEnv(t, db, Config{})
		e.importFixture(t)
		lines := strings.Join([]string{
			// P2 renamed: the old name keys must go.
			`{"kind":"person","id":"P2","surname":"Zander","given_names":"Hans","dob":"1970-03-05"}`,
			// P5 deleted: its alert A4 goes with it.
			`{"kind":"delete","target":"person","id":"P5"}`,
			// Within one batch: upsert, delete, upsert again → exists; upsert then delete → gone.
			`{"kind":"person","id":"P8","surname":"Erst"}`,
			`{"kind":"delete","target":"person","id":"P8"}`,
			`{"kind":"person","id":"P8","surname":"Zweit"}`,
			`{"kind":"person","id":"P9","surname":"Weg"}`,
			`{"kind":"alert","id":"A9","subject_kind":"person","subject":"P9","category":"arrest","action":"x","authority":"y"}`,
			`{"kind":"delete","target":"person","id":"P9"}`,
			`{"kind":"delete","target":"alert","id":"A7"}`,
			`{"kind":"delete","target":"vehicle","id":"V404"}`,
		}, "\n")
		st, err := e.svc.Import(ctx, admin, strings.NewReader(lines), ImportOptions{})
		if err != nil || st.Errors != 0 || st.Deletes != 5 {
			t.Fatalf("%v %+v", err, st)
		}
		c := e.counts(t)
		if c[KindPerson] != 7 || c[KindAlert] != 5 || c["orphan_names"] != 0 {
			t.Errorf("counts %v", c)
		}
		ps, _ := e.store.personsByIDs(ctx, []string{"P8", "P9", "P2"})
		names := map[string]string{}
		for _, p := range ps {
			names[p.ID] = p.Surname
		}
		if names["P8"] != "Zweit" || names["P9"] != "" || names["P2"] != "Zander" {
			t.Errorf("persons after batch: %v", names)
		}
		res, err := e.svc.Query(ctx, dispatcher, Query{Kind: QueryPerson, Surname: "Müller", Given: "Hans", Mode: ModeFull, Purpose: purpose})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range res.Persons {
			if p.ID == "P2" {
				t.Errorf("P2 still found under its old name: %+v", p)
			}
		}
	})
}

func TestImportNeedsAdmin(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db, Config{})
		for _, c := range []Caller{officer, dispatcher, auditor} {
			if _, err := e.svc.Import(context.Background(), c, strings.NewReader(fixture), ImportOptions{}); wache.ErrorCode(err) != wache.EFORBIDDEN {
				t.Errorf("%v: %v", c.Roles, err)
			}
		}
		if _, err := e.svc.Import(context.Background(), Caller{}, strings.NewReader(fixture), ImportOptions{}); wache.ErrorCode(err) != wache.EUNAUTHORIZED {
			t.Errorf("no caller: %v", err)
		}
		if c := e.counts(t); c[KindPerson] != 0 {
			t.Errorf("stored %v", c)
		}
		if es := e.auditEntries(t, ActionImport); len(es) != 3 || es[0].Result != "denied" {
			t.Errorf("denied imports not logged: %+v", es)
		}
	})
}

func TestImportCancelled(t *testing.T) {
	e := newEnv(t, dbtest.SQLite(t), Config{})
	ctx, cancel := context.WithCancel(context.Background())
	var in strings.Builder
	for i := range 100 {
		fmt.Fprintf(&in, `{"kind":"person","id":"C%d","surname":"Abbruch"}`+"\n", i)
	}
	n := 0
	_, err := e.svc.Import(ctx, admin, strings.NewReader(in.String()), ImportOptions{BatchSize: 10, Progress: func(ImportStats) {
		if n++; n == 3 {
			cancel()
		}
	}})
	if err == nil {
		t.Fatal("cancelled import reported success")
	}
	c := e.counts(t)
	if c[KindPerson] != 30 {
		t.Errorf("%d persons stored; want the three committed batches (30)", c[KindPerson])
	}
	if es := e.auditEntries(t, ActionImport); len(es) != 1 || es[0].Result != "failed" {
		t.Errorf("cancelled import not logged as failed: %+v", es)
	}
}

func dbtestSQLite(t *testing.T) *sqldb.DB { return dbtest.SQLite(t) }
