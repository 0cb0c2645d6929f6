package mls

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
)

func TestCredentialIdentity(t *testing.T) {
	cases := []struct {
		email, device string
		want          string
		err           error
	}{
		{"alice@polizei.example", "dev-1", "wache:v1:alice@polizei.example/dev-1", nil},
		{"Alice@Polizei.Example", "dev-1", "wache:v1:alice@polizei.example/dev-1", nil},
		{"a/b@x.de", "d", "wache:v1:a/b@x.de/d", nil},
		{"jörg@polizei.example", "Ω", "wache:v1:jörg@polizei.example/Ω", nil},
		{"", "d", "", ErrInvalidArgument},
		{"alice", "d", "", ErrInvalidArgument},
		{"@x.de", "d", "", ErrInvalidArgument},
		{"alice@", "d", "", ErrInvalidArgument},
		{"alice@x/y", "d", "", ErrInvalidArgument},
		{"al ice@x.de", "d", "", ErrInvalidArgument},
		{"alice@x.de", "", "", ErrInvalidArgument},
		{"alice@x.de", "a/b", "", ErrInvalidArgument},
		{"alice@x.de", "d\n", "", ErrInvalidArgument},
		{"alice@x.de", "d\u200b", "", ErrInvalidArgument},
		{"alice@x.de", "\xff", "", ErrInvalidArgument},
		{strings.Repeat("a", 250) + "@x.de", "d", "", ErrInvalidArgument},
		{"alice@x.de", strings.Repeat("d", MaxDeviceIDLength+1), "", ErrInvalidArgument},
	}
	for _, c := range cases {
		got, err := FormatCredentialIdentity(c.email, c.device)
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("Format(%q, %q) = %q, %v; want %v", c.email, c.device, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Format(%q, %q) = %q, %v; want %q", c.email, c.device, got, err, c.want)
			continue
		}
		email, dev, err := ParseCredentialIdentity(got)
		if err != nil || email != strings.ToLower(c.email) || dev != c.device {
			t.Errorf("Parse(%q) = %q, %q, %v", got, email, dev, err)
		}
	}
	for _, bad := range []string{
		"", "wache:v1:", "wache:v1:alice@x.de", "wache:v2:alice@x.de/d", "alice@x.de/d",
		"wache:v1:ALICE@x.de/d", "wache:v1:alice@x.de/", "wache:v1:/d", "wache:v1:alice@x.de/d\t",
		"wache:v1:" + strings.Repeat("a", 400) + "@x.de/d",
	} {
		if _, _, err := ParseCredentialIdentity(bad); !errors.Is(err, ErrInvalidCredential) {
			t.Errorf("Parse(%q): %v, want ErrInvalidCredential", bad, err)
		}
	}
}

func TestIdentityKeyChecks(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = pub
	broken := append(ed25519.PrivateKey(nil), priv...)
	broken[40] ^= 1 // public half no longer matches the seed
	for _, c := range []struct {
		name string
		key  ed25519.PrivateKey
	}{
		{"missing key", nil},
		{"short key", priv[:32]},
		{"inconsistent key", broken},
	} {
		_, err := NewEngine(Identity{UserEmail: "a@x.de", DeviceID: "d", SigningKey: c.key}, Options{})
		if !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	e, err := NewEngine(Identity{UserEmail: "A@X.de", DeviceID: "d", SigningKey: priv}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if e.Identity() != "wache:v1:a@x.de/d" || string(e.SignatureKey()) != string(pub) {
		t.Fatalf("identity %q", e.Identity())
	}
	// The engine keeps its own copy of the key.
	priv[0] ^= 1
	kps, _, err := e.NewKeyPackages(1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseKeyPackage(kps[0]); err != nil {
		t.Fatalf("KeyPackage signed with a changed key: %v", err)
	}
}

func TestRecoverBoundary(t *testing.T) {
	undone := false
	err := func() (err error) {
		defer recoverTo("test", &err, func() { undone = true })
		var m map[string]int
		m["boom"]++ // a library bug: nil map write
		return nil
	}()
	if !errors.Is(err, ErrInternal) || !undone {
		t.Fatalf("err %v, undone %v", err, undone)
	}
	// A panicking undo does not escape either.
	err = func() (err error) {
		defer recoverTo("test", &err, func() { panic("undo failed") })
		panic("first")
	}()
	if !errors.Is(err, ErrInternal) {
		t.Fatalf("err %v", err)
	}
}

func TestErrorsRedactSecrets(t *testing.T) {
	secret := strings.Repeat("ab", 32)
	err := newError("process", ErrInvalidCommit, "confirmation tag mismatch [initSecret=%s]", secret)
	if strings.Contains(err.Error(), secret) || !errors.Is(err, ErrInvalidCommit) {
		t.Fatalf("error leaks or lost its kind: %v", err)
	}
	e := epochError("process", 3, 5)
	if !errors.Is(e, ErrStaleEpoch) || !errors.Is(e, ErrWrongEpoch) || errors.Is(e, ErrFutureEpoch) || e.MessageEpoch != 3 || e.GroupEpoch != 5 {
		t.Fatalf("epoch error %v", e)
	}
	if e := epochError("process", 6, 5); !errors.Is(e, ErrFutureEpoch) || !errors.Is(e, ErrWrongEpoch) {
		t.Fatalf("epoch error %v", e)
	}
}
