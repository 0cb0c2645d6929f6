package mrz

import (
	"strings"
	"testing"
)

func FuzzParseText(f *testing.F) {
	for _, s := range []string{
		"IDD<<T220001293<<<<<<<<<<<<<<<\n6408125<2010315D<<<<<<<<<<<<<4\nMUSTERMANN<<ERIKA<<<<<<<<<<<<<",
		"P<D<<MUSTERMANN<<ERIKA<<<<<<<<<<<<<<<<<<<<<<\nC01X00T478D<<6408125F2702283<<<<<<<<<<<<<<<4",
		"I<UTOD23145890<7349<<<<<<<<<<<\n3407127M9507122UTO<<<<<<<<<<<2\nSTEVENSON<<PETER<JOHN<<<<<<<<<",
		"I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<\nD231458907UTO7408122F1204159<<<<<<<6",
		"V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<\nL8988901C4XXX4009078F9612109<<<<<<<<",
		"I<UTO<<<<<<<<<<<<<<<<<<<<<<<<<\n<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<\n<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<",
		"I<UTOD2314589<<<<<<<<<<<<<<<<<\n7408122F1204159UTO<<<<<<<<<<<6\nERIKSSON<<ANNA<MARIA<<<<<<<<<<",
		"", "\n\n", "ä",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseText(s, opts())
		if err != nil {
			return
		}
		if r.Valid {
			// A valid result must pass every check on its own lines.
			for _, c := range r.Checks {
				if !c.OK {
					t.Fatalf("valid result with failed check %+v", c)
				}
			}
			again, err := Parse(r.Lines, opts())
			if err != nil || !again.Valid || len(again.Repairs) != 0 {
				t.Fatalf("repaired lines do not parse cleanly: %v %+v", err, again)
			}
		}
		for _, l := range r.Lines {
			if strings.Trim(l, "<ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != "" {
				t.Fatalf("line %q outside the alphabet", l)
			}
		}
	})
}

func FuzzDrivingLicence(f *testing.F) {
	for _, s := range []string{"B072RRE2I55", "", "A000000000X", "ZZZZZZZZZZZ", "b072 rre2i 55"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDrivingLicence(s)
		if err != nil {
			return
		}
		if len(d.Number) != 11 || d.Valid != (DrivingLicenceCheck(d.Number[:9]) == d.Number[9]) {
			t.Fatalf("inconsistent %+v", d)
		}
	})
}
