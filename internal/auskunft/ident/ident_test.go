package ident

import (
	"slices"
	"strings"
	"testing"
)

func TestDistricts(t *testing.T) {
	ds := Districts()
	if len(ds) != 722 {
		t.Errorf("%d districts, want 722", len(ds))
	}
	for _, c := range []string{"M", "B", "WÜ", "BGL", "BÖ", "BO", "THW", "Y"} {
		if !ValidDistrict(c) {
			t.Errorf("%s not valid", c)
		}
	}
	for _, c := range []string{"", "Q", "MU", "ÄÄ", "ABCD"} {
		if ValidDistrict(c) {
			t.Errorf("%q valid", c)
		}
	}
}

func TestPlateKey(t *testing.T) {
	cases := []struct{ in, want string }{
		{"B-AB 123", "BAB123"},
		{"b ab 123", "BAB123"},
		{"  m:x-1e ", "MX1E"},
		{"Bö-AB 12", "BÖAB12"},
		{"BO\u0308-AB 12", "BÖAB12"}, // decomposed Ö
		{"'; DROP TABLE--", "DROPTABLE"},
		{"", ""},
	}
	for _, c := range cases {
		if got := PlateKey(c.in); got != c.want {
			t.Errorf("PlateKey(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestParsePlate(t *testing.T) {
	cases := []struct {
		in   string
		want []string // String() of each reading
	}{
		{"B-AB 123", []string{"B-AB 123"}},
		{"B AB 123", []string{"B-AB 123"}},
		{"BA-B 123", []string{"BA-B 123"}},
		{"BAB123", []string{"B-AB 123", "BA-B 123"}},
		{"BAB 123", []string{"B-AB 123", "BA-B 123"}},
		{"M-X 1E", []string{"M-X 1E"}},
		{"mue ab 12", []string{"MÜ-AB 12"}},
		{"BÖ-A 1", []string{"BÖ-A 1"}},
		{"BO-A 1", []string{"BO-A 1"}},
		{"Y 12345", nil},               // five digits
		{"Y 1234", []string{"Y 1234"}}, // Bundeswehr: no letters
		{"M 1234", nil},                // letters required outside federal series
		{"M-AB 0123", nil},             // leading zero
		{"QQ-AB 1", nil},               // no such district
		{"M-ABC 1", nil},               // three letters
		{"M-AB 12X", nil},              // bad suffix
		{"BGL-AB 1234", nil},           // nine characters
		{"", nil},
		{strings.Repeat("B", 100), nil},
	}
	for _, c := range cases {
		var got []string
		for _, p := range ParsePlate(c.in) {
			got = append(got, p.String())
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("ParsePlate(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestPlateCandidates(t *testing.T) {
	cases := []struct {
		key  string
		want []string // must be among the candidates
		not  []string
	}{
		{"MAB123", []string{"MA8123", "MAB723", "NAB123"}, []string{"MAB123", "MAB1Z3"}},
		{"B0123", []string{"BO123", "BD123"}, nil},    // 0 read for O or D
		{"BOAB12", []string{"BÖAB12"}, nil},           // missed umlaut
		{"M5L1", []string{"MSL1"}, []string{"M5L1"}},  // 5 for S
		{"HH8Z123", []string{"HHBZ123"}, nil},         // two letters
		{"KA0B12", []string{"KAOB12", "KADB12"}, nil}, // O/D in letters
		{"SAB12", []string{"SA812"}, nil},             // 8 for B
	}
	for _, c := range cases {
		got := PlateCandidates(c.key)
		for _, w := range c.want {
			if !slices.Contains(got, w) {
				t.Errorf("PlateCandidates(%s) lacks %s (got %d: %v)", c.key, w, len(got), got)
			}
		}
		for _, n := range c.not {
			if slices.Contains(got, n) {
				t.Errorf("PlateCandidates(%s) contains %s", c.key, n)
			}
		}
		for _, k := range got {
			if len(splits(k)) == 0 {
				t.Errorf("candidate %s is not a valid plate", k)
			}
		}
		if len(got) > MaxCandidates {
			t.Errorf("%d candidates", len(got))
		}
	}
	if PlateCandidates("") != nil || PlateCandidates(strings.Repeat("8", 40)) != nil {
		t.Error("bad keys must yield no candidates")
	}
}

func TestVIN(t *testing.T) {
	cases := []struct {
		vin        string
		format, cd bool
	}{
		{"1M8GDM9AXKP042788", true, true}, // check digit X
		{"11111111111111111", true, true},
		{"WVWZZZ1JZXW000001", true, false}, // European VIN without check digit
		{"1M8GDM9A1KP042788", true, false},
		{"1M8GDM9AXKP04278", false, false},  // 16 characters
		{"1M8GDM9AXKP0427I8", false, false}, // I is not allowed
		{"", false, false},
	}
	for _, c := range cases {
		if got := ValidVINFormat(c.vin); got != c.format {
			t.Errorf("ValidVINFormat(%s) = %v", c.vin, got)
		}
		if got := ValidVINCheckDigit(c.vin); got != c.cd {
			t.Errorf("ValidVINCheckDigit(%s) = %v", c.vin, got)
		}
	}
	if got := NormalizeVIN(" 1m8-gdm9axkp O42788 "); got != "1M8GDM9AXKP042788" {
		t.Errorf("NormalizeVIN = %s", got)
	}
	if got := NormalizeVIN("WVWZZZIJZQW000001"); got != "WVWZZZ1JZ0W000001" {
		t.Errorf("NormalizeVIN I/Q = %s", got)
	}
}

func TestICAO(t *testing.T) {
	cases := []struct {
		in   string
		want byte
	}{
		{"L898902C3", '6'}, // ICAO 9303 part 4 specimen passport
		{"740812", '2'},
		{"120415", '9'},
		{"T22000129", '3'}, // German identity card specimen
		{"<<<<<<<<<", '0'},
		{"", '0'},
	}
	for _, c := range cases {
		if got, ok := ICAOCheckDigit(c.in); !ok || got != c.want {
			t.Errorf("ICAOCheckDigit(%q) = %c %v, want %c", c.in, got, ok, c.want)
		}
	}
	if _, ok := ICAOCheckDigit("ab"); ok {
		t.Error("lower case accepted")
	}
	if got := DocKeys("t2200 0129-3"); !slices.Equal(got, []string{"T220001293", "T22000129"}) {
		t.Errorf("DocKeys = %v", got)
	}
	if got := DocKeys("T220001294"); !slices.Equal(got, []string{"T220001294"}) {
		t.Errorf("DocKeys with a wrong check digit = %v", got)
	}
	if DocKeys("<<<") != nil {
		t.Error("empty number has keys")
	}
}

func FuzzPlate(f *testing.F) {
	for _, s := range []string{"B-AB 123", "BAB123", "mue ab 12", "Y 1234", "M-X 1E", "\xff", "ÖÖÖ-ÄÄ 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, p := range ParsePlate(s) {
			if !ValidDistrict(p.District) {
				t.Fatalf("%q parsed to bad district %q", s, p.District)
			}
			if len(splits(p.Key())) == 0 {
				t.Fatalf("%q: reading %v does not re-parse", s, p)
			}
		}
		k := PlateKey(s)
		if PlateKey(k) != k {
			t.Fatalf("PlateKey not idempotent on %q", s)
		}
		if len(k) <= 12 {
			PlateCandidates(k)
		}
		NormalizeVIN(s)
		DocKeys(s)
	})
}
