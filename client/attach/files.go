//go:build !js

package attach

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/wache/wache"
)

// UploadFile encrypts and uploads the file at path to a conversation. The
// Ref's name defaults to the file's base name and its MIME type to one
// guessed from the extension or the first bytes.
func (c *Client) UploadFile(ctx context.Context, path string, o UploadOptions) (Ref, error) {
	f, err := os.Open(path)
	if err != nil {
		return Ref{}, wache.Errorf(wache.EINVALID, "cannot open %s: %v", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Ref{}, fmt.Errorf("stat %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return Ref{}, wache.Errorf(wache.EINVALID, "%s is not a regular file", path)
	}
	if o.Name == "" {
		o.Name = displayName(filepath.Base(path))
	}
	if o.MIME == "" {
		o.MIME = detectMIME(f, o.Name)
	}
	return c.Upload(ctx, f, st.Size(), o)
}

func detectMIME(f io.ReaderAt, name string) string {
	if t := mime.TypeByExtension(strings.ToLower(filepath.Ext(name))); t != "" {
		if mt, _, err := mime.ParseMediaType(t); err == nil {
			return mt
		}
	}
	head := make([]byte, 512)
	n, _ := f.ReadAt(head, 0)
	t, _, _ := mime.ParseMediaType(http.DetectContentType(head[:n]))
	return t
}

// DownloadFile downloads and decrypts an attachment into path. The
// plaintext goes to a temporary file beside it and is renamed into place
// only after every chunk and the SHA-256 were verified; on error nothing is
// left behind.
func (c *Client) DownloadFile(ctx context.Context, ref Ref, path string, progress Progress) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".wache-download-*")
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := c.Download(ctx, ref, tmp, progress); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("move into place: %w", err)
	}
	return nil
}

// displayName makes a file's base name fit a Ref: valid UTF-8, no control
// characters, at most MaxNameLen bytes (keeping the end, with the extension).
func displayName(name string) string {
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError || r == '\\' {
			return '_'
		}
		return r
	}, strings.ToValidUTF8(name, "_"))
	for len(name) > MaxNameLen {
		_, n := utf8.DecodeRuneInString(name)
		name = name[n:]
	}
	return name
}
