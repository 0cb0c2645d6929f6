// Package match holds the name matching of Auskunft: transliteration of
// German and other Latin-script names to a plain A–Z form, the Kölner
// Phonetik (Postel 1969), and string similarity for ranking.
//
// Fold makes "Müller", "MUELLER" and "Muller" the same key (MULLER), so that
// the spellings found on documents, in foreign systems and on keyboards
// without umlauts meet; the phonetic code catches spelling variants
// (Meier/Maier/Mayer, Schmidt/Schmitt).
package match

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// special maps letters that Unicode does not decompose into a base letter
// plus marks.
var special = map[rune]string{
	'ß': "SS", 'ẞ': "SS", 'Æ': "AE", 'æ': "AE", 'Œ': "OE", 'œ': "OE",
	'Ø': "O", 'ø': "O", 'Ł': "L", 'ł': "L", 'Đ': "D", 'đ': "D", 'Ð': "D", 'ð': "D",
	'Þ': "TH", 'þ': "TH", 'ı': "I", 'Ŋ': "N", 'ŋ': "N",
}

// Upper returns s in upper case with German umlauts written out (Ä→AE,
// Ö→OE, Ü→UE, ß→SS), other diacritics removed, and everything that is not
// A–Z dropped except single spaces between words. It is the form names
// take in machine-readable zones and in systems without umlauts.
func Upper(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range norm.NFC.String(s) {
		switch r {
		case 'Ä', 'ä':
			b.WriteString("AE")
			space = false
			continue
		case 'Ö', 'ö':
			b.WriteString("OE")
			space = false
			continue
		case 'Ü', 'ü':
			b.WriteString("UE")
			space = false
			continue
		}
		if t, ok := special[r]; ok {
			b.WriteString(t)
			space = false
			continue
		}
		if r < 128 {
			r = unicode.ToUpper(r)
			if r >= 'A' && r <= 'Z' {
				b.WriteRune(r)
				space = false
			} else if (r == ' ' || r == '-' || r == '\'' || r == '.' || r == ',') && b.Len() > 0 && !space {
				b.WriteByte(' ')
				space = true
			}
			continue
		}
		// Decompose (é → e + ´) and keep the base letter.
		for _, d := range norm.NFD.String(string(r)) {
			if d < 128 {
				d = unicode.ToUpper(d)
				if d >= 'A' && d <= 'Z' {
					b.WriteRune(d)
					space = false
				}
			}
		}
		if unicode.IsSpace(r) && b.Len() > 0 && !space {
			b.WriteByte(' ')
			space = true
		}
	}
	return strings.TrimRight(b.String(), " ")
}

// Fold returns the search key of a name: Upper without spaces, and with AE,
// OE, UE folded to A, O, U, so that Müller, MUELLER and MULLER all become
// MULLER. The key is for finding candidates; ranking compares finer forms.
func Fold(s string) string {
	u := strings.ReplaceAll(Upper(s), " ", "")
	if !strings.Contains(u, "E") {
		return u
	}
	var b strings.Builder
	b.Grow(len(u))
	for i := 0; i < len(u); i++ {
		c := u[i]
		b.WriteByte(c)
		if (c == 'A' || c == 'O' || c == 'U') && i+1 < len(u) && u[i+1] == 'E' {
			i++
		}
	}
	return b.String()
}

// Tokens splits a name into its folded words ("Hans-Peter" → HANS, PETER).
func Tokens(s string) []string {
	var out []string
	for _, w := range strings.Fields(Upper(s)) {
		out = append(out, Fold(w))
	}
	return out
}

// Koelner returns the Kölner Phonetik code of s (digits 0–8). Words are
// coded together, as is usual for compound surnames. An empty or letterless
// name yields "".
func Koelner(s string) string {
	u := strings.ReplaceAll(Upper(s), " ", "")
	if u == "" {
		return ""
	}
	codes := make([]byte, 0, len(u)+2)
	for i := 0; i < len(u); i++ {
		c := u[i]
		var prev, next byte
		if i > 0 {
			prev = u[i-1]
		}
		if i+1 < len(u) {
			next = u[i+1]
		}
		switch c {
		case 'A', 'E', 'I', 'J', 'O', 'U', 'Y':
			codes = append(codes, '0')
		case 'H':
			// not coded
		case 'B':
			codes = append(codes, '1')
		case 'P':
			if next == 'H' {
				codes = append(codes, '3')
			} else {
				codes = append(codes, '1')
			}
		case 'D', 'T':
			if next == 'C' || next == 'S' || next == 'Z' {
				codes = append(codes, '8')
			} else {
				codes = append(codes, '2')
			}
		case 'F', 'V', 'W':
			codes = append(codes, '3')
		case 'G', 'K', 'Q':
			codes = append(codes, '4')
		case 'C':
			if i == 0 {
				if strings.IndexByte("AHKLOQRUX", next) >= 0 {
					codes = append(codes, '4')
				} else {
					codes = append(codes, '8')
				}
			} else if prev == 'S' || prev == 'Z' {
				codes = append(codes, '8')
			} else if strings.IndexByte("AHKOQUX", next) >= 0 {
				codes = append(codes, '4')
			} else {
				codes = append(codes, '8')
			}
		case 'X':
			if prev == 'C' || prev == 'K' || prev == 'Q' {
				codes = append(codes, '8')
			} else {
				codes = append(codes, '4', '8')
			}
		case 'L':
			codes = append(codes, '5')
		case 'M', 'N':
			codes = append(codes, '6')
		case 'R':
			codes = append(codes, '7')
		case 'S', 'Z':
			codes = append(codes, '8')
		}
	}
	// Collapse runs of the same code, then drop zeros except a leading one.
	out := make([]byte, 0, len(codes))
	for i, c := range codes {
		if i > 0 && codes[i-1] == c {
			continue
		}
		if c == '0' && len(out) > 0 {
			continue
		}
		out = append(out, c)
	}
	return string(out)
}
