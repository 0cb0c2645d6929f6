package mls

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"
)

// knownKinds are the sentinels Process may return; anything else is a bug.
var knownKinds = []error{
	ErrInvalidArgument, ErrMalformed, ErrUnsupported, ErrWrongGroup, ErrWrongEpoch,
	ErrUnknownSender, ErrForged, ErrDecrypt, ErrReplay, ErrOwnMessage, ErrDiscardedCommit, ErrInvalidCommit,
	ErrCredentialRefused, ErrCommitPending, ErrProposalsPending, ErrRemoved, ErrInternal,
}

// watchdog crashes the process if one input takes too long, so the fuzzer
// records hangs as failures.
func watchdog(data []byte) (stop func()) {
	timer := time.AfterFunc(20*time.Second, func() {
		panic(fmt.Sprintf("input of %d bytes takes over 20s: %x", len(data), data))
	})
	return func() { timer.Stop() }
}

func isKnown(err error) bool {
	for _, k := range knownKinds {
		if errors.Is(err, k) {
			return true
		}
	}
	return false
}

// processFixture is a three-device group; b1's state is saved at epoch 1
// together with messages valid for that state.
type processFixture struct {
	b1      *device
	state   []byte
	seeds   [][]byte
	probe   []byte // an application message b1 must always decrypt
	welcome []byte
	kp      []byte
}

func newProcessFixture(t testing.TB) *processFixture {
	a1 := newDevice(t, "alice@polizei.example", "a1", Options{})
	b1 := newDevice(t, "bob@polizei.example", "b1", Options{})
	c1 := newDevice(t, "carol@polizei.example", "c1", Options{})
	ds := &deliveryService{}
	g, err := a1.eng.CreateGroup([]byte("fuzz"))
	if err != nil {
		t.Fatal(err)
	}
	a1.g = g
	commit, welcome, err := a1.g.AddMembers([][]byte{b1.keyPackage(t), c1.keyPackage(t)})
	if err != nil {
		t.Fatal(err)
	}
	commitAccepted(t, ds, a1, commit)
	join(t, b1, welcome)
	join(t, c1, welcome)
	state, err := b1.g.ExportState()
	if err != nil {
		t.Fatal(err)
	}
	f := &processFixture{b1: b1, state: state, welcome: welcome, kp: c1.keyPackage(t)}
	app, err := c1.g.Encrypt([]byte("hello fuzz"), []byte("ad"))
	if err != nil {
		t.Fatal(err)
	}
	probe, err := a1.g.Encrypt([]byte("probe"), nil)
	if err != nil {
		t.Fatal(err)
	}
	f.probe = probe
	d1 := newDevice(t, "dora@polizei.example", "d1", Options{})
	add, _, err := a1.g.AddMembers([][]byte{d1.keyPackage(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := a1.g.DiscardPendingCommit(); err != nil {
		t.Fatal(err)
	}
	remove, err := c1.g.RemoveMembers([]string{a1.cred(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := c1.g.DiscardPendingCommit(); err != nil {
		t.Fatal(err)
	}
	update, err := a1.g.Update()
	if err != nil {
		t.Fatal(err)
	}
	f.seeds = [][]byte{app, add, remove, update, welcome, f.kp}
	return f
}

// FuzzProcess feeds hostile bytes to Group.Process on a fresh copy of a
// group: it must return a known error or a result, never panic, and leave a
// group that still decrypts.
func FuzzProcess(f *testing.F) {
	fx := newProcessFixture(f)
	for _, s := range fx.seeds {
		f.Add(s)
		f.Add(s[:len(s)/2])
		m := bytes.Clone(s)
		m[len(m)/3] ^= 0x40
		f.Add(m)
	}
	f.Add([]byte{})
	f.Add([]byte{0, 1, 0, 1})
	f.Add([]byte{0, 1, 0, 2, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		defer watchdog(data)()
		g, err := fx.b1.eng.LoadGroup(fx.state)
		if err != nil {
			t.Fatal(err)
		}
		res, err := g.Process(data)
		if err != nil {
			if !isKnown(err) {
				t.Fatalf("unknown error kind: %v", err)
			}
			if res != nil {
				t.Fatal("result with error")
			}
		} else if res == nil {
			t.Fatal("nil result without error")
		}
		if !g.Active() {
			return
		}
		if err == nil && res.Kind == KindCommit {
			return // the probe belongs to the old epoch, which may be gone
		}
		if _, err := g.Process(fx.probe); err != nil && !errors.Is(err, ErrReplay) {
			t.Fatalf("group broken after %d hostile bytes: %v", len(data), err)
		}
	})
}

// FuzzJoinFromWelcome feeds hostile Welcomes to a device with pending
// KeyPackages.
func FuzzJoinFromWelcome(f *testing.F) {
	fx := newProcessFixture(f)
	d := newDevice(f, "erin@polizei.example", "e1", Options{})
	kps, _, err := d.eng.NewKeyPackages(2)
	if err != nil {
		f.Fatal(err)
	}
	a := newDevice(f, "alice@polizei.example", "a9", Options{})
	g, err := a.eng.CreateGroup([]byte("w"))
	if err != nil {
		f.Fatal(err)
	}
	_, welcome, err := g.AddMembers(kps[:1])
	if err != nil {
		f.Fatal(err)
	}
	state, err := d.eng.ExportState()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range [][]byte{welcome, fx.welcome, kps[1]} {
		f.Add(s)
		m := bytes.Clone(s)
		m[len(m)/2] ^= 0x01
		f.Add(m)
		f.Add(s[:len(s)-1])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		eng, err := LoadEngine(d.id, state, Options{})
		if err != nil {
			t.Fatal(err)
		}
		g, err := eng.JoinFromWelcome(data)
		if err != nil {
			if !isKnown(err) && !errors.Is(err, ErrNoKeyPackage) {
				t.Fatalf("unknown error kind: %v", err)
			}
			if eng.PendingKeyPackages() != 2 {
				t.Fatal("failed join used up a KeyPackage")
			}
			return
		}
		if !bytes.Equal(g.Self().SigKey, d.eng.SignatureKey()) {
			t.Fatal("joined with a foreign leaf")
		}
	})
}

// FuzzInspect checks the keyless decoders used by the delivery service.
func FuzzInspect(f *testing.F) {
	fx := newProcessFixture(f)
	for _, s := range fx.seeds {
		f.Add(s)
	}
	f.Add([]byte{0, 1, 0, 5})
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := Inspect(data)
		if err == nil && info.Type == 0 {
			t.Fatal("no type without error")
		}
		if err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrInternal) {
			t.Fatalf("Inspect: unexpected error kind %v", err)
		}
		kp, err := ParseKeyPackage(data)
		if err == nil && (len(kp.SigKey) != 32 || len(kp.Ref) == 0) {
			t.Fatalf("accepted KeyPackage without key or ref: %+v", kp)
		}
	})
}

// FuzzLoadGroup checks that corrupt stored state is refused cleanly.
func FuzzLoadGroup(f *testing.F) {
	fx := newProcessFixture(f)
	f.Add(fx.state)
	f.Add([]byte(`{"v":1,"mls":{}}`))
	f.Add([]byte(`{"v":1,"identity":"x","mls":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := fx.b1.eng.LoadGroup(data)
		if err != nil {
			if !errors.Is(err, ErrCorruptState) && !errors.Is(err, ErrInternal) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("unexpected error kind %v", err)
			}
			return
		}
		_ = g.Members()
		_, _ = g.Process(fx.probe)
	})
}

func FuzzParseCredentialIdentity(f *testing.F) {
	for _, s := range []string{
		"wache:v1:alice@polizei.example/dev-1",
		"wache:v1:a/b@x.de/d",
		"wache:v1:@x/d",
		"wache:v1:alice@polizei.example/",
		"wache:v2:alice@polizei.example/d",
		"wache:v1:ALICE@x.de/d",
		"wache:v1:al ice@x.de/d",
		"wache:v1:alice@x.de/d\x00",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		email, dev, err := ParseCredentialIdentity(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidCredential) {
				t.Fatalf("error kind %v", err)
			}
			return
		}
		// Exactly one encoding per device.
		back, err := FormatCredentialIdentity(email, dev)
		if err != nil || back != s {
			t.Fatalf("parse(%q) = %q, %q; format gives %q, %v", s, email, dev, back, err)
		}
	})
}
