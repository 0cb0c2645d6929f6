package synth

import (
	"bytes"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/wache/wache/internal/auskunft/ident"
)

var today = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

func TestDeterministic(t *testing.T) {
	var a, b, c bytes.Buffer
	if _, err := Generate(&a, Options{Persons: 500, Seed: 7, Today: today}); err != nil {
		t.Fatal(err)
	}
	Generate(&b, Options{Persons: 500, Seed: 7, Today: today})
	Generate(&c, Options{Persons: 500, Seed: 8, Today: today})
	if sha256.Sum256(a.Bytes()) != sha256.Sum256(b.Bytes()) {
		t.Error("same seed, different output")
	}
	if bytes.Equal(a.Bytes(), c.Bytes()) {
		t.Error("different seeds, same output")
	}
}

func TestRecordsAreRealistic(t *testing.T) {
	plates := map[string]bool{}
	vins := map[string]bool{}
	docs := map[string]bool{}
	umlauts := 0
	st, err := Each(Options{Persons: 20000, Seed: 1, Today: today}, func(rec any) error {
		switch r := rec.(type) {
		case *Person:
			if bytes.ContainsAny([]byte(r.Surname+r.GivenNames), "äöüÄÖÜß") {
				umlauts++
			}
		case *Vehicle:
			if plates[r.Plate] {
				t.Errorf("plate %s twice", r.Plate)
			}
			plates[r.Plate] = true
			ps := ident.ParsePlate(r.Plate)
			if len(ps) != 1 || !ident.ValidDistrict(ps[0].District) {
				t.Errorf("plate %s does not parse as one German plate: %v", r.Plate, ps)
			}
			if !ident.ValidVINCheckDigit(r.VIN) || vins[r.VIN] {
				t.Errorf("vin %s invalid or repeated", r.VIN)
			}
			vins[r.VIN] = true
		case *Document:
			if docs[r.Number] {
				t.Errorf("document number %s twice", r.Number)
			}
			docs[r.Number] = true
			if r.Type == "id_card" || r.Type == "passport" {
				if len(r.Number) != 9 {
					t.Errorf("%s number %s", r.Type, r.Number)
				}
				for _, c := range r.Number {
					if !bytes.ContainsRune([]byte(ident.GermanDocAlphabet), c) {
						t.Errorf("%s number %s has %c", r.Type, r.Number, c)
					}
				}
				if _, ok := ident.ICAOCheckDigit(r.Number); !ok {
					t.Errorf("no check digit for %s", r.Number)
				}
			}
		case *Alert:
			if r.ValidUntil != "" && r.ValidUntil < r.ValidFrom {
				t.Errorf("alert %s ends before it starts", r.ID)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Persons != 20000 {
		t.Errorf("%d persons", st.Persons)
	}
	// Shares within loose bounds of the intended ones.
	for _, c := range []struct {
		name   string
		got    int
		lo, hi float64
	}{
		{"vehicles", st.Vehicles, 0.45, 0.65},
		{"documents", st.Documents, 1.4, 1.7},
		{"alerts", st.Alerts, 0.01, 0.03},
		{"warned", st.Warned, 0.015, 0.025},
		{"umlauts", umlauts, 0.08, 0.5},
	} {
		r := float64(c.got) / float64(st.Persons)
		if r < c.lo || r > c.hi {
			t.Errorf("%s per person %.3f, want %.3f..%.3f", c.name, r, c.lo, c.hi)
		}
	}
}
