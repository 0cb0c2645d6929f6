package mls

import (
	"crypto/ed25519"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// credentialPrefix starts every Wache credential identity; the version lets
// the format change without ambiguity.
const credentialPrefix = "wache:v1:"

// Bounds of the parts of a credential identity.
const (
	MaxEmailLength    = 254 // RFC 5321 path limit
	MaxDeviceIDLength = 128
)

// Identity is a device's identity: the account email, the device id the
// server issued and the device's Ed25519 signing key, which is also its MLS
// signature key.
type Identity struct {
	UserEmail  string
	DeviceID   string
	SigningKey ed25519.PrivateKey
}

// CredentialIdentity returns the identity bytes put into the device's MLS
// BasicCredential.
func (id Identity) CredentialIdentity() (string, error) {
	return FormatCredentialIdentity(id.UserEmail, id.DeviceID)
}

// validate checks the identity before an engine uses it.
func (id Identity) validate() (string, error) {
	cred, err := id.CredentialIdentity()
	if err != nil {
		return "", err
	}
	if len(id.SigningKey) != ed25519.PrivateKeySize {
		return "", fmt.Errorf("%w: signing key must be an Ed25519 private key of %d bytes", ErrInvalidArgument, ed25519.PrivateKeySize)
	}
	// A private key whose public half does not match its seed would sign
	// with one key and advertise another.
	if !ed25519.NewKeyFromSeed(id.SigningKey.Seed()).Equal(id.SigningKey) {
		return "", fmt.Errorf("%w: signing key is inconsistent", ErrInvalidArgument)
	}
	return cred, nil
}

// FormatCredentialIdentity encodes email and device id as
// "wache:v1:<email>/<deviceID>". The email is lower-cased (the server stores
// it that way), so each device has exactly one encoding.
func FormatCredentialIdentity(email, deviceID string) (string, error) {
	email = strings.ToLower(email)
	if err := checkEmail(email); err != nil {
		return "", err
	}
	if err := checkDeviceID(deviceID); err != nil {
		return "", err
	}
	return credentialPrefix + email + "/" + deviceID, nil
}

// ParseCredentialIdentity decodes a credential identity made by
// FormatCredentialIdentity. It accepts only the canonical form.
func ParseCredentialIdentity(identity string) (email, deviceID string, err error) {
	if len(identity) > len(credentialPrefix)+MaxEmailLength+1+MaxDeviceIDLength {
		return "", "", fmt.Errorf("%w: credential identity too long", ErrInvalidCredential)
	}
	rest, ok := strings.CutPrefix(identity, credentialPrefix)
	if !ok {
		return "", "", fmt.Errorf("%w: credential identity lacks %q prefix", ErrInvalidCredential, credentialPrefix)
	}
	// Device ids never contain '/', emails may: split at the last one.
	i := strings.LastIndexByte(rest, '/')
	if i < 0 {
		return "", "", fmt.Errorf("%w: credential identity lacks device id", ErrInvalidCredential)
	}
	email, deviceID = rest[:i], rest[i+1:]
	if err := checkEmail(email); err != nil {
		return "", "", fmt.Errorf("%w: %v", ErrInvalidCredential, err)
	}
	if email != strings.ToLower(email) {
		return "", "", fmt.Errorf("%w: email is not lower case", ErrInvalidCredential)
	}
	if err := checkDeviceID(deviceID); err != nil {
		return "", "", fmt.Errorf("%w: %v", ErrInvalidCredential, err)
	}
	return email, deviceID, nil
}

func checkEmail(email string) error {
	if email == "" || len(email) > MaxEmailLength {
		return fmt.Errorf("%w: email must be 1 to %d bytes", ErrInvalidArgument, MaxEmailLength)
	}
	at := strings.LastIndexByte(email, '@')
	if at <= 0 || at == len(email)-1 {
		return fmt.Errorf("%w: email %q is not local@domain", ErrInvalidArgument, email)
	}
	if strings.ContainsRune(email[at+1:], '/') {
		return fmt.Errorf("%w: email domain contains '/'", ErrInvalidArgument)
	}
	return checkPrintable("email", email)
}

func checkDeviceID(id string) error {
	if id == "" || len(id) > MaxDeviceIDLength {
		return fmt.Errorf("%w: device id must be 1 to %d bytes", ErrInvalidArgument, MaxDeviceIDLength)
	}
	if strings.ContainsRune(id, '/') {
		return fmt.Errorf("%w: device id contains '/'", ErrInvalidArgument)
	}
	return checkPrintable("device id", id)
}

// checkPrintable refuses invalid UTF-8, spaces and control characters, which
// would make identities look alike in logs and UIs.
func checkPrintable(what, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalidArgument, what)
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || !unicode.IsPrint(r) {
			return fmt.Errorf("%w: %s contains space or control character %U", ErrInvalidArgument, what, r)
		}
	}
	return nil
}
