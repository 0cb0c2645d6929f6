package auskunft

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/internal/store/sqldb"
)

// remote is an external system for tests: it answers person queries for
// "Nowak" with a wanted person, and records what it was asked.
func remote(t *testing.T, delay chan struct{}) (*httptest.Server, *[]Query) {
	var asked []Query
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var q Query
		if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&q) != nil || r.Header.Get("Authorization") != "Bearer s3cret" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		asked = append(asked, q)
		if delay != nil {
			select {
			case <-delay:
			case <-r.Context().Done():
				return
			}
		}
		recs := Records{}
		if q.Kind == QueryPerson && strings.EqualFold(q.Surname, "Nowak") {
			recs.Persons = []PersonRecord{
				{Person: Person{ID: "R1", Surname: "Nowak", GivenNames: "Piotr", DOB: "1979-11-11", Warnings: []string{"escape_risk"}}, Score: 0.97, Relation: RelMatch},
				{Person: Person{ID: "R2"}, Score: 0.9, Relation: RelMatch},                 // invalid: no surname
				{Person: Person{ID: "R3", Surname: "Nowak"}, Score: 7, Relation: RelMatch}, // invalid score
			}
			recs.Alerts = []Alert{
				{ID: "RA1", SubjectKind: KindPerson, Subject: "R1", Category: CatArrest, Action: "Festnehmen (Europäischer Haftbefehl)", Authority: "SIS"},
				{ID: "RA2", SubjectKind: KindPerson, Subject: "R1", Category: "bogus", Action: "x", Authority: "y"},
			}
		}
		json.NewEncoder(w).Encode(recs)
	}))
	t.Cleanup(srv.Close)
	return srv, &asked
}

func TestConnectors(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		fastSrv, asked := remote(t, nil)
		release := make(chan struct{})
		slowSrv, _ := remote(t, release)
		defer close(release)
		errSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "down", http.StatusInternalServerError)
		}))
		defer errSrv.Close()
		junkSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"persons": [{"id": "X", "surname": `))
		}))
		defer junkSrv.Close()
		hugeSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"persons":[],"pad":"` + strings.Repeat("x", 2<<20) + `"}`))
		}))
		defer hugeSrv.Close()

		mk := func(name, url string) Source {
			s, err := NewHTTPSource(name, url, HTTPOptions{Token: "s3cret", MaxBytes: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		e := newEnv(t, db, Config{SourceTimeout: 300 * time.Millisecond, Sources: []Source{
			mk("sis", fastSrv.URL), mk("slow", slowSrv.URL), mk("down", errSrv.URL), mk("junk", junkSrv.URL), mk("huge", hugeSrv.URL),
		}})
		e.importFixture(t)
		res, err := e.svc.Query(ctx, officer, Query{Kind: QueryPerson, Surname: "Nowak", Given: "Piotr", Purpose: purpose})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Partial || !slices.Equal(res.MissingSources, []string{"slow", "down", "junk", "huge"}) {
			t.Errorf("partial %v missing %v", res.Partial, res.MissingSources)
		}
		if !res.Hit || !slices.Equal(personIDs(res), []string{"R1"}) || res.Persons[0].Source != "sis" {
			t.Errorf("remote person: hit %v persons %+v", res.Hit, res.Persons)
		}
		if !slices.Equal(alertIDs(res), []string{"RA1"}) || res.Alerts[0].Source != "sis" || res.Alerts[0].SubjectLabel != "NOWAK, Piotr (1979-11-11)" {
			t.Errorf("remote alerts %+v", res.Alerts)
		}
		if len(res.Warnings) != 1 || res.Warnings[0].Code != WarnEscape || res.Warnings[0].Source != "sis" {
			t.Errorf("remote warnings %+v", res.Warnings)
		}
		if len(*asked) != 1 || (*asked)[0].Purpose != purpose || (*asked)[0].Mode != ModeWanted {
			t.Errorf("remote was asked %+v", *asked)
		}
		es := e.auditEntries(t, ActionQuery)
		if len(es) != 1 || es[0].Result != "hit_partial" {
			t.Errorf("audit %+v", es)
		}

		// Local answers still come through when every remote fails.
		res, err = e.svc.Query(ctx, officer, Query{Kind: QueryPlate, Text: "B-AB 123", Purpose: purpose})
		if err != nil || !res.Hit || !res.Partial || !slices.Equal(vehicleIDs(res), []string{"V1"}) {
			t.Errorf("plate with remotes down: %v %+v", err, res)
		}
	})
}

func TestNewHTTPSourceChecksConfig(t *testing.T) {
	for _, c := range []struct{ name, url string }{
		{"", "http://x"}, {"local", "http://x"}, {"bad name!", "http://x"},
		{"ok", "ftp://x"}, {"ok", "http://"}, {"ok", "::"},
	} {
		if _, err := NewHTTPSource(c.name, c.url, HTTPOptions{}); wache.ErrorCode(err) != wache.EINVALID {
			t.Errorf("%q %q: %v", c.name, c.url, err)
		}
	}
	st := &Store{}
	if _, err := New(Config{Store: st, Audit: nil}); err == nil {
		t.Error("New without audit log")
	}
}

func TestRateLimitAndFlags(t *testing.T) {
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		e := newEnv(t, db, Config{Limits: Limits{Rate: 1.0 / 60, Burst: 3, FlagPerHour: 5, FlagRefusedPerHour: 3}})
		e.importFixture(t)
		q := Query{Kind: QueryPlate, Text: "B-AB 123", Purpose: purpose}
		codes := func(c Caller, n int) []string {
			var out []string
			for range n {
				_, err := e.svc.Query(ctx, c, q)
				out = append(out, wache.ErrorCode(err))
			}
			return out
		}
		r := wache.ERATELIMIT
		if got := codes(officer, 6); !slices.Equal(got, []string{"", "", "", r, r, r}) {
			t.Errorf("burst of 6: %v", got)
		}
		// Another user has a bucket of their own.
		if got := codes(dispatcher, 1); got[0] != "" {
			t.Errorf("other user limited: %v", got)
		}
		flags, err := e.svc.Flags(ctx, auditor, time.Time{}, time.Time{}, 0)
		if err != nil || len(flags) != 1 || flags[0].Actor != officer.UserID || flags[0].Result != "flagged" {
			t.Fatalf("refusal flag: %v %+v", err, flags)
		}
		var crit map[string]any
		json.Unmarshal(flags[0].Criteria, &crit)
		if crit["refused"] != float64(3) || crit["queries"] != float64(3) {
			t.Errorf("flag criteria %s", flags[0].Criteria)
		}
		// A minute later one more token has dripped in.
		e.clock.Add(time.Minute)
		if got := codes(officer, 2); !slices.Equal(got, []string{"", r}) {
			t.Errorf("after a minute: %v", got)
		}
		// Volume: the dispatcher's sixth query this hour is unusual; flagged once.
		e.clock.Add(10 * time.Minute)
		codes(dispatcher, 2)
		e.clock.Add(10 * time.Minute)
		codes(dispatcher, 3)
		e.clock.Add(5 * time.Minute)
		codes(dispatcher, 3)
		flags, _ = e.svc.Flags(ctx, auditor, time.Time{}, time.Time{}, 0)
		var disp []string
		for _, f := range flags {
			if f.Actor == dispatcher.UserID {
				disp = append(disp, string(f.Criteria))
			}
		}
		if len(disp) != 1 || !strings.Contains(disp[0], `"queries":6`) {
			t.Errorf("volume flags %v", disp)
		}
		if _, err := e.svc.Flags(ctx, officer, time.Time{}, time.Time{}, 0); wache.ErrorCode(err) != wache.EFORBIDDEN {
			t.Errorf("officer reads flags: %v", err)
		}
	})
}

func TestLimiterForgetsIdleUsers(t *testing.T) {
	l := newLimiter(Limits{})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 100 {
		l.allow(string(rune('a'+i%26))+strings.Repeat("x", i), now)
	}
	l.allow("late", now.Add(3*time.Hour))
	if len(l.users) != 1 {
		t.Errorf("%d users kept", len(l.users))
	}
}
