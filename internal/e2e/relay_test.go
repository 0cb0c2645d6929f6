package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wache/wache/api"
	"github.com/wache/wache/client"
	"github.com/wache/wache/internal/harness"
)

// receiver records what one device's client core handed to the app.
type receiver struct {
	mu    sync.Mutex
	seqs  []int64
	texts []string
	raw   int // envelopes seen on the wire, repeats included
}

func (r *receiver) handle(_ context.Context, e api.Envelope) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seqs = append(r.seqs, e.Seq)
	r.texts = append(r.texts, string(e.Payload))
	return nil
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seqs)
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkExactlyOnce asserts that r got want messages "msg-0000"… in order,
// each exactly once.
func checkExactlyOnce(t *testing.T, name string, r *receiver, want int) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.seqs) != want {
		t.Fatalf("%s received %d messages, want %d", name, len(r.seqs), want)
	}
	for i := range r.seqs {
		if i > 0 && r.seqs[i] <= r.seqs[i-1] {
			t.Fatalf("%s: seq %d after %d: out of order or repeated", name, r.seqs[i], r.seqs[i-1])
		}
		if wantText := fmt.Sprintf("msg-%04d", i); r.texts[i] != wantText {
			t.Fatalf("%s: message %d is %q, want %q", name, i, r.texts[i], wantText)
		}
	}
}

func TestThousandMessagesWithReconnect(t *testing.T) {
	const total = 1000
	for _, backend := range []struct {
		name string
		opts harness.Options
	}{
		{"sqlite", harness.Options{}},
		{"postgres", harness.Options{Postgres: true}},
		{"sqlite+nats-embedded", harness.Options{Broker: "nats-embedded"}},
	} {
		t.Run(backend.name, func(t *testing.T) {
			n := harness.Start(t, backend.opts)
			anna, _ := n.Login(t, "anna.schmidt@"+harness.Domain)
			ben, _ := n.Login(t, "ben.mueller@"+harness.Domain)
			clara, _ := n.Login(t, "clara.wagner@"+harness.Domain)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			conv, err := anna.CreateConversation(ctx, api.CreateConversationRequest{Kind: "group", Name: "Streife 12",
				Members: []string{"ben.mueller@" + harness.Domain, "clara.wagner@" + harness.Domain}})
			if err != nil {
				t.Fatal(err)
			}

			var benR, claraR receiver
			benIn, _ := client.OpenInbox(ctx, &client.MemState{})
			claraState := &client.MemState{} // survives the disconnect, like a phone's storage
			claraIn, _ := client.OpenInbox(ctx, claraState)
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = ben.Listen(ctx, benIn, client.ListenHandler{Envelope: benR.handle})
			}()
			claraCtx, claraDrop := context.WithCancel(ctx)
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = clara.Listen(claraCtx, claraIn, client.ListenHandler{Envelope: claraR.handle})
			}()

			sendDone := make(chan error, 1)
			go func() {
				for i := 0; i < total; i++ {
					p := []byte(fmt.Sprintf("msg-%04d", i))
					if _, err := anna.Post(ctx, conv.ID, client.NewClientID(), p); err != nil {
						sendDone <- err
						return
					}
				}
				sendDone <- nil
			}()

			// Clara's link drops midway and comes back while Anna keeps sending.
			waitFor(t, "clara to receive 300", time.Minute, func() bool { return claraR.count() >= 300 })
			claraDrop()
			time.Sleep(300 * time.Millisecond)
			claraIn2, err := client.OpenInbox(ctx, claraState) // as after an app restart
			if err != nil {
				t.Fatal(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = clara.Listen(ctx, claraIn2, client.ListenHandler{Envelope: claraR.handle})
			}()

			if err := <-sendDone; err != nil {
				t.Fatalf("send: %v", err)
			}
			waitFor(t, "ben to receive all", time.Minute, func() bool { return benR.count() >= total })
			waitFor(t, "clara to receive all", time.Minute, func() bool { return claraR.count() >= total })
			time.Sleep(300 * time.Millisecond) // anything extra would arrive now
			cancel()
			wg.Wait()
			checkExactlyOnce(t, "ben", &benR, total)
			checkExactlyOnce(t, "clara", &claraR, total)
		})
	}
}

// TestTwoNodes runs two server nodes on one PostgreSQL database with a
// shared broker: a device connected to one node receives what a device on
// the other node sends, in order.
func TestTwoNodes(t *testing.T) {
	for _, bk := range []string{"nats-embedded-shared", "nats://127.0.0.1:4222"} {
		t.Run(bk, func(t *testing.T) {
			var a, b *harness.Node
			if bk == "nats-embedded-shared" {
				shared := startSharedNATS(t)
				a = harness.Start(t, harness.Options{Postgres: true, Shared: shared})
				b = harness.Start(t, harness.Options{DBURL: a.DBURL, Shared: shared})
			} else {
				url := natsURL(t)
				a = harness.Start(t, harness.Options{Postgres: true, Broker: url})
				b = harness.Start(t, harness.Options{DBURL: a.DBURL, Broker: url})
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			anna, _ := a.Device(t, "anna@"+harness.Domain)
			benOnB, _ := b.Device(t, "ben@"+harness.Domain)
			conv, err := anna.CreateConversation(ctx, api.CreateConversationRequest{Kind: "group", Name: "Lage", Members: []string{"ben@" + harness.Domain}})
			if err != nil {
				t.Fatal(err)
			}
			var r receiver
			in, _ := client.OpenInbox(ctx, &client.MemState{})
			synced := make(chan struct{})
			var once sync.Once
			go benOnB.Listen(ctx, in, client.ListenHandler{Envelope: r.handle, Synced: func() { once.Do(func() { close(synced) }) }})
			<-synced
			const total = 200
			for i := 0; i < total; i++ {
				p := []byte(fmt.Sprintf("msg-%04d", i))
				if _, err := anna.Post(ctx, conv.ID, client.NewClientID(), p); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, "delivery across nodes", 30*time.Second, func() bool { return r.count() >= total })
			checkExactlyOnce(t, "ben on node B", &r, total)
		})
	}
}
