package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
	"github.com/wache/wache/client"
	"github.com/wache/wache/client/mls"
	"github.com/wache/wache/internal/harness"
	"github.com/wache/wache/internal/store"
)

// TestEncryptedBadInput feeds hostile envelopes to the client core through
// the real server: tampered, truncated and replayed ciphertexts and garbage
// commits are reported as unreadable without changing the group, and a
// KeyPackage with a forged credential is refused.
func TestEncryptedBadInput(t *testing.T) {
	n := harness.Start(t, harness.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	anna := newDevice(t, n, "anna.schmidt@"+harness.Domain)
	ben := newDevice(t, n, "ben.mueller@"+harness.Domain)
	ben.listen(t, ctx)
	conv, err := anna.m.CreateChat(ctx, api.CreateConversationRequest{Kind: "group", Name: "Prüfstand", Members: []string{"ben.mueller@" + harness.Domain}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := anna.m.Send(ctx, conv.ID, text("echt")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ben to read", 10*time.Second, func() bool { return len(ben.texts()) == 1 })
	// Take the genuine ciphertext from the relay to forge variants of it.
	envs, err := anna.m.API.Envelopes(ctx, conv.ID, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var genuine api.Envelope
	for _, e := range envs {
		if e.Kind == "app" {
			genuine = e
		}
	}
	gBen, _ := ben.m.Group(ctx, conv.ID)
	epochBefore := gBen.Epoch()

	flip := func(b []byte, i int) []byte { c := append([]byte(nil), b...); c[i] ^= 0x40; return c }
	cases := []struct {
		name    string
		kind    string
		payload []byte
	}{
		{"tampered ciphertext", "app", flip(genuine.Payload, len(genuine.Payload)-5)},
		{"tampered header", "app", flip(genuine.Payload, 8)},
		{"truncated ciphertext", "app", genuine.Payload[:len(genuine.Payload)/2]},
		{"replayed ciphertext", "app", genuine.Payload},
		{"garbage", "app", []byte("not an MLS message at all")},
	}
	for _, tc := range cases {
		epoch := int64(epochBefore)
		if _, err := anna.m.API.PostEnvelope(ctx, conv.ID, api.PostEnvelopeRequest{ClientID: client.NewClientID(), Kind: tc.kind, Epoch: epoch, Payload: tc.payload}); err != nil {
			t.Fatalf("%s: post: %v", tc.name, err)
		}
	}
	// The delivery service reads a commit's framing: garbage, or a genuine
	// application message posing as a commit, never takes an epoch.
	for _, bad := range [][]byte{{0, 1, 0, 3, 0xff, 0xff}, genuine.Payload} {
		_, err := anna.m.API.PostEnvelope(ctx, conv.ID, api.PostEnvelopeRequest{ClientID: client.NewClientID(), Kind: "commit", Epoch: int64(epochBefore), Payload: bad})
		if wache.ErrorCode(err) != wache.EINVALID {
			t.Fatalf("fake commit: %v, want invalid", err)
		}
	}
	if _, err := anna.m.Send(ctx, conv.ID, text("danach wieder echt")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ben to see all", 10*time.Second, func() bool {
		ts := ben.texts()
		return len(ts) > 0 && ts[len(ts)-1] == "danach wieder echt"
	})
	got := ben.texts()
	unreadable := 0
	for _, s := range got[1 : len(got)-1] {
		if s == "UNDECRYPTABLE" {
			unreadable++
		}
	}
	if unreadable != 5 {
		t.Fatalf("ben saw %q; want the 5 hostile application messages reported as unreadable", got)
	}
	ben.mu.Lock()
	for _, m := range ben.got {
		if m.Undecryptable != "" && strings.TrimSpace(m.Undecryptable) == "" {
			t.Errorf("unreadable without a reason")
		}
	}
	ben.mu.Unlock()

	// A KeyPackage whose credential claims to be another user's device is
	// refused when someone tries to add it.
	mallory := newDevice(t, n, "deniz.yilmaz@"+harness.Domain)
	mp := mallory.m.Profile()
	forger, err := mls.NewEngine(mls.Identity{UserEmail: "leitstelle@" + harness.Domain, DeviceID: mp.DeviceID, SigningKey: mp.SigningKey}, mls.Options{})
	if err != nil {
		t.Fatal(err)
	}
	forged, _, err := forger.NewKeyPackages(1)
	if err != nil {
		t.Fatal(err)
	}
	// Replace mallory's stock with the forged KeyPackage only.
	for {
		c, err := anna.m.API.ClaimDeviceKeyPackages(ctx, []string{mp.DeviceID})
		if err != nil {
			t.Fatal(err)
		}
		if len(c.KeyPackages) == 0 {
			break
		}
	}
	// The server's authentication service refuses it at upload…
	if _, err := mallory.m.API.UploadKeyPackages(ctx, forged); wache.ErrorCode(err) != wache.EFORBIDDEN {
		t.Fatalf("forged KeyPackage upload: %v, want forbidden", err)
	}
	// …and if one got into the directory anyway, the client refuses it.
	if err := n.App.Store.AddKeyPackages(ctx, mp.DeviceID, []store.KeyPackage{{ID: "forged", Data: forged[0]}}); err != nil {
		t.Fatal(err)
	}
	gAnna, _ := anna.m.Group(ctx, conv.ID)
	before := len(gAnna.Members())
	err = anna.m.AddMember(ctx, conv.ID, "deniz.yilmaz@"+harness.Domain, "")
	if !errors.Is(err, mls.ErrCredentialRefused) {
		t.Fatalf("adding a forged credential: %v, want credential refused", err)
	}
	if len(gAnna.Members()) != before {
		t.Fatal("the forged device joined the group")
	}
}
