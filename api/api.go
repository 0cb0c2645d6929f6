// Package api holds the JSON wire types of Wache's HTTP API and WebSocket,
// shared by the server and the client core. Binary fields are base64
// (standard encoding) as encoding/json does for []byte.
package api

import (
	"net/http"
	"time"

	"github.com/wache/wache"
)

// Version is the API path prefix.
const Version = "/api/v1"

// Error is the body of every error response.
type Error struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

type CodeRequest struct {
	Email string `json:"email"`
}

type VerifyRequest struct {
	Email      string `json:"email"`
	Code       string `json:"code"`
	DeviceName string `json:"device_name"`
	SigningKey []byte `json:"signing_key"` // Ed25519 public key
	Signature  []byte `json:"signature"`   // over accounts.RegistrationMessage
}

type VerifyResponse struct {
	Token  string `json:"token"`
	User   User   `json:"user"`
	Device Device `json:"device"`
}

type User struct {
	ID          string   `json:"id"`
	Email       string   `json:"email"`
	DisplayName string   `json:"display_name"`
	UnitID      string   `json:"unit_id,omitempty"`
	Roles       []string `json:"roles,omitempty"`
}

type Device struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	SigningKey []byte     `json:"signing_key"`
	CreatedAt  time.Time  `json:"created_at"`
	LastSeenAt time.Time  `json:"last_seen_at"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	Current    bool       `json:"current,omitempty"`
}

type Me struct {
	User   User   `json:"user"`
	Device Device `json:"device"`
}

type CreateConversationRequest struct {
	Kind    string   `json:"kind"` // direct, group, channel
	Name    string   `json:"name,omitempty"`
	Members []string `json:"members"` // emails, without the creator
}

type Conversation struct {
	ID          string    `json:"id"`
	Kind        string    `json:"kind"`
	Name        string    `json:"name,omitempty"`
	CreatedBy   string    `json:"created_by"`
	CreatedAt   time.Time `json:"created_at"`
	LastSeq     int64     `json:"last_seq"`
	Epoch       int64     `json:"epoch"`                  // MLS epoch (accepted commits)
	Role        string    `json:"role,omitempty"`         // the caller's role
	MemberCount int       `json:"member_count,omitempty"` // in lists
	AckedSeq    int64     `json:"acked_seq"`              // the calling device's cursor
	Unread      int64     `json:"unread"`                 // application messages after acked_seq (at most 1000)
	Existing    bool      `json:"existing,omitempty"`     // create found a direct chat
	Members     []Member  `json:"members,omitempty"`
}

type Member struct {
	UserID      string    `json:"user_id"`
	Email       string    `json:"email"`
	DisplayName string    `json:"display_name"`
	Role        string    `json:"role"`
	JoinedAt    time.Time `json:"joined_at"`
}

type AddMemberRequest struct {
	Email string `json:"email"`
	Role  string `json:"role,omitempty"` // admin, poster, member (default)
}

type PostEnvelopeRequest struct {
	ClientID string `json:"client_id"`
	Kind     string `json:"kind,omitempty"`  // app (default) or commit
	Epoch    int64  `json:"epoch,omitempty"` // MLS epoch the message was made in
	Payload  []byte `json:"payload"`
	// Priority is "" (normal), "urgent" or "alarm"; application envelopes only.
	Priority    string `json:"priority,omitempty"`
	AckRequired bool   `json:"ack_required,omitempty"`
	// RemindAfter is the reminder interval in seconds for an ack-required
	// message (0 = server default 120; 30..86400).
	RemindAfter int `json:"remind_after_s,omitempty"`
}

type PostEnvelopeResponse struct {
	Seq       int64     `json:"seq"`
	CreatedAt time.Time `json:"created_at"`
	Duplicate bool      `json:"duplicate,omitempty"`
}

type Envelope struct {
	ConvID       string    `json:"conv_id"`
	Seq          int64     `json:"seq"`
	SenderID     string    `json:"sender_id"`
	SenderDevice string    `json:"sender_device"`
	ClientID     string    `json:"client_id"`
	Kind         string    `json:"kind"`
	Epoch        int64     `json:"epoch"`
	CreatedAt    time.Time `json:"created_at"`
	Payload      []byte    `json:"payload"`
	Priority     string    `json:"priority,omitempty"`
	AckRequired  bool      `json:"ack_required,omitempty"`
}

type Envelopes struct {
	Envelopes []Envelope `json:"envelopes"`
}

// MLS delivery service.

type KeyPackagesRequest struct {
	KeyPackages [][]byte `json:"key_packages"` // MLSMessage-encoded KeyPackages
}

type KeyPackageCount struct {
	Count int `json:"count"`
}

type ClaimRequest struct {
	Users   []string `json:"users,omitempty"`   // emails: every active device of each
	Devices []string `json:"devices,omitempty"` // or: these devices only
}

type ClaimedKeyPackage struct {
	UserID     string `json:"user_id"`
	Email      string `json:"email"`
	DeviceID   string `json:"device_id"`
	SigningKey []byte `json:"signing_key"`
	KeyPackage []byte `json:"key_package"`
}

type ClaimResponse struct {
	KeyPackages    []ClaimedKeyPackage `json:"key_packages"`
	MissingDevices []string            `json:"missing_devices,omitempty"` // active devices without a KeyPackage in stock
}

// DirectoryDevice is what the server vouches for: this signing key
// belongs to this device of this user (clients check MLS credentials
// against it).
type DirectoryDevice struct {
	DeviceID   string     `json:"device_id"`
	UserID     string     `json:"user_id"`
	Email      string     `json:"email"`
	SigningKey []byte     `json:"signing_key"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

type WelcomeRequest struct {
	Messages []OutgoingDeviceMessage `json:"messages"`
}

type OutgoingDeviceMessage struct {
	DeviceID string `json:"device_id"`
	Payload  []byte `json:"payload"`
}

type DeviceMessage struct {
	ID           string    `json:"id"`
	ConvID       string    `json:"conv_id"`
	SenderDevice string    `json:"sender_device"`
	Kind         string    `json:"kind"`
	CreatedAt    time.Time `json:"created_at"`
	Payload      []byte    `json:"payload"`
}

type AckRequest struct {
	Seq int64 `json:"seq"`
}

// WebSocket frames. Server to client: envelope, synced (backlog done),
// revoked (erase local state; the connection closes with CloseRevoked),
// error. Client to server: ack.
type Frame struct {
	Type     string         `json:"type"`
	Envelope *Envelope      `json:"envelope,omitempty"`
	Message  *DeviceMessage `json:"message,omitempty"`
	ID       string         `json:"id,omitempty"` // dm_ack
	ConvID   string         `json:"conv_id,omitempty"`
	Seq      int64          `json:"seq,omitempty"`
	Error    string         `json:"error,omitempty"`
	Alarm    *Alarm         `json:"alarm,omitempty"` // FrameAlarm
}

const (
	FrameEnvelope = "envelope"
	FrameSynced   = "synced"
	FrameRevoked  = "revoked"
	FrameAck      = "ack"
	// FrameDeviceMessage carries an item for this device only (a Welcome);
	// the client answers FrameDMAck with its id.
	FrameDeviceMessage = "device_message"
	FrameDMAck         = "dm_ack"
	FrameError         = "error"

	// CloseRevoked is the WebSocket close code for a revoked device.
	CloseRevoked = 4001
	// Subprotocol must be offered by WebSocket clients; browsers pass the
	// token as a second subprotocol "wache.bearer.<token>".
	Subprotocol = "wache.v1"
)

// HTTPStatus maps an error code to the HTTP status every endpoint uses.
func HTTPStatus(code string) int {
	switch code {
	case wache.EINVALID:
		return http.StatusBadRequest
	case wache.EUNAUTHORIZED, wache.EREVOKED:
		return http.StatusUnauthorized
	case wache.EFORBIDDEN:
		return http.StatusForbidden
	case wache.ENOTFOUND:
		return http.StatusNotFound
	case wache.ECONFLICT:
		return http.StatusConflict
	case wache.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case wache.ERATELIMIT:
		return http.StatusTooManyRequests
	case wache.EEXPIRED:
		return http.StatusGone
	case wache.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	case wache.EUNIMPLEMENTED:
		return http.StatusNotImplemented
	}
	return http.StatusInternalServerError
}
