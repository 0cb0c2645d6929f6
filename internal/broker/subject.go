package broker

import (
	"strconv"
	"strings"

	"github.com/wache/wache"
)

// Limits every implementation enforces, so that code written against one
// behaves the same on the other.
const (
	// MaxSubjectLen bounds subjects and patterns in bytes (before any
	// namespace an implementation adds).
	MaxSubjectLen = 256
	// MaxPayload bounds the data of one message. Notifications are small;
	// the limit only stops a bug from pushing megabytes through every node.
	MaxPayload = 1 << 20
)

// ErrClosed is returned by Publish and Subscribe after Close.
var ErrClosed = &wache.Error{Code: wache.EUNAVAILABLE, Message: "broker is closed"}

// ValidateSubject checks a publish subject: 1 to MaxSubjectLen bytes of
// non-empty tokens separated by '.', each made of printable ASCII other than
// '.', '*' and '>'. Wildcards are for subscriptions only.
func ValidateSubject(subject string) error {
	return validate(subject, false)
}

// ValidatePattern checks a subscription pattern: like a subject, except that
// a whole token may be "*" (exactly one token) and the last token may be ">"
// (one or more tokens).
func ValidatePattern(pattern string) error {
	return validate(pattern, true)
}

func validate(s string, wildcards bool) error {
	kind := "subject"
	if wildcards {
		kind = "pattern"
	}
	if s == "" {
		return wache.Errorf(wache.EINVALID, "broker: empty %s", kind)
	}
	if len(s) > MaxSubjectLen {
		return wache.Errorf(wache.EINVALID, "broker: %s longer than %d bytes", kind, MaxSubjectLen)
	}
	rest := s
	for n := 1; ; n++ {
		tok, after, more := strings.Cut(rest, ".")
		if err := validToken(tok, n, wildcards, more); err != nil {
			return wache.Errorf(wache.EINVALID, "broker: %s %q: %s", kind, s, err)
		}
		if !more {
			return nil
		}
		rest = after
	}
}

type tokenError string

func (e tokenError) Error() string { return string(e) }

// validToken checks token n (1-based); more tells whether tokens follow.
func validToken(tok string, n int, wildcards, more bool) error {
	if tok == "" {
		return tokenError("empty token " + strconv.Itoa(n))
	}
	if tok == "*" || tok == ">" {
		switch {
		case !wildcards:
			return tokenError("wildcard " + tok + " in a publish subject")
		case tok == ">" && more:
			return tokenError("\">\" must be the last token")
		}
		return nil
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		switch {
		case c == '*' || c == '>':
			return tokenError("wildcard " + string(c) + " inside token " + strconv.Itoa(n) + " (wildcards must be whole tokens)")
		case c <= ' ' || c >= 0x7f:
			return tokenError("token " + strconv.Itoa(n) + " has a character outside printable ASCII")
		}
	}
	return nil
}
