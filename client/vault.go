package client

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"

	"golang.org/x/crypto/argon2"
)

// ErrWrongPassphrase means the vault could not be opened with the given
// passphrase (or its data was altered).
var ErrWrongPassphrase = errors.New("wrong passphrase, or the local data was altered")

// Vault is a State that encrypts every value at rest with AES-256-GCM
// under a key derived from the user's passphrase (or PIN) with Argon2id.
// The key name is bound into each value (as additional data), so values
// cannot be swapped between keys. The vault's parameters and a check value
// are stored unencrypted under "vault".
type Vault struct {
	inner State
	aead  cipher.AEAD
}

type vaultHeader struct {
	V       int    `json:"v"`
	Salt    []byte `json:"salt"`
	Time    uint32 `json:"time"`
	Memory  uint32 `json:"memory_kib"`
	Threads uint8  `json:"threads"`
	Check   []byte `json:"check"` // seal of a known text: tells a wrong passphrase apart
}

const (
	vaultKey   = "vault"
	vaultCheck = "wache-vault-check-v1"
)

// Argon2id cost: about 0.1–0.3 s on a phone-class CPU, 64 MiB.
var defaultKDF = vaultHeader{V: 1, Time: 2, Memory: 64 * 1024, Threads: 2}

// OpenVault opens (or, on first use, creates) the encrypted state inside
// inner. A wrong passphrase returns ErrWrongPassphrase.
func OpenVault(ctx context.Context, inner State, passphrase []byte) (*Vault, error) {
	return openVault(ctx, inner, passphrase, defaultKDF)
}

// KDFParams are the Argon2id costs of a new vault.
type KDFParams struct {
	Time      uint32
	MemoryKiB uint32
	Threads   uint8
}

// OpenVaultKDF is OpenVault with the Argon2id costs to use if the vault is
// created now (the browser app, where WebAssembly runs Argon2 on one thread
// without SIMD, uses lighter ones); an existing vault keeps its own.
func OpenVaultKDF(ctx context.Context, inner State, passphrase []byte, p KDFParams) (*Vault, error) {
	if p.Time < 1 || p.Time > 64 || p.MemoryKiB < 8*1024 || p.MemoryKiB > 1<<22 || p.Threads < 1 {
		return nil, fmt.Errorf("Argon2id parameters out of range")
	}
	return openVault(ctx, inner, passphrase, vaultHeader{V: 1, Time: p.Time, Memory: p.MemoryKiB, Threads: p.Threads})
}

func openVault(ctx context.Context, inner State, passphrase []byte, kdf vaultHeader) (*Vault, error) {
	if len(passphrase) < 4 {
		return nil, fmt.Errorf("the passphrase or PIN needs at least 4 characters")
	}
	raw, err := inner.Load(ctx, vaultKey)
	if err != nil {
		return nil, err
	}
	var h vaultHeader
	if raw == nil {
		h = kdf
		h.Salt = make([]byte, 16)
		if _, err := rand.Read(h.Salt); err != nil {
			return nil, err
		}
	} else if err := json.Unmarshal(raw, &h); err != nil || h.V != 1 || len(h.Salt) < 16 || h.Memory > 1<<22 || h.Time > 64 {
		return nil, fmt.Errorf("local data is corrupt (vault header unreadable)")
	}
	key := argon2.IDKey(passphrase, h.Salt, h.Time, h.Memory, h.Threads, 32)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	v := &Vault{inner: inner, aead: aead}
	if raw == nil {
		h.Check = v.seal(vaultKey, []byte(vaultCheck))
		b, _ := json.Marshal(h)
		if err := inner.Save(ctx, vaultKey, b); err != nil {
			return nil, err
		}
		return v, nil
	}
	got, err := v.open(vaultKey, h.Check)
	if err != nil || subtle.ConstantTimeCompare(got, []byte(vaultCheck)) != 1 {
		return nil, ErrWrongPassphrase
	}
	return v, nil
}

func (v *Vault) seal(key string, plain []byte) []byte {
	nonce := make([]byte, v.aead.NonceSize(), v.aead.NonceSize()+len(plain)+v.aead.Overhead())
	_, _ = rand.Read(nonce)
	return v.aead.Seal(nonce, nonce, plain, []byte("wache-vault\x00"+key))
}

func (v *Vault) open(key string, sealed []byte) ([]byte, error) {
	n := v.aead.NonceSize()
	if len(sealed) < n+v.aead.Overhead() {
		return nil, ErrWrongPassphrase
	}
	plain, err := v.aead.Open(nil, sealed[:n], sealed[n:], []byte("wache-vault\x00"+key))
	if err != nil {
		return nil, ErrWrongPassphrase
	}
	return plain, nil
}

// Load decrypts a value; nil, nil when absent.
func (v *Vault) Load(ctx context.Context, key string) ([]byte, error) {
	if key == vaultKey {
		return nil, fmt.Errorf("reserved state key %q", key)
	}
	b, err := v.inner.Load(ctx, key)
	if err != nil || len(b) == 0 { // absent or deleted
		return nil, err
	}
	plain, err := v.open(key, b)
	if err != nil {
		return nil, fmt.Errorf("local data %q: %w", key, err)
	}
	return plain, nil
}

// Save encrypts and stores a value.
func (v *Vault) Save(ctx context.Context, key string, val []byte) error {
	if key == vaultKey {
		return fmt.Errorf("reserved state key %q", key)
	}
	if len(val) == 0 { // deleting: nothing to seal, nothing left behind
		return v.inner.Save(ctx, key, nil)
	}
	return v.inner.Save(ctx, key, v.seal(key, val))
}

// Erase removes everything, the vault header included.
func (v *Vault) Erase(ctx context.Context) error { return v.inner.Erase(ctx) }
