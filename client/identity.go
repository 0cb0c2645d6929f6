package client

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"

	"github.com/wache/wache/api"
)

// Profile is what a device keeps about itself: server, account, device
// token and the device's private signing key.
type Profile struct {
	Server     string `json:"server"`
	Email      string `json:"email"`
	UserID     string `json:"user_id"`
	DeviceID   string `json:"device_id"`
	DeviceName string `json:"device_name"`
	Token      string `json:"token"`
	SigningKey []byte `json:"signing_key"` // Ed25519 private key (seed+public)
}

// registrationMessage mirrors the server's proof-of-possession message.
func registrationMessage(email, code string) []byte {
	return []byte("wache-register-v1\x00" + strings.ToLower(email) + "\x00" + code)
}

// Verify completes a login with the mailed code: it creates the device's
// key pair, proves possession to the server and returns the new profile.
func (c *Client) Verify(ctx context.Context, email, code, deviceName string) (*Profile, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate device key: %w", err)
	}
	var out api.VerifyResponse
	err = c.do(ctx, "POST", "/auth/verify", api.VerifyRequest{
		Email: email, Code: strings.TrimSpace(code), DeviceName: deviceName, SigningKey: pub,
		Signature: ed25519.Sign(priv, registrationMessage(email, strings.TrimSpace(code))),
	}, &out)
	if err != nil {
		return nil, err
	}
	c.token = out.Token
	return &Profile{Server: c.server, Email: out.User.Email, UserID: out.User.ID, DeviceID: out.Device.ID,
		DeviceName: out.Device.Name, Token: out.Token, SigningKey: priv}, nil
}

// NewClientID returns a fresh idempotency key for an outgoing envelope.
func NewClientID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func jitter(n int64) int64 {
	if n <= 1 {
		return 0
	}
	v, err := rand.Int(rand.Reader, big.NewInt(n))
	if err != nil {
		var b [8]byte
		_, _ = rand.Read(b[:])
		return int64(binary.LittleEndian.Uint64(b[:]) % uint64(n))
	}
	return v.Int64()
}
