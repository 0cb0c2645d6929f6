package mrz

// charValue is the ICAO 9303 value of an MRZ character: digits count as
// themselves, A-Z as 10-35 and the filler '<' as 0. ok is false for any
// other byte.
func charValue(c byte) (v int, ok bool) {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0'), true
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10, true
	case c == '<':
		return 0, true
	}
	return 0, false
}

// CheckDigit computes the ICAO 9303 check digit (weights 7-3-1, modulo 10)
// of s. ok is false if s holds a character outside the MRZ alphabet.
func CheckDigit(s string) (digit byte, ok bool) {
	weights := [3]int{7, 3, 1}
	sum := 0
	for i := 0; i < len(s); i++ {
		v, ok := charValue(s[i])
		if !ok {
			return 0, false
		}
		sum += v * weights[i%3]
	}
	return byte('0' + sum%10), true
}

// checkMatches reports whether the check character c is right for data.
// A filler '<' counts as 0, which ICAO allows where an optional field is
// empty.
func checkMatches(data string, c byte) bool {
	d, ok := CheckDigit(data)
	if !ok {
		return false
	}
	if c == '<' {
		c = '0'
	}
	return c == d
}
