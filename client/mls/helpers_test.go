package mls

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/thomas-vilte/mls-go/credentials"
	"github.com/thomas-vilte/mls-go/framing"
	"github.com/thomas-vilte/mls-go/keypackages"
)

// device is one test device: identity, engine and its groups by id.
type device struct {
	name string
	id   Identity
	eng  Engine
	g    Group
}

func newIdentity(t testing.TB, email, deviceID string) Identity {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return Identity{UserEmail: email, DeviceID: deviceID, SigningKey: priv}
}

func newDevice(t testing.TB, email, deviceID string, opts Options) *device {
	t.Helper()
	id := newIdentity(t, email, deviceID)
	eng, err := NewEngine(id, opts)
	if err != nil {
		t.Fatalf("NewEngine(%s/%s): %v", email, deviceID, err)
	}
	return &device{name: email + "/" + deviceID, id: id, eng: eng}
}

func (d *device) keyPackage(t testing.TB) []byte {
	t.Helper()
	kps, _, err := d.eng.NewKeyPackages(1)
	if err != nil {
		t.Fatalf("%s: NewKeyPackages: %v", d.name, err)
	}
	return kps[0]
}

func (d *device) cred(t testing.TB) string {
	t.Helper()
	c, err := d.id.CredentialIdentity()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// deliveryService orders handshake messages of one group like Wache's
// server: a commit is accepted only for the current epoch.
type deliveryService struct {
	mu    sync.Mutex
	epoch uint64
	log   [][]byte // accepted handshake messages in order
}

// submit reports whether the commit was accepted.
func (ds *deliveryService) submit(t testing.TB, commit []byte) bool {
	t.Helper()
	info, err := Inspect(commit)
	if err != nil {
		t.Fatalf("Inspect(commit): %v", err)
	}
	if info.Type != TypeCommit {
		t.Fatalf("submitted %v, want commit", info.Type)
	}
	ds.mu.Lock()
	defer ds.mu.Unlock()
	if info.Epoch != ds.epoch {
		return false
	}
	ds.epoch++
	ds.log = append(ds.log, commit)
	return true
}

// commitAccepted submits d's pending commit and merges it; it fails the test
// if the delivery service refuses.
func commitAccepted(t testing.TB, ds *deliveryService, d *device, commit []byte) {
	t.Helper()
	if !ds.submit(t, commit) {
		t.Fatalf("%s: delivery service refused commit", d.name)
	}
	if err := d.g.MergePendingCommit(); err != nil {
		t.Fatalf("%s: MergePendingCommit: %v", d.name, err)
	}
}

// processAll lets every device in ds process msg and returns the results.
func processAll(t testing.TB, msg []byte, devs ...*device) []*Result {
	t.Helper()
	var out []*Result
	for _, d := range devs {
		res, err := d.g.Process(msg)
		if err != nil {
			t.Fatalf("%s: Process: %v", d.name, err)
		}
		out = append(out, res)
	}
	return out
}

// join makes d join from welcome.
func join(t testing.TB, d *device, welcome []byte) {
	t.Helper()
	g, err := d.eng.JoinFromWelcome(welcome)
	if err != nil {
		t.Fatalf("%s: JoinFromWelcome: %v", d.name, err)
	}
	d.g = g
}

// assertAgree checks that all devices are in the same epoch with the same
// members and epoch authenticator.
func assertAgree(t testing.TB, devs ...*device) {
	t.Helper()
	first := devs[0]
	epoch, auth, members := first.g.Epoch(), first.g.EpochAuthenticator(), first.g.Members()
	for _, d := range devs[1:] {
		if got := d.g.Epoch(); got != epoch {
			t.Errorf("%s epoch %d, %s epoch %d", d.name, got, first.name, epoch)
		}
		if got := d.g.EpochAuthenticator(); !bytes.Equal(got, auth) {
			t.Errorf("%s and %s disagree on the epoch authenticator", d.name, first.name)
		}
		if got := memberString(d.g.Members()); got != memberString(members) {
			t.Errorf("%s members %s, %s members %s", d.name, got, first.name, memberString(members))
		}
	}
}

func memberString(ms []Member) string {
	var b bytes.Buffer
	for _, m := range ms {
		fmt.Fprintf(&b, "%d:%s:%x ", m.Leaf, m.Identity, m.SigKey[:4])
	}
	return b.String()
}

func identities(ms []Member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Identity)
	}
	return out
}

// wantKind fails unless err matches kind.
func wantKind(t testing.TB, what string, err error, kinds ...error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want %v", what, kinds)
	}
	for _, k := range kinds {
		if errors.Is(err, k) {
			return
		}
	}
	t.Fatalf("%s: error %v, want one of %v", what, err, kinds)
}

// exchange has every device send one message that every other device
// decrypts, with sender and plaintext checked.
func exchange(t testing.TB, label string, devs ...*device) {
	t.Helper()
	for _, s := range devs {
		pt := []byte(label + " from " + s.name)
		ct, err := s.g.Encrypt(pt, []byte("aad"))
		if err != nil {
			t.Fatalf("%s: Encrypt: %v", s.name, err)
		}
		for _, r := range devs {
			if r == s {
				continue
			}
			res, err := r.g.Process(ct)
			if err != nil {
				t.Fatalf("%s: Process(%s's message): %v", r.name, s.name, err)
			}
			if res.Kind != KindApplication || !bytes.Equal(res.Plaintext, pt) || string(res.AuthenticatedData) != "aad" {
				t.Fatalf("%s: got %v %q, want application %q", r.name, res.Kind, res.Plaintext, pt)
			}
			if res.Sender.Identity != s.cred(t) || !bytes.Equal(res.Sender.SigKey, s.eng.SignatureKey()) {
				t.Fatalf("%s: sender %q, want %q", r.name, res.Sender.Identity, s.cred(t))
			}
		}
	}
}

// foreignKeyPackage makes a valid suite-1 KeyPackage whose credential is not
// a Wache identity.
func foreignKeyPackage(t testing.TB, identity string) []byte {
	t.Helper()
	cred, _, err := credentials.GenerateCredentialWithKeyForCS([]byte(identity), suite)
	if err != nil {
		t.Fatal(err)
	}
	kp, _, err := keypackages.Generate(cred, suite)
	if err != nil {
		t.Fatal(err)
	}
	return (&framing.MLSMessage{KeyPackage: kp.Marshal()}).Marshal()
}
