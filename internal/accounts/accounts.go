// Package accounts registers users by service email address, verifies
// one-time login codes, enrols devices with their signature keys and issues
// device-bound bearer tokens (stored only as hashes).
package accounts

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"log/slog"
	"math/big"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/wache/wache"
	"github.com/wache/wache/internal/store"
)

// Config holds the registration policy.
type Config struct {
	AllowedDomains []string      // lower-case service email domains
	CodeTTL        time.Duration // how long a login code is valid
	CodeCooldown   time.Duration // minimum time between two codes for one address
	MaxAttempts    int           // wrong guesses before a code is void
}

// DefaultConfig returns the production defaults.
func DefaultConfig(domains []string) Config {
	return Config{AllowedDomains: domains, CodeTTL: 10 * time.Minute, CodeCooldown: 30 * time.Second, MaxAttempts: 5}
}

// Service implements registration, login and device management.
type Service struct {
	store  store.Store
	mailer Mailer
	cfg    Config
	log    *slog.Logger
	now    func() time.Time
	// OnRevoke is called after a device was revoked, so that open
	// connections of that device can be closed at once.
	OnRevoke func(ctx context.Context, deviceID string)
}

// New returns a Service.
func New(s store.Store, m Mailer, cfg Config, log *slog.Logger) *Service {
	for i, d := range cfg.AllowedDomains {
		cfg.AllowedDomains[i] = strings.ToLower(strings.TrimSpace(d))
	}
	return &Service{store: s, mailer: m, cfg: cfg, log: log, now: time.Now}
}

// NewID returns a new time-ordered unique id.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// NormalizeEmail validates an address and returns it lower-case with its domain.
func NormalizeEmail(s string) (email, domain string, err error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 254 || !utf8.ValidString(s) {
		return "", "", wache.Errorf(wache.EINVALID, "email address is missing or too long")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return "", "", wache.Errorf(wache.EINVALID, "%q is not a plain email address", s)
	}
	email = strings.ToLower(a.Address)
	at := strings.LastIndexByte(email, '@')
	return email, email[at+1:], nil
}

// checkDomain enforces the service-domain policy.
func (s *Service) checkDomain(email string) (string, error) {
	email, domain, err := NormalizeEmail(email)
	if err != nil {
		return "", err
	}
	if !slices.Contains(s.cfg.AllowedDomains, domain) {
		return "", wache.Errorf(wache.EFORBIDDEN, "only service addresses may register (allowed: %s)", strings.Join(s.cfg.AllowedDomains, ", "))
	}
	return email, nil
}

func hashCode(email, code string) []byte {
	h := sha256.Sum256([]byte("wache-login-code\x00" + email + "\x00" + code))
	return h[:]
}

// HashToken returns the stored form of a bearer token.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// RequestCode sends a one-time code to a service address. Unknown users of
// an allowed domain are registered when they verify it.
func (s *Service) RequestCode(ctx context.Context, email string) error {
	email, err := s.checkDomain(email)
	if err != nil {
		return err
	}
	now := s.now()
	if old, err := s.store.LoginCode(ctx, email); err == nil {
		if now.Sub(old.CreatedAt) < s.cfg.CodeCooldown {
			return wache.Errorf(wache.ERATELIMIT, "a code was sent moments ago; wait %s before asking again",
				(s.cfg.CodeCooldown - now.Sub(old.CreatedAt)).Round(time.Second))
		}
	} else if wache.ErrorCode(err) != wache.ENOTFOUND {
		return fmt.Errorf("load login code: %w", err)
	}
	if u, err := s.store.UserByEmail(ctx, email); err == nil && u.DisabledAt != nil {
		return wache.Errorf(wache.EFORBIDDEN, "this account is disabled")
	}
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return fmt.Errorf("random: %w", err)
	}
	code := fmt.Sprintf("%06d", n.Int64())
	if err := s.store.PutLoginCode(ctx, &store.LoginCode{
		Email: email, CodeHash: hashCode(email, code), CreatedAt: now, ExpiresAt: now.Add(s.cfg.CodeTTL),
	}); err != nil {
		return fmt.Errorf("store login code: %w", err)
	}
	mctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err = s.mailer.Send(mctx, Mail{
		To:      email,
		Subject: "Wache: Ihr Anmeldecode / your login code",
		Body: fmt.Sprintf("Ihr Wache-Anmeldecode: %s\nYour Wache login code: %s\n\nGültig %d Minuten. Valid for %d minutes.\n",
			code, code, int(s.cfg.CodeTTL.Minutes()), int(s.cfg.CodeTTL.Minutes())),
	})
	if err != nil {
		_ = s.store.DeleteLoginCode(ctx, email)
		return &wache.Error{Code: wache.EUNAVAILABLE, Message: "the login code could not be sent; try again later", Err: err}
	}
	return nil
}

// RegistrationMessage is what a device signs to prove it holds the private
// key it enrols: "wache-register-v1\x00" + email + "\x00" + code.
func RegistrationMessage(email, code string) []byte {
	return []byte("wache-register-v1\x00" + strings.ToLower(email) + "\x00" + code)
}

// VerifyRequest enrols a device with a login code.
type VerifyRequest struct {
	Email      string
	Code       string
	DeviceName string
	SigningKey []byte // Ed25519 public key
	Signature  []byte // over RegistrationMessage(email, code)
}

// Session is the result of a successful login.
type Session struct {
	User   *wache.User
	Device *wache.Device
	Token  string // shown once; the server keeps only its hash
}

// Verify checks a login code and enrols a new device.
func (s *Service) Verify(ctx context.Context, r VerifyRequest) (*Session, error) {
	email, err := s.checkDomain(r.Email)
	if err != nil {
		return nil, err
	}
	if len(r.Code) != 6 || strings.Trim(r.Code, "0123456789") != "" {
		return nil, wache.Errorf(wache.EINVALID, "the code has six digits")
	}
	name := strings.TrimSpace(r.DeviceName)
	if name == "" || utf8.RuneCountInString(name) > 64 || !utf8.ValidString(name) {
		return nil, wache.Errorf(wache.EINVALID, "device name must be 1 to 64 characters")
	}
	if len(r.SigningKey) != ed25519.PublicKeySize {
		return nil, wache.Errorf(wache.EINVALID, "signing key must be a %d-byte Ed25519 public key", ed25519.PublicKeySize)
	}
	lc, err := s.store.LoginCode(ctx, email)
	if wache.ErrorCode(err) == wache.ENOTFOUND {
		return nil, wache.Errorf(wache.EUNAUTHORIZED, "no login code pending for this address; request one first")
	} else if err != nil {
		return nil, fmt.Errorf("load login code: %w", err)
	}
	if s.now().After(lc.ExpiresAt) {
		return nil, wache.Errorf(wache.EEXPIRED, "the login code has expired; request a new one")
	}
	if lc.Attempts >= s.cfg.MaxAttempts {
		return nil, wache.Errorf(wache.ERATELIMIT, "too many wrong codes; request a new one")
	}
	if subtle.ConstantTimeCompare(lc.CodeHash, hashCode(email, r.Code)) != 1 {
		n, err := s.store.IncLoginAttempts(ctx, email)
		if err != nil {
			return nil, fmt.Errorf("count attempt: %w", err)
		}
		if left := s.cfg.MaxAttempts - n; left > 0 {
			return nil, wache.Errorf(wache.EUNAUTHORIZED, "wrong code (%d attempts left)", left)
		}
		return nil, wache.Errorf(wache.ERATELIMIT, "too many wrong codes; request a new one")
	}
	if len(r.Signature) != ed25519.SignatureSize || !ed25519.Verify(r.SigningKey, RegistrationMessage(email, r.Code), r.Signature) {
		return nil, wache.Errorf(wache.EINVALID, "the signature does not prove possession of the signing key")
	}
	// The code is spent whatever happens next.
	if err := s.store.DeleteLoginCode(ctx, email); err != nil {
		return nil, fmt.Errorf("spend login code: %w", err)
	}
	u, err := s.store.UserByEmail(ctx, email)
	if wache.ErrorCode(err) == wache.ENOTFOUND {
		u, err = s.register(ctx, email)
	}
	if err != nil {
		return nil, err
	}
	if u.DisabledAt != nil {
		return nil, wache.Errorf(wache.EFORBIDDEN, "this account is disabled")
	}
	tok := make([]byte, 32)
	if _, err := rand.Read(tok); err != nil {
		return nil, fmt.Errorf("random: %w", err)
	}
	token := "wch_" + base64.RawURLEncoding.EncodeToString(tok)
	now := s.now().UTC()
	d := &wache.Device{ID: NewID(), UserID: u.ID, Name: name, SigningKey: r.SigningKey, CreatedAt: now, LastSeenAt: now}
	if err := s.store.CreateDevice(ctx, d, HashToken(token)); err != nil {
		return nil, fmt.Errorf("create device: %w", err)
	}
	s.log.InfoContext(ctx, "device enrolled", "user", u.ID, "device", d.ID)
	return &Session{User: u, Device: d, Token: token}, nil
}

// register creates the account of a first-time user as an officer of the
// server's organisation.
func (s *Service) register(ctx context.Context, email string) (*wache.User, error) {
	orgs, err := s.store.Orgs(ctx)
	if err != nil {
		return nil, fmt.Errorf("load orgs: %w", err)
	}
	if len(orgs) == 0 {
		return nil, wache.Errorf(wache.EUNAVAILABLE, "the server has no organisation configured")
	}
	local := email[:strings.IndexByte(email, '@')]
	u := &wache.User{ID: NewID(), OrgID: orgs[0].ID, Email: email, DisplayName: displayName(local),
		Roles: []wache.Role{wache.RoleOfficer}, CreatedAt: s.now().UTC()}
	if err := s.store.CreateUser(ctx, u); err != nil {
		if wache.ErrorCode(err) == wache.ECONFLICT { // registered concurrently
			return s.store.UserByEmail(ctx, email)
		}
		return nil, fmt.Errorf("create user: %w", err)
	}
	s.log.InfoContext(ctx, "user registered", "user", u.ID)
	return u, nil
}

// displayName turns "anna.schmidt" into "Anna Schmidt".
func displayName(local string) string {
	parts := strings.FieldsFunc(local, func(r rune) bool { return r == '.' || r == '_' || r == '-' })
	for i, p := range parts {
		parts[i] = strings.ToUpper(p[:1]) + p[1:]
	}
	return strings.Join(parts, " ")
}

// Authenticate resolves a bearer token to its user and device. A revoked
// device gets EREVOKED so that the client knows to erase its local state.
func (s *Service) Authenticate(ctx context.Context, token string) (*wache.User, *wache.Device, error) {
	if !strings.HasPrefix(token, "wch_") || len(token) > 128 {
		return nil, nil, wache.Errorf(wache.EUNAUTHORIZED, "missing or malformed token")
	}
	d, err := s.store.DeviceByTokenHash(ctx, HashToken(token))
	if wache.ErrorCode(err) == wache.ENOTFOUND {
		return nil, nil, wache.Errorf(wache.EUNAUTHORIZED, "unknown token; log in again")
	} else if err != nil {
		return nil, nil, fmt.Errorf("load device: %w", err)
	}
	if d.Revoked() {
		return nil, nil, wache.Errorf(wache.EREVOKED, "this device was revoked; its local data must be erased")
	}
	u, err := s.store.User(ctx, d.UserID)
	if err != nil {
		return nil, nil, fmt.Errorf("load user: %w", err)
	}
	if u.DisabledAt != nil {
		return nil, nil, wache.Errorf(wache.EFORBIDDEN, "this account is disabled")
	}
	return u, d, nil
}

// Devices lists the user's devices.
func (s *Service) Devices(ctx context.Context, userID string) ([]wache.Device, error) {
	return s.store.Devices(ctx, userID)
}

// RevokeDevice revokes a device. Users revoke their own devices; admins
// revoke any device of their organisation.
func (s *Service) RevokeDevice(ctx context.Context, actor *wache.User, deviceID string) error {
	d, err := s.store.Device(ctx, deviceID)
	if err != nil {
		return err
	}
	if d.UserID != actor.ID {
		owner, err := s.store.User(ctx, d.UserID)
		if err != nil {
			return err
		}
		if !actor.HasRole(wache.RoleAdmin) || owner.OrgID != actor.OrgID {
			return wache.Errorf(wache.ENOTFOUND, "no such device")
		}
	}
	if d.Revoked() {
		return nil
	}
	if err := s.store.RevokeDevice(ctx, deviceID, s.now().UTC()); err != nil {
		return fmt.Errorf("revoke device: %w", err)
	}
	s.log.InfoContext(ctx, "device revoked", "device", deviceID, "by", actor.ID)
	if s.OnRevoke != nil {
		s.OnRevoke(ctx, deviceID)
	}
	return nil
}
