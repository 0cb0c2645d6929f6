//go:build !js

package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
)

// FileState keeps the device state as files in a private directory
// (the CLI profile, e.g. ~/.wache). Writes are atomic and fsynced.
type FileState struct{ Dir string }

var validKey = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)

func (f FileState) path(key string) (string, error) {
	if !validKey.MatchString(key) {
		return "", fmt.Errorf("invalid state key %q", key)
	}
	return filepath.Join(f.Dir, key+".json"), nil
}

func (f FileState) Load(_ context.Context, key string) ([]byte, error) {
	p, err := f.path(key)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

func (f FileState) Save(_ context.Context, key string, val []byte) error {
	p, err := f.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(f.Dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", f.Dir, err)
	}
	tmp, err := os.CreateTemp(f.Dir, "."+key+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(val); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), p)
}

func (f FileState) Erase(context.Context) error {
	entries, err := os.ReadDir(f.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	for _, e := range entries {
		if filepath.Ext(e.Name()) == ".json" {
			if err := os.Remove(filepath.Join(f.Dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}
