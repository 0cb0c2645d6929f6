// Package plate parses and validates German vehicle registration plates
// (FZV Anlage 4): a district code from the official list (1-3 letters,
// some with umlauts), an identification of 1-2 letters and 1-4 digits
// without a leading zero, an optional E (electric) or H (historic) suffix,
// at most 8 characters in all. Official series carry digits only (federal
// BD, BP, BW, THW, Bundeswehr Y, NATO X, and authority plates of any
// district); short-term (03, 04) and dealer plates (06, 07) are numbers
// after the district code. Splitting turns OCR text without separators
// into every valid reading.
package plate

import (
	_ "embed"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/wache/wache"
)

//go:embed districts.tsv
var districtsTSV string

// District is one entry of the district-code list.
type District struct {
	Code      string `json:"code"`
	Districts string `json:"districts"`
	State     string `json:"state"`
}

var districts = func() map[string]District {
	m := map[string]District{}
	for _, line := range strings.Split(districtsTSV, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			panic("plate: malformed districts.tsv line: " + line)
		}
		m[f[0]] = District{Code: f[0], Districts: f[1], State: f[2]}
	}
	return m
}()

// LookupDistrict returns the entry of a district code.
func LookupDistrict(code string) (District, bool) {
	d, ok := districts[code]
	return d, ok
}

// DistrictCodes returns every known district code, sorted.
func DistrictCodes() []string {
	out := make([]string, 0, len(districts))
	for c := range districts {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// Kinds of plates.
const (
	KindNormal     = "normal"     // district, 1-2 letters, 1-4 digits
	KindOfficial   = "official"   // digits only: authority, federal (BD, BP, BW, THW) plates
	KindMilitary   = "military"   // Y: Bundeswehr, digits only
	KindNATO       = "nato"       // X: NATO forces, digits only
	KindShortTerm  = "short_term" // 03/04 + digits: Kurzzeitkennzeichen
	KindDealer     = "dealer"     // 06 + digits: red dealer plate
	KindHistDealer = "historic_dealer"
)

// Plate is one valid reading of a German plate.
type Plate struct {
	// Plate is the normalised form, e.g. "K-AB 1234", "M-XY 12E", "THW-12345".
	Plate    string `json:"plate"`
	District string `json:"district"`
	Letters  string `json:"letters,omitempty"`
	Digits   string `json:"digits"`
	Suffix   string `json:"suffix,omitempty"` // E or H
	Kind     string `json:"kind"`
	// DistrictName and State describe the district code.
	DistrictName string `json:"district_name"`
	State        string `json:"state"`
}

// MaxInput bounds the text Parse and Readings accept.
const MaxInput = 64

// federal codes whose plates carry digits only.
var federalDigitsOnly = map[string]string{"BD": KindOfficial, "BP": KindOfficial, "BW": KindOfficial, "THW": KindOfficial, "Y": KindMilitary, "X": KindNATO}

// Parse validates a plate written with separators ("K-AB 1234", "K AB 1234",
// "THW-12345", "M-E 123E"): the first separator ends the district code.
// Text without separators is ambiguous; use Readings for it.
func Parse(s string) (*Plate, error) {
	if len(s) > MaxInput {
		return nil, wache.Errorf(wache.EINVALID, "plate text is longer than %d bytes", MaxInput)
	}
	if !utf8.ValidString(s) {
		return nil, wache.Errorf(wache.EINVALID, "plate text is not UTF-8")
	}
	s = strings.ToUpper(strings.TrimSpace(s))
	if s == "" {
		return nil, wache.Errorf(wache.EINVALID, "plate is empty")
	}
	i := strings.IndexAny(s, "- :")
	if i < 0 {
		return nil, wache.Errorf(wache.EINVALID, "plate %q has no separator after the district code; use Readings for unseparated text", s)
	}
	district := s[:i]
	rest := strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == ':' {
			return -1
		}
		return r
	}, s[i:])
	// A space between letters and digits is where the letters end.
	parts := strings.Fields(strings.NewReplacer("-", " ", ":", " ").Replace(s[i:]))
	letters := ""
	if len(parts) >= 2 && isLetters(parts[0]) {
		letters = parts[0]
		rest = strings.Join(parts[1:], "")
	}
	return build(district, letters, rest)
}

// build validates district code, letters and the trailing digits+suffix.
func build(district, letters, tail string) (*Plate, error) {
	d, ok := districts[district]
	if !ok {
		return nil, wache.Errorf(wache.EINVALID, "%q is no German district code", district)
	}
	if letters == "" {
		// The tail may still start with letters when the caller did not
		// separate them.
		j := 0
		for j < len(tail) && tail[j] >= 'A' && tail[j] <= 'Z' {
			j++
		}
		letters, tail = tail[:j], tail[j:]
	}
	suffix := ""
	if n := len(tail); n > 0 && (tail[n-1] == 'E' || tail[n-1] == 'H') {
		suffix, tail = tail[n-1:], tail[:n-1]
	}
	digits := tail
	if digits == "" || !isDigits(digits) {
		return nil, wache.Errorf(wache.EINVALID, "plate must end in digits (optionally followed by E or H)")
	}
	if !isLetters(letters) {
		return nil, wache.Errorf(wache.EINVALID, "identification letters must be A-Z")
	}
	p := &Plate{District: district, Letters: letters, Digits: digits, Suffix: suffix, DistrictName: d.Districts, State: d.State}
	total := utf8.RuneCountInString(district) + len(letters) + len(digits) + len(suffix)
	switch {
	case letters != "":
		if len(letters) > 2 {
			return nil, wache.Errorf(wache.EINVALID, "at most 2 identification letters, got %d", len(letters))
		}
		if _, fed := federalDigitsOnly[district]; fed {
			return nil, wache.Errorf(wache.EINVALID, "%s plates carry digits only", district)
		}
		if len(digits) > 4 {
			return nil, wache.Errorf(wache.EINVALID, "at most 4 digits, got %d", len(digits))
		}
		if digits[0] == '0' {
			return nil, wache.Errorf(wache.EINVALID, "the number must not start with 0")
		}
		if total > 8 {
			return nil, wache.Errorf(wache.EINVALID, "a plate has at most 8 characters, got %d", total)
		}
		p.Kind = KindNormal
	default:
		if suffix != "" {
			return nil, wache.Errorf(wache.EINVALID, "E/H suffix only on plates with identification letters")
		}
		if len(digits) > 6 {
			return nil, wache.Errorf(wache.EINVALID, "at most 6 digits on an official plate, got %d", len(digits))
		}
		switch {
		case strings.HasPrefix(digits, "03"), strings.HasPrefix(digits, "04"):
			p.Kind = KindShortTerm
		case strings.HasPrefix(digits, "06"):
			p.Kind = KindDealer
		case strings.HasPrefix(digits, "07"):
			p.Kind = KindHistDealer
		case digits[0] == '0':
			return nil, wache.Errorf(wache.EINVALID, "the number must not start with 0")
		default:
			p.Kind = KindOfficial
			if k, ok := federalDigitsOnly[district]; ok {
				p.Kind = k
			}
		}
		if p.Kind == KindShortTerm || p.Kind == KindDealer || p.Kind == KindHistDealer {
			if len(digits) < 3 {
				return nil, wache.Errorf(wache.EINVALID, "short-term and dealer numbers have digits after 03/04/06/07")
			}
		}
	}
	p.Plate = format(p)
	return p, nil
}

func format(p *Plate) string {
	switch {
	case p.Letters != "":
		return p.District + "-" + p.Letters + " " + p.Digits + p.Suffix
	case p.Kind == KindShortTerm || p.Kind == KindDealer || p.Kind == KindHistDealer:
		return p.District + "-" + p.Digits[:2] + " " + p.Digits[2:]
	default:
		return p.District + "-" + p.Digits
	}
}

func isLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// letterDigit maps letters OCR confuses with digits; after the first digit
// of a plate only digits (and a final E or H) may follow.
var letterDigit = map[rune]rune{'O': '0', 'D': '0', 'Q': '0', 'I': '1', 'L': '1', 'Z': '2', 'S': '5', 'B': '8', 'G': '6', 'T': '7'}

// umlautOf gives the umlaut an OCR engine may have read without its dots.
var umlautOf = map[rune]rune{'A': 'Ä', 'O': 'Ö', 'U': 'Ü'}

// Readings returns every valid reading of plate text, separated or not
// ("DAB1234" → "D-AB 1234", "DA-B 1234"). Separators the text has are
// respected. Letters after the first digit that can only be digits are
// mapped (O→0, I→1, ...). Readings whose district code needs an umlaut
// the text lacks (GO → GÖ) come after the exact ones. Order: exact
// readings by district-code length, then umlaut readings.
func Readings(text string) []Plate {
	if len(text) > MaxInput || !utf8.ValidString(text) {
		return nil
	}
	text = strings.ToUpper(strings.TrimSpace(text))
	sep, sepErr := Parse(text)
	if sepErr == nil && strings.ContainsAny(text, "-:") {
		return []Plate{*sep} // a hyphen or colon marks the district code
	}
	compact := strings.Map(dropSep, text)
	out := splitAll(compact, false)
	out = append(out, splitAll(compact, true)...)
	if sepErr == nil {
		// Spaces are weak evidence: the reading they suggest goes first.
		for i, p := range out {
			if p.Plate == sep.Plate {
				copy(out[1:i+1], out[:i])
				out[0] = p
				break
			}
		}
	}
	return out
}

func dropSep(r rune) rune {
	switch r {
	case ' ', '-', ':', '.', '\t':
		return -1
	}
	return r
}

// splitAll tries every district-code length on compact text.
func splitAll(compact string, umlauts bool) []Plate {
	rs := []rune(compact)
	var out []Plate
	seen := map[string]bool{}
	for n := 1; n <= 3 && n < len(rs); n++ {
		for _, code := range codeVariants(rs[:n], umlauts) {
			rest := rs[n:]
			// Identification letters: 0-2 leading letters of the rest.
			for nl := 0; nl <= 2 && nl <= len(rest); nl++ {
				letters := string(rest[:nl])
				if !isLetters(letters) {
					continue
				}
				tail := mapTail(rest[nl:])
				p, err := build(code, letters, tail)
				if err != nil || seen[p.Plate] {
					continue
				}
				seen[p.Plate] = true
				out = append(out, *p)
			}
		}
	}
	return out
}

// codeVariants returns the code as read, or (umlauts) the variants with
// one umlaut added that are known codes while the plain one is not.
func codeVariants(code []rune, umlauts bool) []string {
	if !umlauts {
		return []string{string(code)}
	}
	var out []string
	for i, r := range code {
		if u, ok := umlautOf[r]; ok {
			v := append([]rune(nil), code...)
			v[i] = u
			if _, known := districts[string(v)]; known {
				out = append(out, string(v))
			}
		}
	}
	return out
}

// mapTail maps letters to digits once the number part has begun (after
// the first digit), keeping a final E/H.
func mapTail(rs []rune) string {
	var b strings.Builder
	inNumber := false
	for i, r := range rs {
		if r >= '0' && r <= '9' {
			inNumber = true
		}
		if inNumber && !(i == len(rs)-1 && (r == 'E' || r == 'H')) {
			if d, ok := letterDigit[r]; ok {
				r = d
			}
		}
		b.WriteRune(r)
	}
	return b.String()
}
