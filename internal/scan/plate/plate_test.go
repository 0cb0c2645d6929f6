package plate

import (
	"strings"
	"testing"

	"github.com/wache/wache"
)

func TestDistrictData(t *testing.T) {
	codes := DistrictCodes()
	if len(codes) < 700 {
		t.Fatalf("only %d district codes", len(codes))
	}
	for _, c := range []string{"K", "D", "DA", "B", "M", "HH", "GÖ", "TÜ", "LÖ", "THW", "Y", "BP"} {
		if _, ok := LookupDistrict(c); !ok {
			t.Errorf("code %q missing", c)
		}
	}
	if d, _ := LookupDistrict("K"); d.State != "Nordrhein-Westfalen" || !strings.Contains(d.Districts, "Köln") {
		t.Errorf("K = %+v", d)
	}
	for _, c := range []string{"DAB", "QQ", "Q", ""} {
		if _, ok := LookupDistrict(c); ok {
			t.Errorf("%q known", c)
		}
	}
}

func TestParse(t *testing.T) {
	for _, tt := range []struct{ in, plate, kind string }{
		{"K-AB 1234", "K-AB 1234", KindNormal},
		{"k ab 1234", "K-AB 1234", KindNormal},
		{"K-AB1234", "K-AB 1234", KindNormal},
		{"M-XY 12E", "M-XY 12E", KindNormal},
		{"HH-A 1H", "HH-A 1H", KindNormal},
		{"GÖ-AB 123", "GÖ-AB 123", KindNormal},
		{"THW-12345", "THW-12345", KindOfficial},
		{"Y-123456", "Y-123456", KindMilitary},
		{"X-1234", "X-1234", KindNATO},
		{"D-1234", "D-1234", KindOfficial},
		{"K-04 123", "K-04 123", KindShortTerm},
		{"K-06123", "K-06 123", KindDealer},
		{"BIT-AB 12", "BIT-AB 12", KindNormal},
		{"AB-CD 1234", "AB-CD 1234", KindNormal},
	} {
		p, err := Parse(tt.in)
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if p.Plate != tt.plate || p.Kind != tt.kind {
			t.Errorf("%q: got %q %s, want %q %s", tt.in, p.Plate, p.Kind, tt.plate, tt.kind)
		}
	}
	for _, bad := range []string{
		"", "KAB1234", "QQ-AB 1234", "K-ABC 123", "K-AB 12345", "K-AB 0123", "BIT-AB 1234", // 9 characters
		"BIT-AB 123E", // 9 with the suffix
		"K-AB", "K-AB 12X", "THW-AB 1", "K-01234", "K-1234567", "K-1234E", "K-A 1-2\x00",
		strings.Repeat("K", 100), "\xff-AB 1",
	} {
		if _, err := Parse(bad); wache.ErrorCode(err) != wache.EINVALID {
			t.Errorf("%q: err = %v, want invalid", bad, err)
		}
	}
}

func TestReadings(t *testing.T) {
	plates := func(ps []Plate) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Plate)
		}
		return out
	}
	for _, tt := range []struct {
		in   string
		want []string
	}{
		{"DAB1234", []string{"D-AB 1234", "DA-B 1234"}},
		{"KAB1234", []string{"K-AB 1234", "KA-B 1234"}},
		{"K-AB 1234", []string{"K-AB 1234"}},
		{"KA B 1234", []string{"KA-B 1234", "K-AB 1234"}}, // the spaces' reading first
		{"MAB12E", []string{"M-AB 12E", "MA-B 12E"}},
		{"DAB12O4", []string{"D-AB 1204", "DA-B 1204"}}, // O in the number is 0
		{"TUAB123", []string{"TÜ-AB 123"}},              // no TU district: the umlaut reading
		{"THW12345", []string{"THW-12345"}},
		{"", nil},
		{"1234", nil},
		{"ÄÄÄÄÄ", nil},
	} {
		got := plates(Readings(tt.in))
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("Readings(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzReadings(f *testing.F) {
	for _, s := range []string{"DAB1234", "K-AB 1234", "GÖ AB 12", "THW-12345", "K-04 123", "", "ÖÖ", "MAB12E", "Y-123456"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, p := range Readings(s) {
			// Every reading must itself parse to the same plate.
			q, err := Parse(p.Plate)
			if err != nil || q.Plate != p.Plate {
				t.Fatalf("reading %q of %q does not parse back: %v", p.Plate, s, err)
			}
			if n := len([]rune(p.District)) + len(p.Letters) + len(p.Digits) + len(p.Suffix); p.Kind == KindNormal && n > 8 {
				t.Fatalf("%q has %d characters", p.Plate, n)
			}
		}
	})
}
