package client

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/wache/wache/client/mls"
)

// BenchMLS measures the client core's message crypto without a server: a
// two-device group is set up in memory, then n payloads of size bytes are
// encrypted by one device and decrypted by the other. It returns the mean
// time per encryption and per decryption. The browser app exposes it so
// that the cost can be measured where it matters, in WebAssembly.
func BenchMLS(n, size int) (enc, dec time.Duration, err error) {
	if n < 1 || n > 100000 || size < 1 || size > MaxText {
		return 0, 0, fmt.Errorf("bench needs 1..100000 messages of 1..%d bytes", MaxText)
	}
	newEng := func(email, dev string) (mls.Engine, error) {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		return mls.NewEngine(mls.Identity{UserEmail: email, DeviceID: dev, SigningKey: priv}, mls.Options{})
	}
	a, err := newEng("bench-a@wache.invalid", "a")
	if err != nil {
		return 0, 0, err
	}
	b, err := newEng("bench-b@wache.invalid", "b")
	if err != nil {
		return 0, 0, err
	}
	ga, err := a.CreateGroup([]byte("bench"))
	if err != nil {
		return 0, 0, err
	}
	kps, _, err := b.NewKeyPackages(1)
	if err != nil {
		return 0, 0, err
	}
	_, welcome, err := ga.AddMembers(kps)
	if err != nil {
		return 0, 0, err
	}
	if err := ga.MergePendingCommit(); err != nil {
		return 0, 0, err
	}
	gb, err := b.JoinFromWelcome(welcome)
	if err != nil {
		return 0, 0, err
	}
	pt := make([]byte, size)
	cts := make([][]byte, n)
	start := time.Now()
	for i := range cts {
		if cts[i], err = ga.Encrypt(pt, nil); err != nil {
			return 0, 0, err
		}
	}
	enc = time.Since(start) / time.Duration(n)
	start = time.Now()
	for _, ct := range cts {
		if _, err := gb.Process(ct); err != nil {
			return 0, 0, err
		}
	}
	dec = time.Since(start) / time.Duration(n)
	return enc, dec, nil
}
