package load

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestRunInProcess is a short end-to-end run: every acknowledged envelope
// must reach every device of its conversation.
func TestRunInProcess(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out strings.Builder
	s, err := Run(ctx, Config{Devices: 6, Senders: 2, Convs: 2, Rate: 40, Duration: 700 * time.Millisecond, Size: 256,
		Drain: 10 * time.Second, Progress: &out})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if s.Acked == 0 || s.Failed != 0 {
		t.Fatalf("acked %d, failed %d (%v)", s.Acked, s.Failed, s.Errors)
	}
	// Two conversations of three devices each.
	if s.Expected != 3*s.Acked || s.Delivered != s.Expected {
		t.Fatalf("delivered %d, expected %d for %d acked", s.Delivered, s.Expected, s.Acked)
	}
	if s.E2E.N != s.Delivered || s.Post.N != s.Acked {
		t.Fatalf("histograms hold %d/%d samples, want %d/%d", s.E2E.N, s.Post.N, s.Delivered, s.Acked)
	}
	var sum strings.Builder
	s.Write(&sum)
	for _, want := range []string{"sent ", "delivered ", "send→receive p50"} {
		if !strings.Contains(sum.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, sum.String())
		}
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{Devices: 10, Senders: 2, Duration: time.Second, Size: 1024}
	tests := []struct {
		name string
		mod  func(*Config)
		want string // substring of the error; "" = valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"no devices", func(c *Config) { c.Devices = 0 }, "--devices"},
		{"too many devices", func(c *Config) { c.Devices = MaxDevices + 1 }, "--devices"},
		{"more senders than devices", func(c *Config) { c.Senders = 11 }, "--senders"},
		{"no duration", func(c *Config) { c.Duration = 0 }, "--duration"},
		{"endless", func(c *Config) { c.Duration = 25 * time.Hour }, "--duration"},
		{"tiny payload", func(c *Config) { c.Size = 4 }, "--size"},
		{"huge payload", func(c *Config) { c.Size = 1 << 20 }, "--size"},
		{"negative rate", func(c *Config) { c.Rate = -1 }, "--rate"},
		{"bad prefix", func(c *Config) { c.Prefix = "a b" }, "--prefix"},
		{"server without data", func(c *Config) { c.Server = "http://127.0.0.1:8080" }, "--data"},
		{"server with db", func(c *Config) { c.Server, c.DataDir, c.DB = "http://127.0.0.1:8080", "d", "postgres://x" }, "--db"},
		{"tokens for a temporary server", func(c *Config) { c.Tokens = "t.json" }, "--tokens"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.mod(&c)
			err := c.Validate()
			if tt.want == "" && err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("error %v, want one about %s", err, tt.want)
			}
		})
	}
}

func TestCheckLoopback(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8080", true},
		{"http://[::1]:8080", true},
		{"http://localhost:8080", true},
		{"https://127.0.0.2", true},
		{"http://10.0.0.1:8080", false},
		{"http://192.0.2.1", false},
		{"ftp://127.0.0.1", false},
		{"127.0.0.1:8080", false},
	} {
		if err := checkLoopback(ctx, tt.url); (err == nil) != tt.ok {
			t.Errorf("checkLoopback(%s) = %v, want ok=%v", tt.url, err, tt.ok)
		}
	}
}
