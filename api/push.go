package api

// Web Push (RFC 8030 delivery, RFC 8291 payload encryption, RFC 8292
// VAPID). A device registers the subscription its browser's PushManager
// gave it; the server then wakes the device when something waits for it.
// Push payloads never carry content: only {"k":"alarm"|"message"|"reminder"}.

// VAPIDKey answers GET /api/v1/push/vapid-key: the server's application
// server key (uncompressed P-256 point, base64url without padding), for
// PushManager.subscribe({applicationServerKey}).
type VAPIDKey struct {
	PublicKey string `json:"public_key"`
}

// PushKeys are the subscription's receiver keys, as PushSubscription.toJSON
// gives them (base64url): p256dh is the receiver's P-256 public key
// (65 bytes), auth the 16-byte authentication secret.
type PushKeys struct {
	P256dh string `json:"p256dh"`
	Auth   string `json:"auth"`
}

// PushSubscription is the body of POST /api/v1/push/subscriptions; it is
// the shape of PushSubscription.toJSON() (expirationTime is accepted and
// ignored).
type PushSubscription struct {
	Endpoint       string   `json:"endpoint"`
	ExpirationTime *float64 `json:"expirationTime,omitempty"`
	Keys           PushKeys `json:"keys"`
}

// PushUnsubscribe is the body of DELETE /api/v1/push/subscriptions.
type PushUnsubscribe struct {
	Endpoint string `json:"endpoint"`
}

// PushSubscriptions answers POST /api/v1/push/subscriptions: the number of
// subscriptions the calling device now holds.
type PushSubscriptions struct {
	Count int `json:"count"`
}

// Push notification kinds: the whole readable content of a push payload.
const (
	PushAlarm    = "alarm"
	PushMessage  = "message"
	PushReminder = "reminder"
)
