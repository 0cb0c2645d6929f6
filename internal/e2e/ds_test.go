package e2e

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
	"github.com/wache/wache/client"
	"github.com/wache/wache/internal/harness"
)

// TestDeliveryService exercises the MLS delivery and authentication
// service over HTTP with opaque bytes: KeyPackages handed out once,
// one winner per epoch, Welcomes routed to one device before its backlog.
func TestDeliveryService(t *testing.T) {
	n := harness.Start(t, harness.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	anna, _ := n.Device(t, "anna@"+harness.Domain)
	benPhone, benPhoneDev := n.Device(t, "ben@"+harness.Domain)
	benLaptop, benLaptopDev := n.Device(t, "ben@"+harness.Domain)
	clara, claraDev := n.Device(t, "clara@"+harness.Domain)

	for _, up := range []struct {
		c   *client.Client
		kps []string
	}{{benPhone, []string{"kp-phone-1", "kp-phone-2"}}, {benLaptop, []string{"kp-laptop-1"}}, {clara, []string{"kp-clara"}}} {
		var kps [][]byte
		for _, k := range up.kps {
			kps = append(kps, []byte(k))
		}
		if got, err := up.c.UploadKeyPackages(ctx, kps); err != nil || got != len(kps) {
			t.Fatalf("upload: %d %v", got, err)
		}
	}
	claim, err := anna.ClaimKeyPackages(ctx, []string{"ben@" + harness.Domain})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kp := range claim.KeyPackages {
		got[kp.DeviceID] = string(kp.KeyPackage)
		if kp.Email != "ben@"+harness.Domain || len(kp.SigningKey) != 32 {
			t.Fatalf("claim lacks identity: %+v", kp)
		}
	}
	if got[benPhoneDev.ID] != "kp-phone-1" || got[benLaptopDev.ID] != "kp-laptop-1" {
		t.Fatalf("claimed %v", got)
	}
	claim, err = anna.ClaimKeyPackages(ctx, []string{"ben@" + harness.Domain})
	if err != nil || len(claim.KeyPackages) != 1 || len(claim.MissingDevices) != 1 || claim.MissingDevices[0] != benLaptopDev.ID {
		t.Fatalf("second claim: %+v %v", claim, err)
	}
	if n, _ := benLaptop.KeyPackageCount(ctx); n != 0 {
		t.Fatalf("laptop still holds %d KeyPackages", n)
	}
	benUser := n.User(t, "ben@"+harness.Domain)
	dir, err := anna.UserDevices(ctx, benUser.ID)
	if err != nil || len(dir) != 2 {
		t.Fatalf("directory: %v %v", dir, err)
	}

	cv, err := anna.CreateConversation(ctx, api.CreateConversationRequest{Kind: "group", Name: "MLS", Members: []string{"ben@" + harness.Domain}})
	if err != nil {
		t.Fatal(err)
	}
	// Two members commit for epoch 0 at once: exactly one wins.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, c := range []*client.Client{anna, benPhone} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.PostEnvelope(ctx, cv.ID, api.PostEnvelopeRequest{ClientID: client.NewClientID(), Kind: "commit", Epoch: 0, Payload: []byte("commit")})
		}()
	}
	wg.Wait()
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Fatalf("commit race: %v / %v; want exactly one winner", errs[0], errs[1])
	}
	for _, err := range errs {
		if err != nil && wache.ErrorCode(err) != wache.ECONFLICT {
			t.Fatalf("loser got %v, want conflict", err)
		}
	}
	conv, err := anna.Conversation(ctx, cv.ID)
	if err != nil || conv.Epoch != 1 {
		t.Fatalf("epoch after race: %d %v", conv.Epoch, err)
	}

	// A Welcome only reaches devices of members.
	welcome := []api.OutgoingDeviceMessage{{DeviceID: claraDev.ID, Payload: []byte("welcome for clara")}}
	if err := anna.PostWelcomes(ctx, cv.ID, welcome); wache.ErrorCode(err) != wache.EFORBIDDEN {
		t.Fatalf("welcome to a non-member: %v", err)
	}
	if err := anna.AddMember(ctx, cv.ID, "clara@"+harness.Domain, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := anna.PostEnvelope(ctx, cv.ID, api.PostEnvelopeRequest{ClientID: "add-clara", Kind: "commit", Epoch: 1, Payload: []byte("add clara")}); err != nil {
		t.Fatal(err)
	}
	if err := anna.PostWelcomes(ctx, cv.ID, welcome); err != nil {
		t.Fatal(err)
	}
	p := []byte("hello clara")
	if _, err := anna.Post(ctx, cv.ID, client.NewClientID(), p); err != nil {
		t.Fatal(err)
	}
	// Clara connects: the Welcome comes first, then the add commit and the message.
	var mu sync.Mutex
	var order []string
	in, _ := client.OpenInbox(ctx, &client.MemState{})
	synced := make(chan struct{})
	lctx, lcancel := context.WithCancel(ctx)
	go clara.Listen(lctx, in, client.ListenHandler{
		DeviceMessage: func(_ context.Context, m api.DeviceMessage) error {
			mu.Lock()
			order = append(order, "dm:"+string(m.Payload))
			mu.Unlock()
			return nil
		},
		Envelope: func(_ context.Context, e api.Envelope) error {
			mu.Lock()
			order = append(order, e.Kind+":"+string(e.Payload))
			mu.Unlock()
			return nil
		},
		Synced: func() { close(synced) },
	})
	<-synced
	waitFor(t, "device message ack", 5*time.Second, func() bool {
		ms, err := clara.DeviceMessages(ctx)
		return err == nil && len(ms) == 0
	})
	lcancel()
	mu.Lock()
	defer mu.Unlock()
	if len(order) != 3 || order[0] != "dm:welcome for clara" || order[1] != "commit:add clara" || order[2][:4] != "app:" {
		t.Fatalf("clara saw %q", order)
	}
}
