// Package ident normalises and checks the identifiers Auskunft looks up:
// German licence plates (with OCR near-misses), vehicle identification
// numbers (ISO 3779) and travel-document numbers (ICAO 9303 check digits).
package ident

import (
	"bufio"
	_ "embed"
	"slices"
	"strings"
	"sync"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

//go:embed districts.tsv
var districtsTSV string

// District is one German registration district code.
type District struct {
	Code  string // e.g. "M", "WÜ", "BGL"
	Place string // the place the code is derived from ("-" for federal series)
	State string // federal state, or "bundesweit"
}

var districts = sync.OnceValue(func() map[string]District {
	m := make(map[string]District, 800)
	sc := bufio.NewScanner(strings.NewReader(districtsTSV))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			continue
		}
		m[f[0]] = District{Code: f[0], Place: f[1], State: f[2]}
	}
	return m
})

// Districts returns all district codes, sorted.
func Districts() []District {
	m := districts()
	out := make([]District, 0, len(m))
	for _, d := range m {
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b District) int { return strings.Compare(a.Code, b.Code) })
	return out
}

// ValidDistrict reports whether code is a German district code.
func ValidDistrict(code string) bool {
	_, ok := districts()[code]
	return ok
}

// MaxPlateLen bounds plate input in bytes; no plate anywhere is longer.
const MaxPlateLen = 32

// PlateKey returns the lookup key of a plate as typed or read: upper case,
// separators (space, hyphen, colon, dot) removed, umlauts kept as Ä, Ö, Ü
// (BÖ and BO are different districts). Characters that never occur on
// plates are dropped. Plates of every country use the same key.
func PlateKey(s string) string {
	var b strings.Builder
	for _, r := range norm.NFC.String(s) {
		r = unicode.ToUpper(r)
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == 'Ä' || r == 'Ö' || r == 'Ü' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Plate is a German plate split into its parts.
type Plate struct {
	District string // 1–3 letters, a valid district code
	Letters  string // 1–2 recognition letters (none for some federal series)
	Digits   string // 1–4 digits, no leading zero
	Suffix   string // "E" (electric), "H" (historic) or ""
}

// String formats the plate the usual way: "M-AB 123E".
func (p Plate) String() string {
	if p.Letters == "" {
		return p.District + " " + p.Digits + p.Suffix
	}
	return p.District + "-" + p.Letters + " " + p.Digits + p.Suffix
}

// Key is the plate's lookup key.
func (p Plate) Key() string { return p.District + p.Letters + p.Digits + p.Suffix }

// ParsePlate reads s as a German plate. With separators (B-AB 123,
// "B AB 123") the split is taken from them; without (BAB123) every split
// into a valid district, letters and digits is returned, since BA-B 123
// and B-AB 123 are different vehicles. Written-out umlauts in the district
// (MUE-AB 1) are read as the umlaut when only that is a valid district.
func ParsePlate(s string) []Plate {
	if len(s) > MaxPlateLen {
		return nil
	}
	s = strings.ToUpper(norm.NFC.String(strings.TrimSpace(s)))
	fields := strings.FieldsFunc(s, func(r rune) bool {
		return r == ' ' || r == '-' || r == ':' || r == '.' || r == '·' || r == '\t'
	})
	var out []Plate
	switch len(fields) {
	case 0:
		return nil
	case 1:
		out = splits(PlateKey(fields[0]))
	default:
		district := umlautDistrict(PlateKey(fields[0]))
		rest := PlateKey(strings.Join(fields[1:], ""))
		if p, ok := tail(district, rest); ok {
			out = append(out, p)
		} else if !ValidDistrict(district) {
			// "BAB 123": the separator is not after the district.
			out = splits(PlateKey(s))
		}
	}
	return out
}

// umlautDistrict maps MUE → MÜ where MUE is not itself a district.
func umlautDistrict(d string) string {
	if ValidDistrict(d) {
		return d
	}
	r := strings.NewReplacer("AE", "Ä", "OE", "Ö", "UE", "Ü").Replace(d)
	if ValidDistrict(r) {
		return r
	}
	return d
}

// splits returns every reading of a separator-less key.
func splits(key string) []Plate {
	var out []Plate
	rs := []rune(key)
	for n := 1; n <= 3 && n < len(rs); n++ {
		if p, ok := tail(string(rs[:n]), string(rs[n:])); ok {
			out = append(out, p)
		}
	}
	return out
}

// tail parses the part after the district: letters, digits, suffix.
func tail(district, rest string) (Plate, bool) {
	if !ValidDistrict(district) {
		return Plate{}, false
	}
	p := Plate{District: district}
	i := 0
	for i < len(rest) && rest[i] >= 'A' && rest[i] <= 'Z' {
		i++
	}
	p.Letters = rest[:i]
	j := i
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	p.Digits = rest[i:j]
	p.Suffix = rest[j:]
	if len(p.Letters) > 2 || len(p.Digits) < 1 || len(p.Digits) > 4 || p.Digits[0] == '0' {
		return Plate{}, false
	}
	if p.Suffix != "" && p.Suffix != "E" && p.Suffix != "H" {
		return Plate{}, false
	}
	// Letters may only be missing on federal series (Bundeswehr, THW, …).
	if p.Letters == "" && districts()[district].State != "bundesweit" {
		return Plate{}, false
	}
	if len([]rune(district))+len(p.Letters)+len(p.Digits) > 8 {
		return Plate{}, false
	}
	return p, true
}

// ocrConfusions lists characters that OCR (and tired eyes) mistake for
// each other on plates.
var ocrConfusions = map[rune][]rune{
	'0': {'O', 'D', 'Q'}, 'O': {'0', 'D', 'Q', 'Ö'}, 'D': {'0', 'O'}, 'Q': {'0', 'O'},
	'1': {'I', 'L', '7'}, 'I': {'1', 'L'}, 'L': {'1', 'I'}, '7': {'1', 'T'}, 'T': {'7'},
	'8': {'B'}, 'B': {'8'}, '5': {'S'}, 'S': {'5'}, '2': {'Z'}, 'Z': {'2'},
	'6': {'G'}, 'G': {'6', 'C'}, 'C': {'G'}, '4': {'A'}, 'A': {'4', 'Ä'},
	'U': {'V', 'Ü'}, 'V': {'U'}, 'M': {'N'}, 'N': {'M'}, 'E': {'F'}, 'F': {'E'},
	'Ä': {'A'}, 'Ö': {'O'}, 'Ü': {'U'},
}

// MaxCandidates bounds the near-miss keys PlateCandidates returns.
const MaxCandidates = 256

// PlateCandidates returns lookup keys within one or two OCR confusions of
// key that read as a valid German plate, excluding key itself, at most
// MaxCandidates, single confusions first.
func PlateCandidates(key string) []string {
	rs := []rune(key)
	if len(rs) == 0 || len(rs) > 10 {
		return nil
	}
	seen := map[string]bool{key: true}
	var one, two []string
	valid := func(k string) bool { return len(splits(k)) > 0 }
	v := slices.Clone(rs) // mutated in place and restored
	for i, r := range rs {
		for _, a := range ocrConfusions[r] {
			v[i] = a
			if k := string(v); !seen[k] {
				seen[k] = true
				if valid(k) {
					one = append(one, k)
				}
			}
			for j := i + 1; j < len(rs); j++ {
				for _, b := range ocrConfusions[rs[j]] {
					v[j] = b
					if k2 := string(v); !seen[k2] {
						seen[k2] = true
						if valid(k2) {
							two = append(two, k2)
						}
					}
				}
				v[j] = rs[j]
			}
		}
		v[i] = r
	}
	slices.Sort(one)
	slices.Sort(two)
	out := append(one, two...)
	if len(out) > MaxCandidates {
		out = out[:MaxCandidates]
	}
	return out
}
