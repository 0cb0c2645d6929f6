package mrz

import (
	"strings"

	"github.com/wache/wache"
)

// GermanSerialAlphabet holds the letters German ID cards and passports use
// in their serial numbers (besides digits): no vowels and none of the
// letters easily confused with digits (B, D, O, Q, S, I).
const GermanSerialAlphabet = "CFGHJKLMNPRTVWXYZ"

// German holds what a German document's MRZ tells beyond the ICAO fields.
type German struct {
	// DocumentType names the document in German, "" if the code is not one
	// Germany issues.
	DocumentType string `json:"document_type"`
	// SerialAlphabetOK is false when the document number holds a character
	// German serial numbers never use (a misread or a forgery).
	SerialAlphabetOK bool `json:"serial_alphabet_ok"`
}

// germanTypes names the document codes Germany issues.
var germanTypes = map[string]string{
	"ID": "Personalausweis",
	"IT": "Vorläufiger Personalausweis",
	"P":  "Reisepass",
	"PP": "Reisepass",
	"PC": "Kinderreisepass",
	"PT": "Vorläufiger Reisepass",
	"PO": "Dienstpass",
	"PD": "Diplomatenpass",
	"AR": "Aufenthaltstitel",
}

// germanNumbered reports whether a German document with this code uses the
// restricted serial alphabet (ID cards and passports).
func germanNumbered(code string) bool {
	return code[0] == 'I' || code[0] == 'P'
}

func (p *parser) german(l layout) {
	code := strings.TrimRight(p.text(l.code), "<")
	g := &German{DocumentType: germanTypes[code], SerialAlphabetOK: true}
	if germanNumbered(p.text(l.code)) {
		for i := 0; i < len(p.res.DocumentNumber); i++ {
			if !allowed(kGermanDoc, p.res.DocumentNumber[i]) {
				g.SerialAlphabetOK = false
			}
		}
		if !g.SerialAlphabetOK {
			p.field("document_number", false, "character not used in German serial numbers")
		}
	}
	p.res.German = g
}

// Transliterate writes a name the way ICAO 9303 puts it into an MRZ:
// upper case, German umlauts and ß spelled out (Ä→AE, Ö→OE, Ü→UE, ß→SS),
// other Latin letters with diacritics reduced to their base letter, spaces
// and hyphens as '<'. Use it to compare a typed name with an MRZ name.
func Transliterate(name string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(name) {
		switch r {
		case 'Ä':
			b.WriteString("AE")
		case 'Ö':
			b.WriteString("OE")
		case 'Ü':
			b.WriteString("UE")
		case 'ß', 'ẞ':
			b.WriteString("SS")
		case 'Å':
			b.WriteString("AA")
		case 'Æ':
			b.WriteString("AE")
		case 'Ø':
			b.WriteString("OE")
		case ' ', '-', '\'':
			b.WriteByte('<')
		default:
			if r >= 'A' && r <= 'Z' {
				b.WriteRune(r)
			} else if base, ok := latinBase[r]; ok {
				b.WriteByte(base)
			}
		}
	}
	return b.String()
}

// latinBase maps accented capitals to their base letter.
var latinBase = func() map[rune]byte {
	m := map[rune]byte{}
	for base, list := range map[byte]string{
		'A': "ÀÁÂÃĀĂĄ", 'C': "ÇĆĈĊČ", 'D': "ĎĐ", 'E': "ÈÉÊËĒĔĖĘĚ", 'G': "ĜĞĠĢ",
		'H': "ĤĦ", 'I': "ÌÍÎÏĨĪĬĮİ", 'J': "Ĵ", 'K': "Ķ", 'L': "ĹĻĽĿŁ", 'N': "ÑŃŅŇ",
		'O': "ÒÓÔÕŌŎŐ", 'R': "ŔŖŘ", 'S': "ŚŜŞŠ", 'T': "ŢŤŦ", 'U': "ÙÚÛŨŪŬŮŰŲ",
		'W': "Ŵ", 'Y': "ÝŶŸ", 'Z': "ŹŻŽ",
	} {
		for _, r := range list {
			m[r] = base
		}
	}
	return m
}()

// DrivingLicence is a parsed German card driving-licence number
// (Führerscheinnummer, field 5 of the card).
type DrivingLicence struct {
	Number    string `json:"number"`
	Authority string `json:"authority"` // Behördenschlüssel: state letter A-P, then three characters
	Serial    string `json:"serial"`
	Check     string `json:"check"`
	Issue     string `json:"issue"` // Ausfertigungsnummer
	Valid     bool   `json:"valid"`
}

// ParseDrivingLicence checks a German driving-licence number: 11 characters,
// four of authority code (the first a letter A-P for the federal state),
// five of serial, a check character and the issue number. The check is
// the sum of the first nine values (digits as themselves, A=10 … Z=35)
// weighted 9, 8, … 1, modulo 11, with 10 written as X. A wrong check gives
// a result with Valid false; a malformed number gives an error.
func ParseDrivingLicence(s string) (*DrivingLicence, error) {
	s = strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), " ", ""))
	if len(s) != 11 {
		return nil, wache.Errorf(wache.EINVALID, "a German driving-licence number has 11 characters, got %d", len(s))
	}
	for i := 0; i < 11; i++ {
		c := s[i]
		if !(c >= '0' && c <= '9') && !(c >= 'A' && c <= 'Z') {
			return nil, wache.Errorf(wache.EINVALID, "driving-licence number holds %q at position %d; only A-Z and 0-9 are used", c, i+1)
		}
	}
	if s[0] < 'A' || s[0] > 'P' {
		return nil, wache.Errorf(wache.EINVALID, "a driving-licence number starts with the state letter A-P")
	}
	d := &DrivingLicence{Number: s, Authority: s[:4], Serial: s[4:9], Check: s[9:10], Issue: s[10:]}
	d.Valid = DrivingLicenceCheck(s[:9]) == s[9]
	return d, nil
}

// DrivingLicenceCheck computes the check character of the first nine
// characters of a German driving-licence number.
func DrivingLicenceCheck(first9 string) byte {
	sum := 0
	for i := 0; i < len(first9) && i < 9; i++ {
		v, _ := charValue(first9[i])
		sum += v * (9 - i)
	}
	if r := sum % 11; r < 10 {
		return byte('0' + r)
	}
	return 'X'
}
