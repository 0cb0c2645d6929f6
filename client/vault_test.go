package client

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestVault(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fs := FileState{Dir: dir}
	v, err := OpenVault(ctx, fs, []byte("1234"))
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte(`{"token":"wch_secret-token","signing_key":"c2VjcmV0"}`)
	if err := v.Save(ctx, "profile", secret); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "profile.json"))
	if bytes.Contains(raw, []byte("wch_secret")) || bytes.Contains(raw, []byte("signing_key")) {
		t.Fatal("the vault stores plaintext")
	}
	for _, tc := range []struct {
		name       string
		passphrase string
		wantErr    error
	}{
		{"right passphrase", "1234", nil},
		{"wrong passphrase", "4321", ErrWrongPassphrase},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v2, err := OpenVault(ctx, fs, []byte(tc.passphrase))
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("open: %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			got, err := v2.Load(ctx, "profile")
			if err != nil || !bytes.Equal(got, secret) {
				t.Fatalf("load: %q %v", got, err)
			}
		})
	}
	// A value moved to another key, or altered, does not decrypt.
	if err := os.WriteFile(filepath.Join(dir, "inbox.json"), raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Load(ctx, "inbox"); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("swapped value: %v", err)
	}
	raw[len(raw)-1] ^= 1
	os.WriteFile(filepath.Join(dir, "profile.json"), raw, 0o600)
	if _, err := v.Load(ctx, "profile"); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("altered value: %v", err)
	}
	if _, err := OpenVault(ctx, fs, []byte("12")); err == nil {
		t.Fatal("a 2-character PIN was accepted")
	}
	os.WriteFile(filepath.Join(dir, "vault.json"), []byte("{"), 0o600)
	if _, err := OpenVault(ctx, fs, []byte("1234")); err == nil {
		t.Fatal("a corrupt vault header was accepted")
	}
}
