package ident

import (
	"strings"
	"unicode"
)

// MaxVINLen and MaxDocNumberLen bound identifier input in bytes.
const (
	MaxVINLen       = 64
	MaxDocNumberLen = 64
)

// NormalizeVIN returns the lookup key of a vehicle identification number:
// upper case without spaces or hyphens. I, O and Q never occur in a VIN
// (ISO 3779), so they are read as the digits they are mistaken for.
func NormalizeVIN(s string) string {
	if len(s) > MaxVINLen {
		s = s[:MaxVINLen]
	}
	var b strings.Builder
	for _, r := range s {
		r = unicode.ToUpper(r)
		switch {
		case r == 'I':
			b.WriteByte('1')
		case r == 'O' || r == 'Q':
			b.WriteByte('0')
		case r >= 'A' && r <= 'Z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		}
	}
	return b.String()
}

// vinValue is the ISO 3779 / North-American transliteration of VIN letters.
var vinValue = [26]int{
	1, 2, 3, 4, 5, 6, 7, 8, -1, 1, 2, 3, 4, 5, -1, 7, -1, 9, 2, 3, 4, 5, 6, 7, 8, 9,
}

var vinWeight = [17]int{8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2}

// VINCheckDigit computes the check digit of a 17-character VIN (position 9,
// as mandated in North America and used by many manufacturers elsewhere).
// ok is false when vin is not 17 valid characters.
func VINCheckDigit(vin string) (digit byte, ok bool) {
	if len(vin) != 17 {
		return 0, false
	}
	sum := 0
	for i := 0; i < 17; i++ {
		c := vin[i]
		var v int
		switch {
		case c >= '0' && c <= '9':
			v = int(c - '0')
		case c >= 'A' && c <= 'Z':
			v = vinValue[c-'A']
			if v < 0 {
				return 0, false
			}
		default:
			return 0, false
		}
		sum += v * vinWeight[i]
	}
	r := sum % 11
	if r == 10 {
		return 'X', true
	}
	return byte('0' + r), true
}

// ValidVINFormat reports whether vin is 17 characters of the VIN alphabet.
// European VINs need not carry a check digit, so imports check only this.
func ValidVINFormat(vin string) bool {
	_, ok := VINCheckDigit(vin)
	return ok
}

// ValidVINCheckDigit reports whether vin's ninth character is its check digit.
func ValidVINCheckDigit(vin string) bool {
	d, ok := VINCheckDigit(vin)
	return ok && vin[8] == d
}

// NormalizeDocNumber returns the lookup key of a document number: upper
// case, without spaces, hyphens and the MRZ filler '<'.
func NormalizeDocNumber(s string) string {
	if len(s) > MaxDocNumberLen {
		s = s[:MaxDocNumberLen]
	}
	var b strings.Builder
	for _, r := range s {
		r = unicode.ToUpper(r)
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// ICAOCheckDigit computes the ICAO 9303 check digit of s (digits, A–Z and
// the filler '<'; weights 7, 3, 1). ok is false for other characters.
func ICAOCheckDigit(s string) (digit byte, ok bool) {
	weights := [3]int{7, 3, 1}
	sum := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		var v int
		switch {
		case c >= '0' && c <= '9':
			v = int(c - '0')
		case c >= 'A' && c <= 'Z':
			v = int(c-'A') + 10
		case c == '<':
			v = 0
		default:
			return 0, false
		}
		sum += v * weights[i%3]
	}
	return byte('0' + sum%10), true
}

// GermanDocAlphabet is the character set of German identity-card and
// passport serial numbers (no vowels, and no letters that look like digits).
const GermanDocAlphabet = "CFGHJKLMNPRTVWXYZ0123456789"

// DocKeys returns the lookup keys for a document number as queried: its
// key, and when the query is nine characters plus a valid ICAO check digit
// (copied from a machine-readable zone), also the nine-character number.
func DocKeys(s string) []string {
	k := NormalizeDocNumber(s)
	if k == "" {
		return nil
	}
	keys := []string{k}
	if len(k) == 10 {
		if d, ok := ICAOCheckDigit(k[:9]); ok && d == k[9] {
			keys = append(keys, k[:9])
		}
	}
	return keys
}
