package inproc

import (
	"strings"
	"testing"

	"github.com/wache/wache/internal/broker"
	"github.com/wache/wache/internal/broker/brokertest"
)

// refValid is a deliberately plain second reading of the subject rules.
func refValid(s string, wildcards bool) bool {
	if len(s) == 0 || len(s) > broker.MaxSubjectLen {
		return false
	}
	toks := strings.Split(s, ".")
	for i, tok := range toks {
		if tok == "" {
			return false
		}
		if tok == "*" || (tok == ">" && i == len(toks)-1) {
			if !wildcards {
				return false
			}
			continue
		}
		for _, c := range []byte(tok) {
			if c < 0x21 || c > 0x7e || c == '*' || c == '>' {
				return false
			}
		}
	}
	return true
}

// refMatch matches token lists directly.
func refMatch(pattern, subject string) bool {
	p, s := strings.Split(pattern, "."), strings.Split(subject, ".")
	for i, tok := range p {
		if tok == ">" {
			return len(s) > i
		}
		if i >= len(s) || (tok != "*" && tok != s[i]) {
			return false
		}
	}
	return len(p) == len(s)
}

func FuzzMatch(f *testing.F) {
	for _, c := range brokertest.MatchCases {
		f.Add(c.Pattern, c.Subject)
	}
	for _, s := range []string{"", ".", "a..b", "a.>.b", ">.>", "*.*.>", "a*", "a.\x00", "ä", "a. b",
		strings.Repeat("a.", 128) + "b", strings.Repeat("*.", 127) + ">"} {
		f.Add(s, s)
		f.Add(s, "a.b")
	}
	f.Fuzz(func(t *testing.T, pattern, subject string) {
		perr, serr := broker.ValidatePattern(pattern), broker.ValidateSubject(subject)
		if (perr == nil) != refValid(pattern, true) {
			t.Fatalf("ValidatePattern(%q) = %v, reference says valid=%v", pattern, perr, refValid(pattern, true))
		}
		if (serr == nil) != refValid(subject, false) {
			t.Fatalf("ValidateSubject(%q) = %v, reference says valid=%v", subject, serr, refValid(subject, false))
		}
		if perr != nil || serr != nil {
			return
		}
		var root node
		s, same := &subscription{}, &subscription{}
		root.insert(pattern, s)
		root.insert(subject, same) // a subject is also a pattern matching itself
		got := root.match(subject, nil)
		want := 1
		if refMatch(pattern, subject) {
			want = 2
		}
		if len(got) != want {
			t.Fatalf("pattern %q, subject %q: %d subscriptions matched, want %d", pattern, subject, len(got), want)
		}
		if !root.remove(pattern, s) || !root.remove(subject, same) || root.remove(pattern, s) {
			t.Fatalf("remove of %q / %q did not find exactly the inserted subscriptions", pattern, subject)
		}
		if !root.empty() {
			t.Fatalf("trie not empty after removing %q and %q", pattern, subject)
		}
	})
}
