package push

import (
	"net/http"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 24, 6, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		header string
		want   time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"5", 5 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"-3", 0},
		{"soon", 0},
		{"999999999", 24 * time.Hour}, // bounded
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
	} {
		h := http.Header{}
		if tc.header != "" {
			h.Set("Retry-After", tc.header)
		}
		if got := retryAfter(h, now); got != tc.want {
			t.Errorf("Retry-After %q: %v, want %v", tc.header, got, tc.want)
		}
	}
}

func TestTransient(t *testing.T) {
	for st, want := range map[int]bool{200: false, 201: false, 400: false, 403: false, 404: false, 410: false,
		413: false, 429: true, 500: true, 502: true, 503: true, 504: true} {
		if got := transient(st); got != want {
			t.Errorf("transient(%d) = %v, want %v", st, got, want)
		}
	}
}
