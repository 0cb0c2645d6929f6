package push_test

import (
	"context"
	"testing"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
	"github.com/wache/wache/internal/harness"
	"github.com/wache/wache/internal/push"
)

// TestWakerPushesDevicesThatDidNotFetch: after the grace time, member
// devices whose cursor is behind what others wrote get one "message" push;
// a device that fetched (acknowledged) gets none, nor does the sender, nor
// a device pushed for the same conversation a moment ago.
func TestWakerPushesDevicesThatDidNotFetch(t *testing.T) {
	forBackends(t, func(t *testing.T, pg bool) {
		ps := startPushService(t)
		n := harness.Start(t, harness.Options{Postgres: pg})
		ctx := context.Background()
		anna, ap := n.Login(t, "anna.schmidt@"+harness.Domain)
		ben, bp := n.Login(t, "ben.mueller@"+harness.Domain)
		clara, _ := n.Login(t, "clara.wagner@"+harness.Domain)
		for c, path := range map[interface {
			SubscribePush(context.Context, api.PushSubscription) (int, error)
		}]string{anna: "/anna", ben: "/ben", clara: "/clara"} {
			if _, err := c.SubscribePush(ctx, newBrowser(t).subscription(ps.URL+path)); err != nil {
				t.Fatal(err)
			}
		}
		conv, err := anna.CreateConversation(ctx, api.CreateConversationRequest{Kind: "group", Name: "Streife",
			Members: []string{"ben.mueller@" + harness.Domain, "clara.wagner@" + harness.Domain}})
		if err != nil {
			t.Fatal(err)
		}
		w := n.App.Push.NewWaker(push.WakerOptions{Grace: 100 * time.Millisecond, Repeat: time.Hour})
		defer w.Close()

		post := func(c interface {
			Post(context.Context, string, string, []byte) (*api.PostEnvelopeResponse, error)
		}, id string) int64 {
			res, err := c.Post(ctx, conv.ID, id, []byte("opaque ciphertext"))
			if err != nil {
				t.Fatal(err)
			}
			return res.Seq
		}
		s1 := post(anna, "m1")
		if err := clara.Ack(ctx, conv.ID, s1); err != nil { // clara is online
			t.Fatal(err)
		}
		w.EnvelopeAccepted(&wache.Envelope{ConvID: conv.ID, Seq: s1, SenderID: ap.UserID, Kind: wache.EnvApp})
		r := ps.next(t)
		if r.path != "/ben" || r.header.Get("Urgency") != "normal" || r.header.Get("Topic") != "message" {
			t.Fatalf("first wake: %s urgency %q", r.path, r.header.Get("Urgency"))
		}

		// A second message soon after: ben was just woken; commits and alarm
		// envelopes are not this waker's business.
		s2 := post(anna, "m2")
		w.EnvelopeAccepted(&wache.Envelope{ConvID: conv.ID, Seq: s2, SenderID: ap.UserID, Kind: wache.EnvApp})
		w.EnvelopeAccepted(&wache.Envelope{ConvID: conv.ID, Seq: s2 + 100, SenderID: ap.UserID, Kind: wache.EnvCommit})
		w.EnvelopeAccepted(&wache.Envelope{ConvID: conv.ID, Seq: s2 + 101, SenderID: ap.UserID, Kind: wache.EnvApp, Priority: "alarm"})

		// Ben answers, urgently: anna (cursor 0) and clara (behind now) are
		// woken with high urgency; ben is not woken for his own message.
		s3 := post(ben, "m3")
		w.EnvelopeAccepted(&wache.Envelope{ConvID: conv.ID, Seq: s3, SenderID: bp.UserID, Kind: wache.EnvApp, Priority: "urgent"})
		got := map[string]string{}
		for range 2 {
			r := ps.next(t)
			got[r.path] = r.header.Get("Urgency")
		}
		if got["/anna"] != "high" || got["/clara"] != "high" {
			t.Fatalf("second wake: %v", got)
		}
		time.Sleep(300 * time.Millisecond) // let any wrong check fire
		w.Close()
		if err := n.App.Push.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		ps.none(t)
	})
}

// TestRelayWakesOfflineDevice: the node's real wiring. A message posted
// through the API reaches the push service of a member device that has no
// live session, after the default grace time; the sender's device gets
// nothing.
func TestRelayWakesOfflineDevice(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the 15 s grace time")
	}
	ps := startPushService(t)
	n := harness.Start(t, harness.Options{})
	ctx := context.Background()
	anna, _ := n.Login(t, "anna.schmidt@"+harness.Domain)
	ben, _ := n.Login(t, "ben.mueller@"+harness.Domain)
	for c, path := range map[interface {
		SubscribePush(context.Context, api.PushSubscription) (int, error)
	}]string{anna: "/anna", ben: "/ben"} {
		if _, err := c.SubscribePush(ctx, newBrowser(t).subscription(ps.URL+path)); err != nil {
			t.Fatal(err)
		}
	}
	conv, err := anna.CreateConversation(ctx, api.CreateConversationRequest{Kind: "direct", Members: []string{"ben.mueller@" + harness.Domain}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := anna.Post(ctx, conv.ID, "hello-1", []byte("opaque ciphertext")); err != nil {
		t.Fatal(err)
	}
	r := ps.within(t, 45*time.Second)
	if r.path != "/ben" || r.header.Get("Topic") != push.KindMessage {
		t.Fatalf("push to %s topic %q", r.path, r.header.Get("Topic"))
	}
	n.App.Push.Flush(ctx)
	ps.none(t)
}
