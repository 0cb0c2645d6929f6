package auskunft

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wache/wache/internal/auskunft/synth"
	"github.com/wache/wache/internal/store/sqldb"
)

// variants of a name as officers and foreign systems write it.
var spellings = []struct {
	name string
	fn   func(string) string
}{
	{"umlauts written out", func(s string) string {
		return strings.NewReplacer("ä", "ae", "ö", "oe", "ü", "ue", "ß", "ss", "Ä", "Ae", "Ö", "Oe", "Ü", "Ue").Replace(s)
	}},
	{"umlauts dropped, upper case", func(s string) string {
		return strings.ToUpper(strings.NewReplacer("ä", "a", "ö", "o", "ü", "u", "ß", "ss").Replace(s))
	}},
	{"adjacent letters swapped", func(s string) string {
		r := []rune(s)
		if len(r) > 4 {
			r[2], r[3] = r[3], r[2]
		}
		return string(r)
	}},
	{"letter dropped", func(s string) string {
		r := []rune(s)
		if len(r) > 5 {
			r = append(r[:4], r[5:]...)
		}
		return string(r)
	}},
}

// TestSyntheticData imports a generated data set and finds its persons
// under misspelt names and its vehicles and documents by their keys.
func TestSyntheticData(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 1000
	}
	var buf bytes.Buffer
	var persons []*synth.Person
	var vehicles []*synth.Vehicle
	var docs []*synth.Document
	opts := synth.Options{Persons: n, Seed: 42, Today: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)}
	if _, err := synth.Generate(&buf, opts); err != nil {
		t.Fatal(err)
	}
	synth.Each(opts, func(rec any) error {
		switch r := rec.(type) {
		case *synth.Person:
			persons = append(persons, r)
		case *synth.Vehicle:
			vehicles = append(vehicles, r)
		case *synth.Document:
			docs = append(docs, r)
		}
		return nil
	})
	eachDB(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		e := newEnv(t, db, Config{})
		st, err := e.svc.Import(ctx, admin, bytes.NewReader(buf.Bytes()), ImportOptions{Source: "synth"})
		if err != nil || st.Errors != 0 {
			t.Fatalf("import: %v %+v", err, st.LineErrors)
		}
		for _, sp := range spellings {
			top, asked := 0, 0
			for i := 0; i < len(persons); i += len(persons) / 40 {
				p := persons[i]
				asked++
				res, err := e.svc.Query(ctx, dispatcher, Query{Kind: QueryPerson, Mode: ModeFull, Purpose: purpose,
					Surname: sp.fn(p.Surname), Given: strings.Fields(p.GivenNames)[0], DOB: p.DOB})
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Persons) > 0 && res.Persons[0].ID == p.ID {
					top++
				} else {
					t.Logf("%s: %s %s %s → %v", sp.name, sp.fn(p.Surname), p.GivenNames, p.DOB, scores(res))
				}
			}
			if top < asked*95/100 {
				t.Errorf("%s: right person first in %d of %d searches", sp.name, top, asked)
			}
		}
		for i := 0; i < len(vehicles); i += len(vehicles) / 20 {
			v := vehicles[i]
			for _, q := range []Query{{Kind: QueryPlate, Text: strings.ToLower(v.Plate)}, {Kind: QueryVIN, Text: v.VIN}} {
				q.Mode, q.Purpose = ModeFull, purpose
				res, err := e.svc.Query(ctx, dispatcher, q)
				if err != nil || len(res.Vehicles) == 0 || res.Vehicles[0].ID != v.ID {
					t.Errorf("%s %s: %v %+v", q.Kind, q.Text, err, res.Vehicles)
				}
			}
		}
		for i := 0; i < len(docs); i += len(docs) / 20 {
			d := docs[i]
			res, err := e.svc.Query(ctx, dispatcher, Query{Kind: QueryDocument, Text: d.Number, Mode: ModeFull, Purpose: purpose})
			if err != nil || len(res.Documents) == 0 || res.Documents[0].ID != d.ID {
				t.Errorf("document %s: %v %+v", d.Number, err, res.Documents)
			}
		}
	})
}
