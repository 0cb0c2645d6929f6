package bench

import (
	"io"
	"log/slog"
	"os"
	"testing"
)

// TestMain keeps the default logger (migrations log through it) quiet
// unless WACHE_TEST_LOG=1, so benchmark output stays readable.
func TestMain(m *testing.M) {
	if os.Getenv("WACHE_TEST_LOG") != "1" {
		slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	}
	os.Exit(m.Run())
}
