package auskunft

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/wache/wache"
	"github.com/wache/wache/internal/store/sqldb"
)

func ids[T any](xs []T, id func(T) string) []string {
	var out []string
	for _, x := range xs {
		out = append(out, id(x))
	}
	return out
}

func alertIDs(r *Result) []string  { return ids(r.Alerts, func(a AlertView) string { return a.ID }) }
func personIDs(r *Result) []string { return ids(r.Persons, func(p PersonView) string { return p.ID }) }
func vehicleIDs(r *Result) []string {
	return ids(r.Vehicles, func(v VehicleView) string { return v.ID })
}
func docIDs(r *Result) []string { return ids(r.Documents, func(d DocumentView) string { return d.ID }) }
func warnCodes(r *Result) []string {
	return ids(r.Warnings, func(w WarningView) string { return w.Code })
}

func TestExactQueries(t *testing.T) {
	cases := []struct {
		name       string
		caller     Caller
		q          Query
		hit        bool
		warnings   []string // codes in order
		alerts     []string // ids in order
		persons    []string
		vehicles   []string
		documents  []string
		candidates []string
	}{
		{
			name: "stolen car whose holder is armed and wanted", caller: officer,
			q:   Query{Kind: QueryPlate, Text: "b ab123"},
			hit: true, warnings: []string{"armed", "violent"}, alerts: []string{"A1", "A3"},
			persons: []string{"P1"}, vehicles: []string{"V1"}, candidates: []string{"BA-B 123"},
		},
		{
			name: "same key, other district split", caller: officer,
			q:   Query{Kind: QueryPlate, Text: "BA-B 123"},
			hit: false, vehicles: []string{"V2"}, candidates: []string{"B-AB 123"},
		},
		{
			name: "holder wanted; OCR near miss stolen", caller: officer,
			q:   Query{Kind: QueryPlate, Text: "M XY 4711"},
			hit: true, warnings: []string{"drug_use"}, alerts: []string{"A4"},
			persons: []string{"P5"}, vehicles: []string{"V3"}, candidates: []string{"M-XY 4717"},
		},
		{
			name: "missing umlaut offered as candidate", caller: officer,
			q:   Query{Kind: QueryPlate, Text: "BO-K 12"},
			hit: false, candidates: []string{"BÖ-K 12"},
		},
		{
			name: "written-out umlaut", caller: officer,
			q:   Query{Kind: QueryPlate, Text: "BOE K 12"},
			hit: false, vehicles: []string{"V4"},
		},
		{
			name: "unknown plate", caller: officer,
			q: Query{Kind: QueryPlate, Text: "HH-ZZ 999"},
		},
		{
			name: "vin with spaces, lower case and O for 0", caller: officer,
			q:   Query{Kind: QueryVIN, Text: "1m8 gdm9a xkp O42788"},
			hit: true, warnings: []string{"armed", "violent"}, alerts: []string{"A1", "A3"},
			persons: []string{"P1"}, vehicles: []string{"V1"},
		},
		{
			name: "document number from the MRZ with check digit", caller: officer,
			q:   Query{Kind: QueryDocument, Text: "T220001293"},
			hit: true, alerts: []string{"A5"}, documents: []string{"D1"},
		},
		{
			name: "document, full information", caller: dispatcher,
			q:   Query{Kind: QueryDocument, Text: "t22000129", Mode: ModeFull},
			hit: true, alerts: []string{"A5"}, persons: []string{"P4"}, documents: []string{"D1"},
		},
		{
			name: "expired passport of a wanted person, full information", caller: dispatcher,
			q:   Query{Kind: QueryDocument, Text: "C01X00T47", Mode: ModeFull},
			hit: true, warnings: []string{"armed", "violent"}, alerts: []string{"A1", "A2"},
			persons: []string{"P1"}, documents: []string{"D2"},
		},
	}
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db, Config{})
		e.importFixture(t)
		for _, c := range cases {
			c.q.Purpose = purpose
			res, err := e.svc.Query(context.Background(), c.caller, c.q)
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
				continue
			}
			var cands []string
			for _, x := range res.Candidates {
				cands = append(cands, x.Plate)
			}
			for _, chk := range []struct {
				what      string
				got, want []string
			}{
				{"warnings", warnCodes(res), c.warnings}, {"alerts", alertIDs(res), c.alerts},
				{"persons", personIDs(res), c.persons}, {"vehicles", vehicleIDs(res), c.vehicles},
				{"documents", docIDs(res), c.documents}, {"candidates", cands, c.candidates},
			} {
				if !slices.Equal(chk.got, chk.want) {
					t.Errorf("%s: %s = %v, want %v", c.name, chk.what, chk.got, chk.want)
				}
			}
			if res.Hit != c.hit || res.Partial || res.AuditSeq == 0 {
				t.Errorf("%s: hit %v partial %v audit %d", c.name, res.Hit, res.Partial, res.AuditSeq)
			}
		}
	})
}

func TestPlateCandidateCarriesAlertFlag(t *testing.T) {
	e := newEnv(t, dbtestSQLite(t), Config{})
	e.importFixture(t)
	res, err := e.svc.Query(context.Background(), officer, Query{Kind: QueryPlate, Text: "M-XY 4711", Purpose: purpose})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Candidates) != 1 || !res.Candidates[0].Alert || res.Candidates[0].Reason != "ocr" {
		t.Errorf("candidates %+v", res.Candidates)
	}
}

func TestPersonRanking(t *testing.T) {
	cases := []struct {
		name     string
		q        Query
		wantTop  []string // the first results, in order
		wantNot  []string
		minScore float64 // of the first result
	}{
		{"transliteration, exact dob", Query{Surname: "Mueller", Given: "Hans", DOB: "1970-05-03"}, []string{"P1", "P2", "P3"}, nil, 0.99},
		{"no umlaut", Query{Surname: "MULLER", Given: "Hans Peter", DOB: "1970-05-03"}, []string{"P1"}, nil, 0.99},
		{"day and month swapped", Query{Surname: "Müller", Given: "Hans", DOB: "1970-03-05"}, []string{"P2", "P1"}, nil, 0.99},
		{"typo in surname", Query{Surname: "Müler", Given: "Hans", DOB: "1970-05-03"}, []string{"P1"}, nil, 0.9},
		{"transposed letters", Query{Surname: "Mülelr", Given: "Hnas", DOB: "1970-05-03"}, []string{"P1"}, nil, 0.8},
		{"phonetic spelling", Query{Surname: "Maier", Given: "Anna"}, []string{"P4"}, []string{"P1"}, 0.8},
		{"birth name", Query{Surname: "Schmidt", Given: "Anna", DOB: "1985-12-24"}, []string{"P4"}, nil, 0.99},
		{"alias", Query{Surname: "Müller-Schmidt", Given: "Hans"}, []string{"P1"}, nil, 0.99},
		{"dotless i", Query{Surname: "Yilmaz", Given: "Mehmet"}, []string{"P6"}, nil, 0.99},
		{"one digit off in dob", Query{Surname: "Schmitt", Given: "Klaus", DOB: "1960-01-07"}, []string{"P5"}, nil, 0.9},
		{"Schmidt for Schmitt", Query{Surname: "Schmidt", Given: "Klaus"}, []string{"P5"}, nil, 0.9},
		{"given name only differs", Query{Surname: "Müller", Given: "Erika"}, []string{"P7"}, nil, 0.99},
		{"nobody", Query{Surname: "Zzyzx", Given: "Quentin"}, nil, []string{"P1", "P2", "P3", "P4", "P5", "P6", "P7"}, 0},
	}
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		e := newEnv(t, db, Config{})
		e.importFixture(t)
		for _, c := range cases {
			q := c.q
			q.Kind, q.Mode, q.Purpose = QueryPerson, ModeFull, purpose
			res, err := e.svc.Query(context.Background(), dispatcher, q)
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
				continue
			}
			got := personIDs(res)
			if len(got) < len(c.wantTop) || !slices.Equal(got[:len(c.wantTop)], c.wantTop) {
				t.Errorf("%s: ranking %v, want it to start %v (scores %v)", c.name, got, c.wantTop, scores(res))
			}
			for _, n := range c.wantNot {
				if slices.Contains(got, n) {
					t.Errorf("%s: %s should not match (scores %v)", c.name, n, scores(res))
				}
			}
			if len(res.Persons) > 0 && len(c.wantTop) > 0 && res.Persons[0].Score < c.minScore {
				t.Errorf("%s: top score %.3f < %.2f", c.name, res.Persons[0].Score, c.minScore)
			}
			for i := 1; i < len(res.Persons); i++ {
				if res.Persons[i].Relation == RelMatch && res.Persons[i].Score > res.Persons[i-1].Score {
					t.Errorf("%s: not sorted by score: %v", c.name, scores(res))
				}
			}
		}
	})
}

func scores(r *Result) map[string]float64 {
	m := map[string]float64{}
	for _, p := range r.Persons {
		m[p.ID] = p.Score
	}
	return m
}

func TestModesAndRoleFiltering(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		e := newEnv(t, db, Config{})
		e.importFixture(t)
		q := Query{Kind: QueryPerson, Surname: "Müller", Given: "Hans Peter", DOB: "1970-05-03", Purpose: purpose}

		// Wanted check (officer): active alerts only, identifying fields only, nothing held.
		res, err := e.svc.Query(ctx, officer, q)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Hit || !slices.Equal(alertIDs(res), []string{"A1"}) || len(res.Vehicles)+len(res.Documents) != 0 {
			t.Errorf("wanted: hit %v alerts %v vehicles %v documents %v", res.Hit, alertIDs(res), vehicleIDs(res), docIDs(res))
		}
		// P2 (no alert, no warning) and P3 (alert not yet in force) are not shown in a wanted check.
		if got := personIDs(res); !slices.Equal(got, []string{"P1"}) {
			t.Errorf("wanted persons %v", got)
		}
		p := res.Persons[0]
		if p.BirthName != "" || p.BirthPlace != "" || len(p.Aliases) != 0 {
			t.Errorf("wanted check shows full-information fields: %+v", p)
		}
		if res.Warnings[0].Code != WarnArmed || res.Warnings[0].Label != "Bewaffnet" || res.Warnings[0].Person != "MÜLLER, Hans Peter (1970-05-03)" {
			t.Errorf("first warning %+v", res.Warnings[0])
		}
		// The JSON starts with hit, then warnings, then alerts.
		b, _ := json.Marshal(res)
		if !strings.HasPrefix(string(b), `{"hit":true,"warnings":[{"code":"armed"`) {
			t.Errorf("json order: %.80s", b)
		}

		// Full information (dispatcher): everything, inactive alerts marked.
		q.Mode = ModeFull
		res, err = e.svc.Query(ctx, dispatcher, q)
		if err != nil {
			t.Fatal(err)
		}
		// A3 is on P1's car; A6 is not yet in force, A2 has run out.
		if got := alertIDs(res); !slices.Equal(got, []string{"A1", "A3", "A6", "A2"}) {
			t.Errorf("full alerts %v", got)
		}
		for _, a := range res.Alerts {
			if a.Active != (a.ID == "A1" || a.ID == "A3") {
				t.Errorf("alert %s active=%v", a.ID, a.Active)
			}
		}
		if got := personIDs(res); !slices.Equal(got[:3], []string{"P1", "P2", "P3"}) {
			t.Errorf("full persons %v", got)
		}
		p = res.Persons[0]
		if p.BirthName != "Schulze" || p.BirthPlace != "Berlin" || len(p.Aliases) != 1 {
			t.Errorf("full information lacks fields: %+v", p)
		}
		if !slices.Equal(vehicleIDs(res), []string{"V1"}) || !slices.Equal(docIDs(res), []string{"D2"}) || !res.Documents[0].Expired {
			t.Errorf("held records: vehicles %v documents %+v", vehicleIDs(res), res.Documents)
		}

		// A person without alerts or warnings: no hit in a wanted check.
		res, err = e.svc.Query(ctx, officer, Query{Kind: QueryPerson, Surname: "Müller", Given: "Erika", Purpose: purpose})
		if err != nil || res.Hit || len(res.Persons) != 0 || len(res.Warnings) != 0 {
			t.Errorf("Erika, wanted: %v %+v", err, res)
		}
		// In full information, Hans Peter Müller is a weak possible match that makes no hit.
		res, err = e.svc.Query(ctx, dispatcher, Query{Kind: QueryPerson, Surname: "Müller", Given: "Erika", Mode: ModeFull, Purpose: purpose})
		if err != nil || res.Hit || personIDs(res)[0] != "P7" || !slices.Contains(personIDs(res), "P1") {
			t.Errorf("Erika, full: %v %v %v", err, res.Hit, scores(res))
		}

		// Roles.
		for _, c := range []struct {
			caller Caller
			mode   Mode
			code   string
		}{
			{officer, ModeFull, wache.EFORBIDDEN},
			{admin, ModeWanted, wache.EFORBIDDEN},
			{auditor, ModeWanted, wache.EFORBIDDEN},
			{Caller{UserID: "x"}, ModeWanted, wache.EFORBIDDEN},
			{Caller{}, ModeWanted, wache.EUNAUTHORIZED},
			{dispatcher, ModeWanted, ""},
		} {
			q.Mode = c.mode
			_, err := e.svc.Query(ctx, c.caller, q)
			if wache.ErrorCode(err) != c.code {
				t.Errorf("%v in %s mode: %v, want %q", c.caller.Roles, c.mode, err, c.code)
			}
		}
		denied := 0
		for _, en := range e.auditEntries(t, ActionQuery) {
			if en.Result == "denied" {
				denied++
			}
		}
		if denied != 4 {
			t.Errorf("%d denied queries logged, want 4", denied)
		}
	})
}

func TestQueryValidation(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		e := newEnv(t, db, Config{})
		e.importFixture(t)
		before := len(e.auditEntries(t, ActionQuery))
		bad := []struct {
			name string
			q    Query
			msg  string
		}{
			{"no purpose", Query{Kind: QueryPlate, Text: "B-AB 123"}, "purpose is required"},
			{"blank purpose", Query{Kind: QueryPlate, Text: "B-AB 123", Purpose: "   "}, "purpose is required"},
			{"short purpose", Query{Kind: QueryPlate, Text: "B-AB 123", Purpose: "Kontrolle"}, "too short"},
			{"stock phrase", Query{Kind: QueryPlate, Text: "B-AB 123", Purpose: "Dienstliche Gründe"}, "too generic"},
			{"keyboard mash", Query{Kind: QueryPlate, Text: "B-AB 123", Purpose: "asdfasdfasdf"}, "does not read"},
			{"control characters", Query{Kind: QueryPlate, Text: "B-AB 123", Purpose: "Verkehrs\x00kontrolle B96"}, "control"},
			{"long purpose", Query{Kind: QueryPlate, Text: "B-AB 123", Purpose: strings.Repeat("Kontrolle ", 60)}, "longer than 500"},
			{"no kind", Query{Text: "B-AB 123", Purpose: purpose}, "kind is required"},
			{"unknown kind", Query{Kind: "weapon", Text: "x", Purpose: purpose}, "unknown query kind"},
			{"bad mode", Query{Kind: QueryPlate, Text: "B-AB 123", Mode: "god", Purpose: purpose}, "mode"},
			{"empty plate", Query{Kind: QueryPlate, Text: " - ", Purpose: purpose}, "not a licence plate"},
			{"huge plate", Query{Kind: QueryPlate, Text: strings.Repeat("A", 1<<20), Purpose: purpose}, "longer than"},
			{"short vin", Query{Kind: QueryVIN, Text: "12", Purpose: purpose}, "vin"},
			{"empty document", Query{Kind: QueryDocument, Text: "<<", Purpose: purpose}, "document number"},
			{"person without surname", Query{Kind: QueryPerson, Given: "Hans", Purpose: purpose}, "surname is required"},
			{"1 MB surname", Query{Kind: QueryPerson, Surname: strings.Repeat("Müller", 200_000), Purpose: purpose}, "longer than 100"},
			{"impossible dob", Query{Kind: QueryPerson, Surname: "Müller", DOB: "1964-02-30", Purpose: purpose}, "not a valid date"},
			{"person with text", Query{Kind: QueryPerson, Text: "Müller", Purpose: purpose}, "not text"},
			{"plate with surname", Query{Kind: QueryPlate, Text: "B-AB 123", Surname: "Müller", Purpose: purpose}, "belong to person"},
			{"limit", Query{Kind: QueryPerson, Surname: "Müller", Limit: 1000, Purpose: purpose}, "limit"},
			{"non-latin surname", Query{Kind: QueryPerson, Surname: "Мюллер", Purpose: purpose}, "Latin"},
		}
		for _, c := range bad {
			_, err := e.svc.Query(ctx, officer, c.q)
			if wache.ErrorCode(err) != wache.EINVALID || !strings.Contains(wache.ErrorMessage(err), c.msg) {
				t.Errorf("%s: %v, want EINVALID with %q", c.name, err, c.msg)
			}
		}
		if n := len(e.auditEntries(t, ActionQuery)); n != before {
			t.Errorf("refused input was logged as a query (%d entries)", n-before)
		}
		// Injection attempts are plain text: no error, no hit, nothing changed.
		injections := []Query{
			{Kind: QueryPerson, Surname: "Robert'); DROP TABLE ak_person;--", Purpose: purpose},
			{Kind: QueryPerson, Surname: "Müller' OR '1'='1", Given: "x' OR 1=1 --", Purpose: purpose},
			{Kind: QueryPlate, Text: "' OR 1=1 --", Purpose: purpose},
			{Kind: QueryDocument, Text: "1' UNION SELECT id FROM ak_person --", Purpose: purpose},
			{Kind: QueryVIN, Text: "'; DELETE FROM ak_vehicle; --", Purpose: purpose},
		}
		for _, q := range injections {
			res, err := e.svc.Query(ctx, officer, q)
			if err != nil && wache.ErrorCode(err) != wache.EINVALID {
				t.Errorf("%+v: %v", q, err)
			}
			if res != nil && (res.Hit || len(res.Persons) > 0) {
				t.Errorf("injection %+v found something: %+v", q, res)
			}
		}
		if c := e.counts(t); c[KindPerson] != 7 || c[KindVehicle] != 5 || c[KindDocument] != 2 {
			t.Errorf("data changed: %v", c)
		}
	})
}

func TestEveryQueryIsAudited(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		e := newEnv(t, db, Config{})
		e.importFixture(t)
		qs := []Query{
			{Kind: QueryPlate, Text: "B-AB 123"},
			{Kind: QueryVIN, Text: "WVWZZZ1JZXW000001"},
			{Kind: QueryDocument, Text: "T22000129"},
			{Kind: QueryPerson, Surname: "Müller", Given: "Hans", DOB: "1970-05-03"},
		}
		var seqs []int64
		for _, q := range qs {
			q.Purpose = purpose
			res, err := e.svc.Query(ctx, officer, q)
			if err != nil {
				t.Fatal(err)
			}
			seqs = append(seqs, res.AuditSeq)
		}
		es := e.auditEntries(t, ActionQuery)
		if len(es) != len(qs) {
			t.Fatalf("%d entries for %d queries", len(es), len(qs))
		}
		wantResult := []string{"hit", "no_hit", "hit", "hit"}
		for i, en := range es {
			if en.Seq != seqs[i] || en.Actor != "u-off" || en.Device != "d-off" || en.Org != "o1" || en.Purpose != purpose || en.Result != wantResult[i] {
				t.Errorf("entry %d: %+v", i, en)
			}
			var crit map[string]any
			if err := json.Unmarshal(en.Criteria, &crit); err != nil || crit["kind"] != qs[i].Kind || crit["mode"] != "wanted" {
				t.Errorf("criteria %s", en.Criteria)
			}
			// Criteria hold search terms, never results.
			for _, leak := range []string{"Festnehmen", "Volkswagen", "P1", "armed"} {
				if strings.Contains(string(en.Criteria), leak) {
					t.Errorf("criteria leak result data %q: %s", leak, en.Criteria)
				}
			}
		}
		if rep, err := e.log.Verify(ctx, auditor); err != nil || !rep.OK {
			t.Errorf("verify: %+v %v", rep, err)
		}
	})
}

func TestQueryFailsWhenAuditFails(t *testing.T) {
	e := newEnv(t, dbtestSQLite(t), Config{})
	e.importFixture(t)
	e.log.Close()
	res, err := e.svc.Query(context.Background(), officer, Query{Kind: QueryPlate, Text: "B-AB 123", Purpose: purpose})
	if err == nil || res != nil {
		t.Fatalf("a query that could not be logged returned %+v, %v", res, err)
	}
	if wache.ErrorCode(err) != wache.EUNAVAILABLE {
		t.Errorf("code %s", wache.ErrorCode(err))
	}
}

func TestPersonSearchLimitAndTruncation(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		e := newEnv(t, db, Config{})
		var in strings.Builder
		for i := range 30 {
			fmt.Fprintf(&in, `{"kind":"person","id":"M%02d","surname":"Müller","given_names":"Hans","dob":"1970-01-%02d"}`+"\n", i, i%28+1)
		}
		if st, err := e.svc.Import(ctx, admin, strings.NewReader(in.String()), ImportOptions{}); err != nil || st.Errors != 0 {
			t.Fatal(err, st)
		}
		res, err := e.svc.Query(ctx, dispatcher, Query{Kind: QueryPerson, Surname: "Mueller", Given: "Hans", Limit: 5, Mode: ModeFull, Purpose: purpose})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Persons) != 5 || !res.Truncated {
			t.Errorf("%d persons, truncated %v: want 5 of 30 equal matches and truncated", len(res.Persons), res.Truncated)
		}
		// A date of birth picks the right ones out of the thirty.
		res, err = e.svc.Query(ctx, dispatcher, Query{Kind: QueryPerson, Surname: "Mueller", Given: "Hans", DOB: "1970-01-03", Mode: ModeFull, Purpose: purpose})
		if err != nil {
			t.Fatal(err)
		}
		// Only M02 was born that day; the others are one digit off at best.
		got := personIDs(res)
		if len(got) < 2 || got[0] != "M02" || res.Persons[0].Score != 1 || res.Persons[1].Score > dobDecisive {
			t.Errorf("dob ranking %v: %v", got, scores(res))
		}
	})
}
