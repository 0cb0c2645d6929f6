package inproc

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/wache/wache/internal/broker"
	"github.com/wache/wache/internal/broker/brokertest"
)

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func TestBroker(t *testing.T) {
	brokertest.Run(t, func(t *testing.T) broker.Broker {
		return NewWithOptions(Options{Logger: testLogger(t)})
	})
}

func TestTriePrunes(t *testing.T) {
	b := NewWithOptions(Options{Logger: testLogger(t)})
	defer b.Close()
	patterns := []string{"a", "a.b", "a.*", "a.>", ">", "*.b.c", "a.b", "device.1.inbox"}
	var subs []broker.Subscription
	for _, p := range patterns {
		s, err := b.Subscribe(p, func(string, []byte) {})
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, s)
	}
	for _, s := range subs {
		if err := s.Unsubscribe(); err != nil {
			t.Fatal(err)
		}
	}
	if !b.root.empty() {
		t.Fatalf("trie not empty after every subscription left: %+v", b.root)
	}
}

func TestQueueBounds(t *testing.T) {
	// A queue bounded by bytes drops what does not fit and keeps the rest.
	b := NewWithOptions(Options{QueueMessages: 3, QueueBytes: 1, Logger: testLogger(t)})
	defer b.Close()
	if _, maxBytes := b.d.Limits(); maxBytes != broker.MaxPayload {
		t.Fatalf("byte bound %d, want it raised to MaxPayload %d", maxBytes, broker.MaxPayload)
	}
	release := make(chan struct{})
	rec := brokertest.NewRecorder()
	brokertest.Subscribe(t, b, "q", func(s string, d []byte) {
		if string(d) == "0" {
			<-release
		}
		rec.Handler(s, d)
	})
	// "0" is taken by the worker (it may or may not have been popped yet when
	// the rest arrive), so 3 or 4 of 0..9 are kept.
	for _, d := range strings.Split("0123456789", "") {
		brokertest.Publish(t, b, "q", d)
	}
	close(release)
	brokertest.Eventually(t, "all to be delivered or dropped", func() bool {
		return len(rec.Msgs())+int(b.Dropped()) == 10
	})
	if n := len(rec.Msgs()); n < 3 || n > 4 {
		t.Fatalf("delivered %d of 10 with a queue of 3, want 3 or 4", n)
	}
	brokertest.Publish(t, b, "q", "end")
	if got := rec.WaitData(t, "end"); got[0] != "0" {
		t.Fatalf("delivered %q", got)
	}
}
