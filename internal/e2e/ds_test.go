package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
	"github.com/wache/wache/internal/harness"
)

// TestDeliveryService exercises the MLS delivery and authentication
// service over HTTP with opaque bytes: KeyPackages handed out once,
// one winner per epoch, Welcomes routed to one device before its backlog.
func TestDeliveryService(t *testing.T) {
	n := harness.Start(t, harness.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	anna := newDevice(t, n, "anna@"+harness.Domain)
	benPhone := newDevice(t, n, "ben@"+harness.Domain)
	benLaptop := newDevice(t, n, "ben@"+harness.Domain)
	clara := newDevice(t, n, "clara@"+harness.Domain)
	stock := func(d *device) int {
		c, err := d.m.API.KeyPackageCount(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	phoneStock, laptopStock := stock(benPhone), stock(benLaptop)
	if phoneStock == 0 || laptopStock == 0 {
		t.Fatal("devices published no KeyPackages")
	}
	claim, err := anna.m.API.ClaimKeyPackages(ctx, []string{"ben@" + harness.Domain})
	if err != nil {
		t.Fatal(err)
	}
	devs := map[string]bool{}
	for _, kp := range claim.KeyPackages {
		devs[kp.DeviceID] = true
		if kp.Email != "ben@"+harness.Domain || len(kp.SigningKey) != 32 || len(kp.KeyPackage) == 0 {
			t.Fatalf("claim lacks identity: %+v", kp)
		}
	}
	if len(devs) != 2 || !devs[benPhone.m.Profile().DeviceID] || !devs[benLaptop.m.Profile().DeviceID] {
		t.Fatalf("claimed for devices %v", devs)
	}
	// Each KeyPackage is handed out once.
	if stock(benPhone) != phoneStock-1 || stock(benLaptop) != laptopStock-1 {
		t.Fatal("a claim did not use up exactly one KeyPackage per device")
	}
	one, err := anna.m.API.ClaimDeviceKeyPackages(ctx, []string{benLaptop.m.Profile().DeviceID})
	if err != nil || len(one.KeyPackages) != 1 || one.KeyPackages[0].DeviceID != benLaptop.m.Profile().DeviceID {
		t.Fatalf("device claim: %+v %v", one, err)
	}
	benUser := n.User(t, "ben@"+harness.Domain)
	dir, err := anna.m.API.UserDevices(ctx, benUser.ID)
	if err != nil || len(dir) != 2 {
		t.Fatalf("directory: %v %v", dir, err)
	}

	conv, err := anna.m.CreateChat(ctx, api.CreateConversationRequest{Kind: "group", Name: "MLS", Members: []string{"ben@" + harness.Domain}})
	if err != nil {
		t.Fatal(err)
	}
	// A Welcome only reaches devices of members.
	welcome := []api.OutgoingDeviceMessage{{DeviceID: clara.m.Profile().DeviceID, Payload: []byte("welcome for clara")}}
	if err := anna.m.API.PostWelcomes(ctx, conv.ID, welcome); wache.ErrorCode(err) != wache.EFORBIDDEN {
		t.Fatalf("welcome to a non-member: %v", err)
	}
	// Clara is added while offline: her Welcome waits on the server and
	// comes first when she connects, then the backlog decrypts.
	if err := anna.m.AddMember(ctx, conv.ID, "clara@"+harness.Domain, ""); err != nil {
		t.Fatal(err)
	}
	if ms, err := clara.m.API.DeviceMessages(ctx); err != nil || len(ms) != 1 || ms[0].Kind != "welcome" {
		t.Fatalf("clara's pending device messages: %v %v", ms, err)
	}
	if _, err := anna.m.Send(ctx, conv.ID, text("hallo clara")); err != nil {
		t.Fatal(err)
	}
	clara.listen(t, ctx)
	waitFor(t, "clara to join and read", 10*time.Second, func() bool {
		ts := clara.texts()
		return len(ts) == 1 && ts[0] == "hallo clara"
	})
	waitFor(t, "the welcome to be acknowledged", 5*time.Second, func() bool {
		ms, err := clara.m.API.DeviceMessages(ctx)
		return err == nil && len(ms) == 0
	})
	g, _ := clara.m.Group(ctx, conv.ID)
	if c, err := anna.m.API.Conversation(ctx, conv.ID); err != nil || g == nil || uint64(c.Epoch) != g.Epoch() {
		t.Fatalf("server epoch and clara's epoch differ: %v", err)
	}
}
