package match

import (
	"strings"
	"testing"
)

func TestKoelner(t *testing.T) {
	cases := []struct{ in, want string }{
		{"Müller-Lüdenscheidt", "65752682"},
		{"Breschnew", "17863"},
		{"Wikipedia", "3412"},
		{"Müller", "657"},
		{"Mueller", "657"},
		{"MULLER", "657"},
		{"Meier", "67"},
		{"Maier", "67"},
		{"Mayer", "67"},
		{"Meyer", "67"},
		{"Schmidt", "862"},
		{"Schmitt", "862"},
		{"Ahrens", "0768"},
		{"Christoph", "47823"}, // initial C before H
		{"Cecilie", "885"},     // initial C before E, I
		{"Carl", "475"},
		{"Xaver", "4837"},
		{"Hexe", "048"}, // a leading vowel code stays
		{"Dax", "248"},
		{"Dickx", "248"}, // X after K: 8
		{"Sachs", "848"},
		{"Philipp", "351"},
		{"Straße", "8278"},
		{"", ""},
		{"123", ""},
	}
	for _, c := range cases {
		if got := Koelner(c.in); got != c.want {
			t.Errorf("Koelner(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestUpperAndFold(t *testing.T) {
	cases := []struct{ in, upper, fold string }{
		{"Müller", "MUELLER", "MULLER"},
		{"MUELLER", "MUELLER", "MULLER"},
		{"Muller", "MULLER", "MULLER"},
		{"Großmann", "GROSSMANN", "GROSSMANN"},
		{"Bäcker", "BAECKER", "BACKER"},
		{"Schröder", "SCHROEDER", "SCHRODER"},
		{"Nguyễn", "NGUYEN", "NGUYEN"},
		{"Łukasz Wójcik", "LUKASZ WOJCIK", "LUKASZWOJCIK"},
		{"  von  der Heide-Müller ", "VON DER HEIDE MUELLER", "VONDERHEIDEMULLER"},
		{"Çelik", "CELIK", "CELIK"},
		{"Ørsted", "ORSTED", "ORSTED"},
		{"O'Brien", "O BRIEN", "OBRIEN"},
		{"Mu\u0308ller", "MUELLER", "MULLER"}, // decomposed ü
		{"Иванов", "", ""},                    // non-Latin scripts are not transliterated
		{"<script>", "SCRIPT", "SCRIPT"},
	}
	for _, c := range cases {
		if got := Upper(c.in); got != c.upper {
			t.Errorf("Upper(%q) = %q, want %q", c.in, got, c.upper)
		}
		if got := Fold(c.in); got != c.fold {
			t.Errorf("Fold(%q) = %q, want %q", c.in, got, c.fold)
		}
	}
	if got := Tokens("Hans-Peter  Jürgen"); strings.Join(got, ",") != "HANS,PETER,JURGEN" {
		t.Errorf("Tokens = %v", got)
	}
}

func TestOSA(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"ABC", "", 3}, {"", "AB", 2},
		{"MULLER", "MULLER", 0},
		{"MULLER", "MULER", 1},
		{"MULLER", "MLULER", 1}, // transposition
		{"SCHMIDT", "SCHMITT", 1},
		{"MEIER", "MAYER", 2},
		{"KITTEN", "SITTING", 3},
	}
	for _, c := range cases {
		if got := OSA(c.a, c.b); got != c.want {
			t.Errorf("OSA(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestJaroWinkler(t *testing.T) {
	cases := []struct {
		a, b     string
		min, max float64
	}{
		{"MARTHA", "MARHTA", 0.96, 0.962},
		{"DWAYNE", "DUANE", 0.84, 0.841},
		{"DIXON", "DICKSONX", 0.813, 0.814},
		{"ABC", "XYZ", 0, 0},
		{"SAME", "SAME", 1, 1},
	}
	for _, c := range cases {
		if got := JaroWinkler(c.a, c.b); got < c.min || got > c.max {
			t.Errorf("JaroWinkler(%q, %q) = %.4f, want in [%.3f, %.3f]", c.a, c.b, got, c.min, c.max)
		}
	}
}

func TestSimilarityRanksCloserNamesHigher(t *testing.T) {
	q := Fold("Mueller")
	order := []string{"Müller", "Muler", "Möller", "Miller", "Meyer", "Schulz"}
	prev := 2.0
	for _, n := range order {
		s := Similarity(q, Fold(n))
		if s > prev {
			t.Errorf("Similarity(%s, %s) = %.3f ranks above the closer name before it (%.3f)", q, n, s, prev)
		}
		prev = s
	}
	if Similarity("", "X") != 0 {
		t.Error("empty name must not match")
	}
}

func FuzzNames(f *testing.F) {
	for _, s := range []string{"Müller-Lüdenscheidt", "Ærø", "ẞ", "\xff\xfe", "C", "XXXXXXXX", strings.Repeat("ä", 100)} {
		f.Add(s, "Mueller")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		fa, fb := Fold(a), Fold(b)
		for _, s := range []string{fa, fb} {
			for i := 0; i < len(s); i++ {
				if s[i] < 'A' || s[i] > 'Z' {
					t.Fatalf("Fold produced %q", s)
				}
			}
		}
		k := Koelner(a)
		for i := 0; i < len(k); i++ {
			if k[i] < '0' || k[i] > '8' || (i > 0 && k[i] == '0') {
				t.Fatalf("Koelner(%q) = %q", a, k)
			}
		}
		s := Similarity(fa, fb)
		if s < 0 || s > 1 {
			t.Fatalf("Similarity out of range: %v", s)
		}
		if d := OSA(fa, fb); d != OSA(fb, fa) {
			t.Fatalf("OSA not symmetric for %q %q", fa, fb)
		}
	})
}
