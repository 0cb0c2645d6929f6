package attach

import (
	"encoding/json"
	"fmt"
	"mime"
	"strings"
	"unicode/utf8"
)

// Ref is the attachment reference that travels inside the encrypted
// message: where the blob is, how to decrypt it and what it must hash to.
// It is secret (it holds the key) and must never leave the MLS payload.
type Ref struct {
	BlobID string `json:"blob_id"`
	Key    []byte `json:"key"`    // AES-256 key, 32 bytes
	SHA256 []byte `json:"sha256"` // of the plaintext, 32 bytes
	Size   int64  `json:"size"`   // plaintext bytes
	MIME   string `json:"mime,omitempty"`
	Name   string `json:"name,omitempty"` // file name shown to the user
}

// Limits of the descriptive fields.
const (
	MaxNameLen = 255
	MaxMIMELen = 255
	maxRefJSON = 4 << 10
)

// validateCrypto checks the fields Decrypt needs.
func (r Ref) validateCrypto() error {
	if len(r.Key) != KeySize {
		return fmt.Errorf("attachment reference: key must be %d bytes, got %d", KeySize, len(r.Key))
	}
	if len(r.SHA256) != 32 {
		return fmt.Errorf("attachment reference: sha256 must be 32 bytes, got %d", len(r.SHA256))
	}
	if r.Size < 0 || r.Size > MaxSize {
		return fmt.Errorf("attachment reference: size %d outside 0..%d", r.Size, int64(MaxSize))
	}
	return nil
}

// ValidBlobID reports whether id has the server's blob id form (32
// lower-case hex digits).
func ValidBlobID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Validate checks a reference received from another device before it is
// shown or used: every field is bounded and well-formed.
func (r Ref) Validate() error {
	if !ValidBlobID(r.BlobID) {
		return fmt.Errorf("attachment reference: malformed blob id")
	}
	if err := r.validateCrypto(); err != nil {
		return err
	}
	return r.validateMeta()
}

// validateMeta checks the descriptive fields (MIME type and name).
func (r Ref) validateMeta() error {
	if len(r.MIME) > MaxMIMELen {
		return fmt.Errorf("attachment reference: MIME type longer than %d bytes", MaxMIMELen)
	}
	if r.MIME != "" {
		if _, _, err := mime.ParseMediaType(r.MIME); err != nil {
			return fmt.Errorf("attachment reference: malformed MIME type")
		}
	}
	if len(r.Name) > MaxNameLen || !utf8.ValidString(r.Name) {
		return fmt.Errorf("attachment reference: file name must be valid UTF-8 of at most %d bytes", MaxNameLen)
	}
	if strings.ContainsAny(r.Name, "/\\\x00") || r.Name == "." || r.Name == ".." {
		return fmt.Errorf("attachment reference: file name must not contain a path")
	}
	for _, c := range r.Name {
		if c < 0x20 || c == 0x7f {
			return fmt.Errorf("attachment reference: file name contains control characters")
		}
	}
	return nil
}

// ParseRef decodes and validates a reference from a message payload.
func ParseRef(b []byte) (Ref, error) {
	if len(b) > maxRefJSON {
		return Ref{}, fmt.Errorf("attachment reference: %d bytes, limit %d", len(b), maxRefJSON)
	}
	var r Ref
	if err := json.Unmarshal(b, &r); err != nil {
		return Ref{}, fmt.Errorf("attachment reference: %w", err)
	}
	if err := r.Validate(); err != nil {
		return Ref{}, err
	}
	return r, nil
}

// Kind is the coarse kind of an attachment, for the UI.
func (r Ref) Kind() string {
	t, _, _ := strings.Cut(r.MIME, "/")
	switch t {
	case "image":
		return "photo"
	case "video":
		return "video"
	case "audio":
		return "voice"
	}
	return "document"
}
