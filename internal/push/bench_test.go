package push_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/wache/wache/internal/harness"
	"github.com/wache/wache/internal/push"
)

// BenchmarkNotify: pushes per second through the whole path (subscription
// lookup, RFC 8291 encryption, VAPID signature, HTTP POST on loopback to a
// push service that answers 201). One op = one push.
func BenchmarkNotify(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	n := harness.Start(b, harness.Options{})
	ctx := context.Background()
	const devices = 200
	ids := make([]string, devices)
	for i := range devices {
		_, d := n.Device(b, fmt.Sprintf("bench%d@%s", i, harness.Domain))
		ids[i] = d.ID
		sub, err := push.ValidateSubscription(newBrowserB(b).subscription(fmt.Sprintf("%s/d/%d", srv.URL, i)), true)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := n.App.Push.Subscribe(ctx, d.ID, sub); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for sent := 0; sent < b.N; sent += devices {
		if err := n.App.Push.Notify(ctx, ids[:min(devices, b.N-sent)], push.Notification{Kind: push.KindAlarm}); err != nil {
			b.Fatal(err)
		}
		if err := n.App.Push.Flush(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
