package mls

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/thomas-vilte/mls-go/framing"
)

// fourDevices builds alice (two devices), bob and carol in one group created
// by alice's first device, every device joined.
func fourDevices(t *testing.T, opts Options) (*deliveryService, []*device) {
	t.Helper()
	a1 := newDevice(t, "alice@polizei.example", "a1", opts)
	a2 := newDevice(t, "alice@polizei.example", "a2", opts)
	b1 := newDevice(t, "bob@polizei.example", "b1", opts)
	c1 := newDevice(t, "carol@polizei.example", "c1", opts)
	ds := &deliveryService{}
	g, err := a1.eng.CreateGroup([]byte("conv-1"))
	if err != nil {
		t.Fatal(err)
	}
	a1.g = g
	// Bob first, then alice's second device and carol in one commit.
	commit, welcome, err := a1.g.AddMembers([][]byte{b1.keyPackage(t)})
	if err != nil {
		t.Fatalf("AddMembers(b1): %v", err)
	}
	commitAccepted(t, ds, a1, commit)
	join(t, b1, welcome)
	commit, welcome, err = a1.g.AddMembers([][]byte{a2.keyPackage(t), c1.keyPackage(t)})
	if err != nil {
		t.Fatalf("AddMembers(a2, c1): %v", err)
	}
	commitAccepted(t, ds, a1, commit)
	res := processAll(t, commit, b1)[0]
	if res.Kind != KindCommit || len(res.Added) != 2 || res.Sender.Identity != a1.cred(t) {
		t.Fatalf("b1 processed commit: %+v", res)
	}
	join(t, a2, welcome)
	join(t, c1, welcome)
	devs := []*device{a1, a2, b1, c1}
	assertAgree(t, devs...)
	return ds, devs
}

func TestGroupLifecycle(t *testing.T) {
	ds, devs := fourDevices(t, Options{})
	a1, a2, b1, c1 := devs[0], devs[1], devs[2], devs[3]
	if got := a1.g.Epoch(); got != 2 {
		t.Fatalf("epoch %d, want 2", got)
	}
	if got := len(a1.g.Members()); got != 4 {
		t.Fatalf("%d members, want 4", got)
	}
	for _, d := range devs {
		// The server-vouched device key is the MLS signature key.
		self := d.g.Self()
		if self.Identity != d.cred(t) || !bytes.Equal(self.SigKey, d.id.SigningKey.Public().(ed25519.PublicKey)) {
			t.Fatalf("%s: self %+v", d.name, self)
		}
	}
	exchange(t, "hello", devs...)

	// b1 keeps a copy of its state from before its removal.
	bobBefore, err := b1.g.ExportState()
	if err != nil {
		t.Fatal(err)
	}
	commit, err := a1.g.RemoveMembers([]string{b1.cred(t)})
	if err != nil {
		t.Fatalf("RemoveMembers: %v", err)
	}
	commitAccepted(t, ds, a1, commit)
	for _, r := range processAll(t, commit, a2, c1) {
		if r.Kind != KindCommit || len(r.Removed) != 1 || r.Removed[0].Identity != b1.cred(t) {
			t.Fatalf("remove result %+v", r)
		}
	}
	res, err := b1.g.Process(commit)
	if err != nil || !res.SelfRemoved || b1.g.Active() {
		t.Fatalf("b1 processing its removal: %+v, %v", res, err)
	}
	remaining := []*device{a1, a2, c1}
	assertAgree(t, remaining...)
	exchange(t, "without bob", remaining...)

	secret, err := a2.g.Encrypt([]byte("bob must not read this"), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b1.g.Process(secret)
	wantKind(t, "removed device processing", err, ErrRemoved)
	if _, err := b1.g.Encrypt([]byte("x"), nil); !errors.Is(err, ErrRemoved) {
		t.Fatalf("removed device Encrypt: %v", err)
	}
	// Even with the keys of the epoch before its removal, bob cannot
	// decrypt the new epoch's messages.
	old, err := b1.eng.LoadGroup(bobBefore)
	if err != nil {
		t.Fatal(err)
	}
	_, err = old.Process(secret)
	wantKind(t, "pre-removal state processing a later message", err, ErrFutureEpoch)
	if res, err := c1.g.Process(secret); err != nil || string(res.Plaintext) != "bob must not read this" {
		t.Fatalf("c1: %v", err)
	}
}

func TestUpdateAndLateMessages(t *testing.T) {
	ds, devs := fourDevices(t, Options{})
	a1, a2, b1, c1 := devs[0], devs[1], devs[2], devs[3]
	// c1 sends in epoch 2; the message is delivered after an update.
	late, err := c1.g.Encrypt([]byte("late"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a1.g.Process(late); err != nil {
		t.Fatal(err)
	}
	authBefore := b1.g.EpochAuthenticator()
	commit, err := b1.g.Update()
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if b1.g.Epoch() != 2 || !bytes.Equal(b1.g.EpochAuthenticator(), authBefore) {
		t.Fatal("pending commit changed the confirmed epoch")
	}
	if _, err := b1.g.Encrypt([]byte("x"), nil); !errors.Is(err, ErrCommitPending) {
		t.Fatalf("Encrypt with pending commit: %v", err)
	}
	if _, err := b1.g.Update(); !errors.Is(err, ErrCommitPending) {
		t.Fatalf("second commit while pending: %v", err)
	}
	commitAccepted(t, ds, b1, commit)
	for _, r := range processAll(t, commit, a1, a2, c1) {
		if r.Kind != KindCommit || r.Epoch != 3 || len(r.Added)+len(r.Removed) != 0 || len(r.Updated) != 0 {
			t.Fatalf("update result %+v", r)
		}
	}
	assertAgree(t, devs...)
	if bytes.Equal(b1.g.EpochAuthenticator(), authBefore) {
		t.Fatal("epoch authenticator unchanged after update")
	}
	for _, d := range []*device{a2, b1} {
		res, err := d.g.Process(late)
		if err != nil || string(res.Plaintext) != "late" || res.Epoch != 2 || res.Sender.Identity != c1.cred(t) {
			t.Fatalf("%s: late message: %+v %v", d.name, res, err)
		}
	}
	exchange(t, "after update", devs...)
}

func TestConcurrentCommits(t *testing.T) {
	for _, explicitDiscard := range []bool{false, true} {
		name := "auto-discard"
		if explicitDiscard {
			name = "explicit-discard"
		}
		t.Run(name, func(t *testing.T) {
			ds, devs := fourDevices(t, Options{})
			a1, a2, b1, c1 := devs[0], devs[1], devs[2], devs[3]
			d1 := newDevice(t, "dora@polizei.example", "d1", Options{})

			// a1 adds dora while b1 removes carol, both on epoch 2.
			winner, welcome, err := a1.g.AddMembers([][]byte{d1.keyPackage(t)})
			if err != nil {
				t.Fatal(err)
			}
			loser, err := b1.g.RemoveMembers([]string{c1.cred(t)})
			if err != nil {
				t.Fatal(err)
			}
			if !ds.submit(t, winner) {
				t.Fatal("winner refused")
			}
			if err := a1.g.MergePendingCommit(); err != nil {
				t.Fatal(err)
			}
			if ds.submit(t, loser) {
				t.Fatal("delivery service accepted a commit for a stale epoch")
			}
			join(t, d1, welcome)
			processAll(t, winner, a2, c1)
			// Everyone who moved on refuses the loser's commit as stale.
			for _, d := range []*device{a1, a2, c1, d1} {
				_, err := d.g.Process(loser)
				wantKind(t, d.name+" processing the losing commit", err, ErrStaleEpoch)
			}
			if explicitDiscard {
				if err := b1.g.DiscardPendingCommit(); err != nil {
					t.Fatal(err)
				}
				if err := b1.g.DiscardPendingCommit(); !errors.Is(err, ErrNoPendingCommit) {
					t.Fatalf("second discard: %v", err)
				}
			}
			res, err := b1.g.Process(winner)
			if err != nil {
				t.Fatalf("b1 processing the winner: %v", err)
			}
			if res.DiscardedPendingCommit == explicitDiscard || len(res.Added) != 1 || res.Added[0].Identity != d1.cred(t) {
				t.Fatalf("b1 result %+v", res)
			}
			if _, _, ok := b1.g.PendingCommit(); ok {
				t.Fatal("b1 still has a pending commit")
			}
			devs = []*device{a1, a2, b1, c1, d1}
			assertAgree(t, devs...)

			// b1 retries on the new epoch.
			retry, err := b1.g.RemoveMembers([]string{c1.cred(t)})
			if err != nil {
				t.Fatal(err)
			}
			commitAccepted(t, ds, b1, retry)
			processAll(t, retry, a1, a2, d1)
			if res, err := c1.g.Process(retry); err != nil || !res.SelfRemoved {
				t.Fatalf("c1: %+v %v", res, err)
			}
			devs = []*device{a1, a2, b1, d1}
			assertAgree(t, devs...)
			if got := slices.Sorted(slices.Values(identities(a1.g.Members()))); len(got) != 4 || slices.Contains(got, c1.cred(t)) {
				t.Fatalf("members after retry: %v", got)
			}
			exchange(t, "converged", devs...)
		})
	}
}

func TestPendingCommitResolvedByMessages(t *testing.T) {
	ds, devs := fourDevices(t, Options{})
	a1, a2, b1, c1 := devs[0], devs[1], devs[2], devs[3]

	// The delivery service accepted a1's commit but a1 never heard back:
	// the echo of its own commit merges it.
	commit, err := a1.g.Update()
	if err != nil {
		t.Fatal(err)
	}
	if !ds.submit(t, commit) {
		t.Fatal("refused")
	}
	res, err := a1.g.Process(commit)
	if err != nil || !res.OwnCommit || !res.MergedPendingCommit || res.Epoch != 3 {
		t.Fatalf("own commit echo: %+v %v", res, err)
	}
	processAll(t, commit, a2, b1, c1)
	if _, err := a1.g.Process(commit); !errors.Is(err, ErrOwnMessage) {
		t.Fatalf("second echo: %v", err)
	}

	// b1's commit was accepted, and the next thing b1 sees is a2's commit
	// on top of it: b1's commit must have been merged.
	commit, err = b1.g.Update()
	if err != nil {
		t.Fatal(err)
	}
	if !ds.submit(t, commit) {
		t.Fatal("refused")
	}
	processAll(t, commit, a1, a2, c1)
	next, err := a2.g.Update()
	if err != nil {
		t.Fatal(err)
	}
	commitAccepted(t, ds, a2, next)
	res, err = b1.g.Process(next)
	if err != nil || !res.MergedPendingCommit || res.Epoch != 5 {
		t.Fatalf("b1 processing the next commit: %+v %v", res, err)
	}
	processAll(t, next, a1, c1)
	assertAgree(t, devs...)

	// Same with an application message of the new epoch.
	commit, err = c1.g.Update()
	if err != nil {
		t.Fatal(err)
	}
	if !ds.submit(t, commit) {
		t.Fatal("refused")
	}
	processAll(t, commit, a1, a2, b1)
	ct, err := a1.g.Encrypt([]byte("new epoch"), nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err = c1.g.Process(ct)
	if err != nil || !res.MergedPendingCommit || string(res.Plaintext) != "new epoch" {
		t.Fatalf("c1: %+v %v", res, err)
	}
	assertAgree(t, devs...)

	// Discarding after an unknown outcome is a mistake the engine names:
	// the accepted commit cannot be followed by its own author.
	commit, err = a2.g.Update()
	if err != nil {
		t.Fatal(err)
	}
	if !ds.submit(t, commit) {
		t.Fatal("refused")
	}
	if err := a2.g.DiscardPendingCommit(); err != nil {
		t.Fatal(err)
	}
	_, err = a2.g.Process(commit)
	wantKind(t, "echo of a discarded but accepted commit", err, ErrDiscardedCommit)
}

func TestReplayAndReorder(t *testing.T) {
	ds, devs := fourDevices(t, Options{})
	a1, a2, b1, c1 := devs[0], devs[1], devs[2], devs[3]

	ct, err := a1.g.Encrypt([]byte("once"), nil)
	if err != nil {
		t.Fatal(err)
	}
	processAll(t, ct, a2)
	_, err = a2.g.Process(ct)
	wantKind(t, "replayed application message", err, ErrReplay)
	_, err = a1.g.Process(ct)
	wantKind(t, "own application message", err, ErrOwnMessage)

	// Out of order within an epoch is fine.
	m1, _ := a1.g.Encrypt([]byte("m1"), nil)
	m2, _ := a1.g.Encrypt([]byte("m2"), nil)
	for _, m := range [][]byte{m2, m1} {
		if _, err := b1.g.Process(m); err != nil {
			t.Fatalf("out-of-order application message: %v", err)
		}
	}

	// Two commits delivered in the wrong order.
	c3, err := a1.g.Update()
	if err != nil {
		t.Fatal(err)
	}
	commitAccepted(t, ds, a1, c3)
	processAll(t, c3, a2)
	c4, err := a2.g.Update()
	if err != nil {
		t.Fatal(err)
	}
	commitAccepted(t, ds, a2, c4)
	_, err = b1.g.Process(c4)
	wantKind(t, "commit for a future epoch", err, ErrFutureEpoch)
	processAll(t, c3, b1)
	_, err = b1.g.Process(c3)
	wantKind(t, "replayed commit", err, ErrReplay, ErrStaleEpoch)
	processAll(t, c4, b1, a1)
	processAll(t, c3, c1)
	processAll(t, c4, c1)
	assertAgree(t, devs...)

	// Replays beyond the replay cache are refused by the protocol itself.
	first, err := a1.g.Encrypt([]byte("first"), nil)
	if err != nil {
		t.Fatal(err)
	}
	processAll(t, first, c1)
	for i := 0; i < replayCapacity+10; i++ {
		m, err := a1.g.Encrypt([]byte("filler"), nil)
		if err != nil {
			t.Fatal(err)
		}
		processAll(t, m, c1)
	}
	_, err = c1.g.Process(first)
	wantKind(t, "replay beyond the cache", err, ErrDecrypt, ErrReplay)
	_, err = c1.g.Process(c3)
	wantKind(t, "old commit beyond the cache", err, ErrStaleEpoch, ErrReplay)
}

func TestTamperedMessages(t *testing.T) {
	ds, devs := fourDevices(t, Options{})
	a1, a2, b1 := devs[0], devs[1], devs[2]
	ct, err := a1.g.Encrypt([]byte("integrity matters"), []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	malformed := []error{ErrMalformed, ErrDecrypt, ErrWrongGroup, ErrWrongEpoch, ErrUnknownSender, ErrForged}
	type variant struct {
		name string
		msg  []byte
	}
	var variants []variant
	for _, n := range []int{0, 1, 2, 4, 10, len(ct) / 2, len(ct) - 1} {
		variants = append(variants, variant{"truncated", ct[:n]})
	}
	for _, i := range []int{0, 1, 3, 5, 8, 12, 20, 30, len(ct) / 2, len(ct) - 20, len(ct) - 1} {
		m := bytes.Clone(ct)
		m[i] ^= 0x01
		variants = append(variants, variant{"bit flipped", m})
	}
	variants = append(variants, variant{"trailing byte", append(bytes.Clone(ct), 0)})
	for _, v := range variants {
		_, err := b1.g.Process(v.msg)
		if len(v.msg) == 0 {
			wantKind(t, v.name, err, ErrMalformed)
			continue
		}
		wantKind(t, v.name, err, malformed...)
	}
	// The real message still decrypts: failures changed nothing.
	if res, err := b1.g.Process(ct); err != nil || string(res.Plaintext) != "integrity matters" {
		t.Fatalf("original after tampering: %v", err)
	}

	// Tampered commits: every byte position class is refused and the
	// group stays in its epoch; the real commit then applies.
	commit, err := a1.g.Update()
	if err != nil {
		t.Fatal(err)
	}
	commitAccepted(t, ds, a1, commit)
	for _, i := range []int{4, 10, 20, len(commit) / 2, len(commit) - 40, len(commit) - 1} {
		m := bytes.Clone(commit)
		m[i] ^= 0x80
		_, err := a2.g.Process(m)
		wantKind(t, "tampered commit", err, append(malformed, ErrInvalidCommit)...)
		if a2.g.Epoch() != 2 {
			t.Fatalf("tampered commit moved the epoch to %d", a2.g.Epoch())
		}
	}
	for _, n := range []int{3, 20, len(commit) - 1} {
		_, err := a2.g.Process(commit[:n])
		wantKind(t, "truncated commit", err, ErrMalformed)
	}
	processAll(t, commit, a2, b1, devs[3])
	assertAgree(t, devs...)
	exchange(t, "after tampering", devs...)
}

func TestForgedCommitSignatures(t *testing.T) {
	ds, devs := fourDevices(t, Options{})
	a1, a2 := devs[0], devs[1]
	commit, err := a1.g.Update()
	if err != nil {
		t.Fatal(err)
	}
	commitAccepted(t, ds, a1, commit)
	// The signature is the last field before the confirmation tag and the
	// membership tag; flipping a byte in each of the three tails.
	for _, back := range []int{1, 33, 40, 70, 100} {
		m := bytes.Clone(commit)
		m[len(m)-back] ^= 0xff
		_, err := a2.g.Process(m)
		wantKind(t, "forged commit", err, ErrForged, ErrInvalidCommit, ErrMalformed)
	}
	processAll(t, commit, a2)
}

func TestCredentialValidator(t *testing.T) {
	vouched := map[string][]byte{}
	validator := func(identity string, sigKey []byte) error {
		want, ok := vouched[identity]
		if !ok || !bytes.Equal(want, sigKey) {
			return errors.New("not vouched for by the server")
		}
		return nil
	}
	strict := Options{Validator: validator}
	a1 := newDevice(t, "alice@polizei.example", "a1", strict)
	b1 := newDevice(t, "bob@polizei.example", "b1", strict)
	for _, d := range []*device{a1, b1} {
		vouched[d.cred(t)] = d.eng.SignatureKey()
	}
	// Mallory claims to be bob's second device with her own key.
	mallory := newDevice(t, "bob@polizei.example", "b2", Options{})
	// Eve is a real device the server does not know.
	eve := newDevice(t, "eve@polizei.example", "e1", Options{})

	g, err := a1.eng.CreateGroup([]byte("conv"))
	if err != nil {
		t.Fatal(err)
	}
	a1.g = g
	for _, d := range []*device{mallory, eve} {
		_, _, err := a1.g.AddMembers([][]byte{d.keyPackage(t)})
		wantKind(t, "adding "+d.name, err, ErrCredentialRefused)
	}
	if a1.g.Epoch() != 0 || len(a1.g.Members()) != 1 {
		t.Fatal("refused add changed the group")
	}

	// A lax device (no validator) adds mallory; strict members refuse the
	// commit and the Welcome.
	ds := &deliveryService{}
	lax := newDevice(t, "carol@polizei.example", "c1", Options{})
	vouched[lax.cred(t)] = lax.eng.SignatureKey()
	commit, welcome, err := a1.g.AddMembers([][]byte{b1.keyPackage(t), lax.keyPackage(t)})
	if err != nil {
		t.Fatal(err)
	}
	commitAccepted(t, ds, a1, commit)
	join(t, b1, welcome)
	join(t, lax, welcome)
	commit, welcome, err = lax.g.AddMembers([][]byte{mallory.keyPackage(t)})
	if err != nil {
		t.Fatalf("lax add: %v", err)
	}
	commitAccepted(t, ds, lax, commit)
	for _, d := range []*device{a1, b1} {
		_, err := d.g.Process(commit)
		wantKind(t, d.name+" processing a commit adding mallory", err, ErrCredentialRefused)
		if d.g.Epoch() != 1 {
			t.Fatalf("%s: refused commit changed the epoch", d.name)
		}
	}
	join(t, mallory, welcome) // mallory herself has no validator
	// A strict newcomer invited into the group with mallory refuses to join.
	d1 := newDevice(t, "dora@polizei.example", "d1", strict)
	vouched[d1.cred(t)] = d1.eng.SignatureKey()
	commit, welcome, err = lax.g.AddMembers([][]byte{d1.keyPackage(t)})
	if err != nil {
		t.Fatal(err)
	}
	commitAccepted(t, ds, lax, commit)
	_, err = d1.eng.JoinFromWelcome(welcome)
	wantKind(t, "joining a group with an unvouched member", err, ErrCredentialRefused)
	if d1.eng.PendingKeyPackages() != 1 {
		t.Fatal("refused join used up the KeyPackage")
	}
}

func TestForeignCredentialRefused(t *testing.T) {
	a1 := newDevice(t, "alice@polizei.example", "a1", Options{})
	g, err := a1.eng.CreateGroup([]byte("conv"))
	if err != nil {
		t.Fatal(err)
	}
	kp := foreignKeyPackage(t, "mallory")
	_, _, err = g.AddMembers([][]byte{kp})
	wantKind(t, "adding a non-Wache credential", err, ErrCredentialRefused)
	_, err = ParseKeyPackage(kp)
	wantKind(t, "ParseKeyPackage of a non-Wache credential", err, ErrInvalidCredential)
}

func TestStateRoundTrip(t *testing.T) {
	ds, devs := fourDevices(t, Options{})
	a1, a2, b1, c1 := devs[0], devs[1], devs[2], devs[3]
	exchange(t, "before restart", devs...)

	// c1 has a KeyPackage waiting and a message in flight when it restarts.
	d1 := newDevice(t, "dora@polizei.example", "d1", Options{})
	kpState := func(d *device) []byte {
		t.Helper()
		if _, _, err := d.eng.NewKeyPackages(3); err != nil {
			t.Fatal(err)
		}
		st, err := d.eng.ExportState()
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	d1State := kpState(d1)
	inFlight, err := a2.g.Encrypt([]byte("in flight"), nil)
	if err != nil {
		t.Fatal(err)
	}
	groupState, err := c1.g.ExportState()
	if err != nil {
		t.Fatal(err)
	}
	engState, err := c1.eng.ExportState()
	if err != nil {
		t.Fatal(err)
	}
	eng, err := LoadEngine(c1.id, engState, Options{})
	if err != nil {
		t.Fatalf("LoadEngine: %v", err)
	}
	g, err := LoadGroup(eng, groupState)
	if err != nil {
		t.Fatalf("LoadGroup: %v", err)
	}
	c1.eng, c1.g = eng, g
	if res, err := c1.g.Process(inFlight); err != nil || string(res.Plaintext) != "in flight" {
		t.Fatalf("after restart: %v", err)
	}
	assertAgree(t, devs...)
	exchange(t, "after restart", devs...)

	// dora restarts between uploading KeyPackages and being invited.
	eng, err = LoadEngine(d1.id, d1State, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if eng.PendingKeyPackages() != 3 {
		t.Fatalf("%d pending KeyPackages after reload", eng.PendingKeyPackages())
	}
	d1.eng = eng
	kps, _, err := d1.eng.NewKeyPackages(1)
	if err != nil {
		t.Fatal(err)
	}
	// c1 invites dora and restarts with the commit pending.
	commit, welcome, err := c1.g.AddMembers(kps)
	if err != nil {
		t.Fatal(err)
	}
	pendingState, err := c1.g.ExportState()
	if err != nil {
		t.Fatal(err)
	}
	c1.g, err = c1.eng.LoadGroup(pendingState)
	if err != nil {
		t.Fatal(err)
	}
	if gotCommit, gotWelcome, ok := c1.g.PendingCommit(); !ok || !bytes.Equal(gotCommit, commit) || !bytes.Equal(gotWelcome, welcome) {
		t.Fatal("pending commit lost in the round trip")
	}
	commitAccepted(t, ds, c1, commit)
	join(t, d1, welcome)
	if _, err := d1.eng.JoinFromWelcome(welcome); !errors.Is(err, ErrNoKeyPackage) {
		t.Fatalf("second join with the same KeyPackage: %v", err)
	}
	processAll(t, commit, a1, a2, b1)
	devs = append(devs, d1)
	assertAgree(t, devs...)
	exchange(t, "with dora", devs...)

	// A state from before a discarded commit loads and discards cleanly.
	commit, err = b1.g.Update()
	if err != nil {
		t.Fatal(err)
	}
	st, err := b1.g.ExportState()
	if err != nil {
		t.Fatal(err)
	}
	b1.g, err = b1.eng.LoadGroup(st)
	if err != nil {
		t.Fatal(err)
	}
	if err := b1.g.DiscardPendingCommit(); err != nil {
		t.Fatal(err)
	}
	_ = commit
	assertAgree(t, devs...)
	exchange(t, "after discard", devs...)
}

func TestLoadRefusesForeignState(t *testing.T) {
	_, devs := fourDevices(t, Options{})
	a1, b1 := devs[0], devs[2]
	st, err := a1.g.ExportState()
	if err != nil {
		t.Fatal(err)
	}
	_, err = b1.eng.LoadGroup(st)
	wantKind(t, "loading another device's group", err, ErrCorruptState)
	est, err := a1.eng.ExportState()
	if err != nil {
		t.Fatal(err)
	}
	_, err = LoadEngine(b1.id, est, Options{})
	wantKind(t, "loading another device's engine", err, ErrCorruptState)
	for _, bad := range [][]byte{nil, []byte("{"), []byte(`{"v":1}`), []byte(`{"v":2}`), bytes.Repeat([]byte("x"), 100)} {
		_, err := a1.eng.LoadGroup(bad)
		wantKind(t, "LoadGroup(garbage)", err, ErrCorruptState)
	}
	// A flipped byte inside the library state is caught by its checks.
	m := bytes.Clone(st)
	i := bytes.Index(m, []byte(`"confirmation_tag":"`)) + len(`"confirmation_tag":"`) + 2
	m[i] ^= 0x01
	if m[i] == '"' || m[i] == '\\' {
		m[i] = 'A'
	}
	_, err = a1.eng.LoadGroup(m)
	wantKind(t, "LoadGroup(tampered)", err, ErrCorruptState)
}

func TestArgumentChecks(t *testing.T) {
	_, devs := fourDevices(t, Options{})
	a1 := devs[0]
	cases := []struct {
		name string
		err  error
	}{
		{"empty group id", func() error { _, err := a1.eng.CreateGroup(nil); return err }()},
		{"long group id", func() error { _, err := a1.eng.CreateGroup(make([]byte, MaxGroupIDSize+1)); return err }()},
		{"zero key packages", func() error { _, _, err := a1.eng.NewKeyPackages(0); return err }()},
		{"too many key packages", func() error { _, _, err := a1.eng.NewKeyPackages(MaxKeyPackagesPerCall + 1); return err }()},
		{"no key packages to add", func() error { _, _, err := a1.g.AddMembers(nil); return err }()},
		{"remove unknown", func() error { _, err := a1.g.RemoveMembers([]string{"wache:v1:x@y/z"}); return err }()},
		{"remove self", func() error { _, err := a1.g.RemoveMembers([]string{a1.cred(t)}); return err }()},
		{"remove nobody", func() error { _, err := a1.g.RemoveMembers(nil); return err }()},
		{"add existing member", func() error { _, _, err := a1.g.AddMembers([][]byte{devs[1].keyPackage(t)}); return err }()},
		{"huge plaintext", func() error { _, err := a1.g.Encrypt(make([]byte, MaxPlaintextSize+1), nil); return err }()},
		{"huge aad", func() error { _, err := a1.g.Encrypt(nil, make([]byte, MaxAuthenticatedDataSize+1)); return err }()},
		{"merge without pending", func() error { return a1.g.MergePendingCommit() }()},
	}
	for _, c := range cases {
		if c.err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		var e *Error
		if !errors.As(c.err, &e) {
			t.Errorf("%s: error %v is not *Error", c.name, c.err)
		}
		if !errors.Is(c.err, ErrInvalidArgument) && !errors.Is(c.err, ErrNoPendingCommit) {
			t.Errorf("%s: %v", c.name, c.err)
		}
	}
	// Wrong-kind messages are refused by every entry point.
	kp := devs[1].keyPackage(t)
	if _, err := a1.g.Process(kp); !errors.Is(err, ErrMalformed) {
		t.Errorf("Process(KeyPackage): %v", err)
	}
	if _, err := a1.eng.JoinFromWelcome(kp); !errors.Is(err, ErrMalformed) {
		t.Errorf("JoinFromWelcome(KeyPackage): %v", err)
	}
	ct, _ := a1.g.Encrypt([]byte("x"), nil)
	if _, _, err := a1.g.AddMembers([][]byte{ct}); !errors.Is(err, ErrMalformed) {
		t.Errorf("AddMembers(application message): %v", err)
	}
	other, err := a1.eng.CreateGroup([]byte("other"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Process(ct); !errors.Is(err, ErrWrongGroup) {
		t.Errorf("message for another group: %v", err)
	}
}

func TestInspect(t *testing.T) {
	ds, devs := fourDevices(t, Options{})
	a1 := devs[0]
	d1 := newDevice(t, "dora@polizei.example", "d1", Options{})
	kps, refs, err := d1.eng.NewKeyPackages(1)
	if err != nil {
		t.Fatal(err)
	}
	info, err := ParseKeyPackage(kps[0])
	if err != nil || info.Identity != d1.cred(t) || !bytes.Equal(info.SigKey, d1.eng.SignatureKey()) || !bytes.Equal(info.Ref, refs[0]) {
		t.Fatalf("ParseKeyPackage: %+v %v", info, err)
	}
	if !info.NotAfter.After(info.NotBefore) {
		t.Fatalf("lifetime %v..%v", info.NotBefore, info.NotAfter)
	}
	commit, welcome, err := a1.g.AddMembers(kps)
	if err != nil {
		t.Fatal(err)
	}
	commitAccepted(t, ds, a1, commit)
	ct, err := a1.g.Encrypt([]byte("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		msg  []byte
		want MessageInfo
	}{
		{"commit", commit, MessageInfo{Type: TypeCommit, GroupID: []byte("conv-1"), Epoch: 2, SenderLeaf: 0, HasSenderLeaf: true}},
		{"application", ct, MessageInfo{Type: TypeApplication, Encrypted: true, GroupID: []byte("conv-1"), Epoch: 3}},
		{"welcome", welcome, MessageInfo{Type: TypeWelcome, NewMembers: refs}},
		{"key package", kps[0], MessageInfo{Type: TypeKeyPackage}},
	}
	for _, c := range cases {
		got, err := Inspect(c.msg)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got.Type != c.want.Type || got.Encrypted != c.want.Encrypted || !bytes.Equal(got.GroupID, c.want.GroupID) ||
			got.Epoch != c.want.Epoch || got.HasSenderLeaf != c.want.HasSenderLeaf || got.SenderLeaf != c.want.SenderLeaf ||
			len(got.NewMembers) != len(c.want.NewMembers) || (len(got.NewMembers) > 0 && !bytes.Equal(got.NewMembers[0], c.want.NewMembers[0])) {
			t.Errorf("%s: got %+v, want %+v", c.name, got, c.want)
		}
	}
}

// TestPublicApplicationRefused: RFC 9420 §6.2 forbids application data in a
// PublicMessage. mls-go can produce one; the engine must not accept it even
// when it is correctly signed and tagged by a member.
func TestPublicApplicationRefused(t *testing.T) {
	_, devs := fourDevices(t, Options{})
	a1, b1 := devs[0], devs[2]
	sender := a1.g.(*mlsGroup)
	lg := sender.g
	pm, err := framing.NewPublicMessage(framing.FramedContent{
		GroupID:           lg.ID().AsSlice(),
		Epoch:             lg.Epoch().AsUint64(),
		Sender:            framing.Sender{Type: framing.SenderTypeMember, LeafIndex: uint32(lg.OwnLeafIndex())},
		AuthenticatedData: []byte{},
		Body:              framing.ApplicationData{Data: []byte("in the clear")},
	}, sender.e.signer, lg.GroupContext().Marshal(), lg.EpochSecrets().MembershipKey, lg.CipherSuite())
	if err != nil {
		t.Skipf("library refuses public application messages now: %v", err)
	}
	msg := framing.NewMLSMessagePublic(pm).Marshal()
	_, err = b1.g.Process(msg)
	wantKind(t, "public application message", err, ErrMalformed)
	_, err = Inspect(msg)
	wantKind(t, "Inspect(public application message)", err, ErrMalformed)
}

// TestHostileSizes: large hostile handshake messages are refused in one
// pass (mls-go alone scans every prefix of an undecodable handshake body,
// which takes hours on a few megabytes).
func TestHostileSizes(t *testing.T) {
	ds, devs := fourDevices(t, Options{})
	a1, b1 := devs[0], devs[2]
	commit, err := a1.g.Update()
	if err != nil {
		t.Fatal(err)
	}
	commitAccepted(t, ds, a1, commit)
	padded := append(bytes.Clone(commit), make([]byte, 4<<20)...)
	_, err = b1.g.Process(padded)
	wantKind(t, "commit with 4 MiB of trailing bytes", err, ErrMalformed)
	_, err = Inspect(padded)
	wantKind(t, "Inspect of the same", err, ErrMalformed)
	// A commit whose proposals vector claims more bytes than there are.
	broken := bytes.Clone(commit)
	i := bytes.Index(broken, []byte("conv-1")) + len("conv-1") + 8 + 1 + 4 + 1 + 1
	broken[i] = 0xbf
	_, err = b1.g.Process(append(broken, make([]byte, 1<<20)...))
	wantKind(t, "commit with a bogus proposal vector", err, ErrMalformed)
	_, err = b1.g.Process(make([]byte, MaxMessageSize+1))
	wantKind(t, "oversized message", err, ErrMalformed)
	processAll(t, commit, b1)
}

// TestGenerationSkipBounded: a member cannot make receivers derive an
// unbounded number of ratchet keys by claiming a huge generation.
func TestGenerationSkipBounded(t *testing.T) {
	_, devs := fourDevices(t, Options{})
	a1, b1 := devs[0], devs[2]
	sender := a1.g.(*mlsGroup)
	ls, err := sender.g.SecretTree().LeafForIndex(uint32(sender.g.OwnLeafIndex()))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		skip uint64
		ok   bool
	}{{1000, true}, {maxGenerationSkip + 5000, false}} {
		ls.SetSequenceNumber(uint64(ls.CurrentGeneration()) + c.skip)
		ct, err := a1.g.Encrypt([]byte("far ahead"), nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = b1.g.Process(ct)
		if c.ok && err != nil {
			t.Fatalf("skip %d: %v", c.skip, err)
		}
		if !c.ok {
			wantKind(t, "generation far ahead", err, ErrDecrypt)
			if !strings.Contains(err.Error(), "too far ahead") {
				t.Fatalf("refused for another reason: %v", err)
			}
		}
	}
}
