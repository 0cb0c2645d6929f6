package e2e

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wache/wache/api"
	"github.com/wache/wache/client"
	"github.com/wache/wache/internal/harness"
)

// BenchmarkEncryptedFanout measures send → decrypted on every device of a
// group of N member devices, all online over WebSocket, through the real
// server (SQLite) and the full client core (MLS, inbox, local state).
//
//	go test -run '^$' -bench EncryptedFanout -benchtime 20x ./internal/e2e/
func BenchmarkEncryptedFanout(b *testing.B) {
	for _, size := range []int{10, 100} {
		b.Run(fmt.Sprintf("devices=%d", size), func(b *testing.B) {
			n := harness.Start(b, harness.Options{})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			type rx struct {
				mu   sync.Mutex
				seen map[string]time.Time
			}
			var devs []*client.Messenger
			var rxs []*rx
			var members []string
			for i := 0; i < size; i++ {
				email := fmt.Sprintf("officer%03d@%s", i, harness.Domain)
				_, p := n.Login(b, email)
				st := &client.MemState{}
				client.SaveProfile(ctx, st, p)
				m, err := client.OpenMessenger(ctx, st)
				if err != nil {
					b.Fatal(err)
				}
				if err := m.EnsureKeyPackages(ctx, 2, 2); err != nil {
					b.Fatal(err)
				}
				r := &rx{seen: map[string]time.Time{}}
				m.OnMessage = func(msg client.Message) {
					r.mu.Lock()
					r.seen[msg.Payload.Text] = time.Now()
					r.mu.Unlock()
				}
				devs, rxs = append(devs, m), append(rxs, r)
				if i > 0 {
					members = append(members, email)
				}
			}
			start := time.Now()
			conv, err := devs[0].CreateChat(ctx, api.CreateConversationRequest{Kind: "group", Name: "Bench", Members: members})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(time.Since(start).Milliseconds()), "create-ms")
			for _, m := range devs[1:] {
				synced := make(chan struct{})
				var once sync.Once
				go m.Listen(ctx, client.ListenHandler{Synced: func() { once.Do(func() { close(synced) }) }})
				<-synced
			}
			// Wait until every device joined.
			for _, m := range devs[1:] {
				for {
					if g, _ := m.Group(ctx, conv.ID); g != nil {
						break
					}
					time.Sleep(5 * time.Millisecond)
				}
			}
			var all, last []time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				txt := fmt.Sprintf("msg-%d", i)
				sent := time.Now()
				if _, err := devs[0].Send(ctx, conv.ID, client.Payload{V: 1, Type: client.TypeText, Text: txt}); err != nil {
					b.Fatal(err)
				}
				var worst time.Duration
				for _, r := range rxs[1:] {
					for {
						r.mu.Lock()
						at, ok := r.seen[txt]
						r.mu.Unlock()
						if ok {
							all = append(all, at.Sub(sent))
							worst = max(worst, at.Sub(sent))
							break
						}
						time.Sleep(200 * time.Microsecond)
					}
				}
				last = append(last, worst)
			}
			b.StopTimer()
			slices.Sort(all)
			slices.Sort(last)
			pct := func(d []time.Duration, p float64) float64 {
				return float64(d[min(len(d)-1, int(p*float64(len(d))))].Microseconds()) / 1000
			}
			b.ReportMetric(pct(all, 0.5), "p50-ms")
			b.ReportMetric(pct(all, 0.99), "p99-ms")
			b.ReportMetric(pct(last, 0.5), "all-devices-p50-ms")
			b.ReportMetric(pct(last, 0.99), "all-devices-p99-ms")
		})
	}
}
