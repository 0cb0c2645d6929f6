package push

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"strings"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
	"github.com/wache/wache/internal/store/sqldb"
)

// Bounds of a subscription. Real endpoints are 150–500 characters; the keys
// have fixed sizes (RFC 8291 §3).
const (
	MaxEndpoint               = 2048
	MaxSubscriptionBody       = 4096 // JSON bytes of one subscription request
	MaxSubscriptionsPerDevice = 5
	p256dhLen                 = 65 // uncompressed P-256 point
	authLen                   = 16
	maxKeyChars               = 128
)

// Subscription is a validated push subscription. Keys are kept as
// canonical base64url without padding.
type Subscription struct {
	Endpoint string
	P256dh   string
	Auth     string
}

// ParseSubscription decodes and validates the JSON body of a subscription
// request (PushSubscription.toJSON() shape). dev allows http:// endpoints
// and non-public hosts. Every failure is a *wache.Error saying what is wrong.
func ParseSubscription(body []byte, dev bool) (Subscription, error) {
	if len(body) > MaxSubscriptionBody {
		return Subscription{}, wache.Errorf(wache.ETOOLARGE, "subscription is larger than %d bytes", MaxSubscriptionBody)
	}
	var in api.PushSubscription
	if err := decodeStrict(body, &in); err != nil {
		return Subscription{}, err
	}
	return ValidateSubscription(in, dev)
}

// ValidateSubscription checks an already decoded subscription.
func ValidateSubscription(in api.PushSubscription, dev bool) (Subscription, error) {
	if err := CheckEndpoint(in.Endpoint, dev); err != nil {
		return Subscription{}, err
	}
	p, err := decodeKey("keys.p256dh", in.Keys.P256dh, p256dhLen)
	if err != nil {
		return Subscription{}, err
	}
	if _, err := ecdh.P256().NewPublicKey(p); err != nil {
		return Subscription{}, wache.Errorf(wache.EINVALID, "keys.p256dh is not an uncompressed P-256 public key")
	}
	a, err := decodeKey("keys.auth", in.Keys.Auth, authLen)
	if err != nil {
		return Subscription{}, err
	}
	enc := base64.RawURLEncoding
	return Subscription{Endpoint: in.Endpoint, P256dh: enc.EncodeToString(p), Auth: enc.EncodeToString(a)}, nil
}

// ParseUnsubscribe decodes the body of DELETE /push/subscriptions.
func ParseUnsubscribe(body []byte) (string, error) {
	if len(body) > MaxSubscriptionBody {
		return "", wache.Errorf(wache.ETOOLARGE, "request is larger than %d bytes", MaxSubscriptionBody)
	}
	var in api.PushUnsubscribe
	if err := decodeStrict(body, &in); err != nil {
		return "", err
	}
	if in.Endpoint == "" {
		return "", wache.Errorf(wache.EINVALID, "endpoint is required")
	}
	if len(in.Endpoint) > MaxEndpoint {
		return "", wache.Errorf(wache.ETOOLARGE, "endpoint is longer than %d characters", MaxEndpoint)
	}
	return in.Endpoint, nil
}

func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.Is(err, io.EOF):
			return wache.Errorf(wache.EINVALID, "request body is empty; expected JSON")
		case errors.As(err, &se):
			return wache.Errorf(wache.EINVALID, "malformed JSON at byte %d", se.Offset)
		case errors.As(err, &te):
			return wache.Errorf(wache.EINVALID, "field %q must be %s", te.Field, te.Type)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return wache.Errorf(wache.EINVALID, "malformed JSON: unexpected end")
		default:
			msg := err.Error()
			if len(msg) > 120 {
				msg = msg[:120]
			}
			return wache.Errorf(wache.EINVALID, "malformed request: %s", msg)
		}
	}
	if dec.More() {
		return wache.Errorf(wache.EINVALID, "request body has data after the JSON object")
	}
	return nil
}

// decodeKey accepts base64url (what browsers send) and, for tolerance of
// other clients, standard base64, with or without padding, and checks the
// decoded length.
func decodeKey(field, s string, want int) ([]byte, error) {
	if s == "" {
		return nil, wache.Errorf(wache.EINVALID, "%s is required", field)
	}
	if len(s) > maxKeyChars {
		return nil, wache.Errorf(wache.ETOOLARGE, "%s is too long (%d characters; a valid key has %d bytes)", field, len(s), want)
	}
	t := strings.TrimRight(s, "=")
	if len(s)-len(t) > 2 {
		return nil, wache.Errorf(wache.EINVALID, "%s is not valid base64url", field)
	}
	enc := base64.RawURLEncoding.Strict()
	if strings.ContainsAny(t, "+/") {
		enc = base64.RawStdEncoding.Strict()
	}
	b, err := enc.DecodeString(t)
	if err != nil {
		return nil, wache.Errorf(wache.EINVALID, "%s is not valid base64url", field)
	}
	if len(b) != want {
		return nil, wache.Errorf(wache.EINVALID, "%s must be %d bytes, got %d", field, want, len(b))
	}
	return b, nil
}

// CheckEndpoint checks a push endpoint URL: https (http only in dev mode),
// a host, no credentials or fragment, and unless dev no loopback, private
// or link-local host (the server would otherwise POST into its own network
// on a client's behalf).
func CheckEndpoint(raw string, dev bool) error {
	if raw == "" {
		return wache.Errorf(wache.EINVALID, "endpoint is required")
	}
	if len(raw) > MaxEndpoint {
		return wache.Errorf(wache.ETOOLARGE, "endpoint is longer than %d characters", MaxEndpoint)
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] <= ' ' || raw[i] >= 0x7f {
			return wache.Errorf(wache.EINVALID, "endpoint must be a URL of printable ASCII characters")
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || u.Host == "" {
		return wache.Errorf(wache.EINVALID, "endpoint is not an absolute URL")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && dev:
	default:
		return wache.Errorf(wache.EINVALID, "endpoint must be an https:// URL")
	}
	if u.User != nil || u.Fragment != "" || strings.Contains(raw, "#") {
		return wache.Errorf(wache.EINVALID, "endpoint must not contain credentials or a fragment")
	}
	host := u.Hostname()
	if host == "" {
		return wache.Errorf(wache.EINVALID, "endpoint has no host")
	}
	if p := u.Port(); p != "" && (len(p) > 5 || p == "0") {
		return wache.Errorf(wache.EINVALID, "endpoint has an invalid port")
	}
	if dev {
		return nil
	}
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") || !strings.Contains(h, ".") && !strings.Contains(h, ":") {
		return wache.Errorf(wache.EINVALID, "endpoint must be on a public host")
	}
	if ip, err := netip.ParseAddr(h); err == nil && !publicAddr(ip) {
		return wache.Errorf(wache.EINVALID, "endpoint must be on a public host")
	}
	return nil
}

var sharedSpace = netip.MustParsePrefix("100.64.0.0/10") // carrier-grade NAT

// publicAddr reports whether ip is a unicast address on the Internet.
func publicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsValid() && ip.IsGlobalUnicast() && !ip.IsPrivate() && !ip.IsLoopback() &&
		!ip.IsLinkLocalUnicast() && !sharedSpace.Contains(ip) && !(ip.Is4() && ip.As4()[0] == 0)
}

// Subscribe stores sub for the device. Registering the same endpoint again
// refreshes its keys; an endpoint registered by another device is refused.
// A device keeps its MaxSubscriptionsPerDevice most recent subscriptions.
// It returns how many the device now holds.
func (s *Service) Subscribe(ctx context.Context, deviceID string, sub Subscription) (int, error) {
	now := s.opts.Now().UnixMilli()
	var n int
	err := s.db.InTx(ctx, func(tx *sqldb.Tx) error {
		res, err := tx.Exec(ctx, `INSERT INTO push_subscriptions (endpoint, device_id, p256dh, auth, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (endpoint) DO UPDATE SET p256dh = excluded.p256dh, auth = excluded.auth, updated_at = excluded.updated_at
			WHERE push_subscriptions.device_id = excluded.device_id`,
			sub.Endpoint, deviceID, sub.P256dh, sub.Auth, now, now)
		if err != nil {
			return fmt.Errorf("store subscription: %w", err)
		}
		if k, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("store subscription: %w", err)
		} else if k == 0 {
			return wache.Errorf(wache.ECONFLICT, "this push endpoint is registered to another device; unsubscribe in the browser and subscribe again")
		}
		// Endpoints rotate; keep the newest few instead of failing.
		if _, err := tx.Exec(ctx, `DELETE FROM push_subscriptions WHERE device_id = ? AND endpoint NOT IN
			(SELECT endpoint FROM push_subscriptions WHERE device_id = ? ORDER BY updated_at DESC, endpoint LIMIT ?)`,
			deviceID, deviceID, MaxSubscriptionsPerDevice); err != nil {
			return fmt.Errorf("prune subscriptions: %w", err)
		}
		return tx.QueryRow(ctx, `SELECT COUNT(*) FROM push_subscriptions WHERE device_id = ?`, deviceID).Scan(&n)
	})
	return n, err
}

// Unsubscribe deletes the device's subscription with this endpoint.
func (s *Service) Unsubscribe(ctx context.Context, deviceID, endpoint string) error {
	res, err := s.db.Exec(ctx, `DELETE FROM push_subscriptions WHERE endpoint = ? AND device_id = ?`, endpoint, deviceID)
	if err != nil {
		return fmt.Errorf("delete subscription: %w", err)
	}
	if k, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("delete subscription: %w", err)
	} else if k == 0 {
		return wache.Errorf(wache.ENOTFOUND, "this device has no push subscription with that endpoint")
	}
	return nil
}

// DeviceRevoked deletes every subscription of a revoked device (hook for
// accounts.Service.OnRevoke).
func (s *Service) DeviceRevoked(ctx context.Context, deviceID string) {
	if _, err := s.db.Exec(ctx, `DELETE FROM push_subscriptions WHERE device_id = ?`, deviceID); err != nil {
		s.log.WarnContext(ctx, "delete push subscriptions of revoked device", "device", deviceID, "err", err)
	}
}

// Subscriptions returns the device's subscriptions, newest first.
func (s *Service) Subscriptions(ctx context.Context, deviceID string) ([]Subscription, error) {
	rows, err := s.db.Query(ctx, `SELECT endpoint, p256dh, auth FROM push_subscriptions
		WHERE device_id = ? ORDER BY updated_at DESC, endpoint`, deviceID)
	if err != nil {
		return nil, fmt.Errorf("list subscriptions: %w", err)
	}
	defer rows.Close()
	var out []Subscription
	for rows.Next() {
		var sub Subscription
		if err := rows.Scan(&sub.Endpoint, &sub.P256dh, &sub.Auth); err != nil {
			return nil, fmt.Errorf("list subscriptions: %w", err)
		}
		out = append(out, sub)
	}
	return out, rows.Err()
}
