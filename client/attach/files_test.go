//go:build !js

package attach

import (
	"strings"
	"testing"
)

func TestDisplayName(t *testing.T) {
	long := strings.Repeat("ä", 200) + ".jpg" // 404 bytes
	tests := []struct{ in, want string }{
		{"Lagebild.jpg", "Lagebild.jpg"},
		{"a\nb\x7f.txt", "a_b_.txt"},
		{"bad\xffname", "bad_name"},
		{`win\path.doc`, "win_path.doc"},
		{long, strings.Repeat("ä", 125) + ".jpg"},
	}
	for _, tc := range tests {
		got := displayName(tc.in)
		if got != tc.want {
			t.Errorf("displayName(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if err := (Ref{Name: got}).validateMeta(); err != nil {
			t.Errorf("displayName(%q) = %q is not a valid name: %v", tc.in, got, err)
		}
	}
}
