package wache

import (
	"slices"
	"time"
)

// Role is a user's authority-wide role. A user may hold several.
type Role string

const (
	RoleOfficer    Role = "officer"
	RoleDispatcher Role = "dispatcher"
	RoleAdmin      Role = "admin"
	RoleAuditor    Role = "auditor"
)

// ValidRole reports whether r is one of the known roles.
func ValidRole(r Role) bool {
	switch r {
	case RoleOfficer, RoleDispatcher, RoleAdmin, RoleAuditor:
		return true
	}
	return false
}

// Org is the authority that runs the server (a Polizeipräsidium, a state
// police). A server normally holds one.
type Org struct {
	ID        string
	Name      string
	Domains   []string // service email domains allowed to register
	CreatedAt time.Time
}

// Unit is an organisational unit (Dienststelle, Wache, Leitstelle).
type Unit struct {
	ID       string
	OrgID    string
	ParentID string // "" for a top-level unit
	Name     string
}

// User is a person with a verified service email address.
type User struct {
	ID          string
	OrgID       string
	UnitID      string // "" when not yet assigned
	Email       string // lower-case
	DisplayName string
	Roles       []Role
	CreatedAt   time.Time
	DisabledAt  *time.Time
}

// HasRole reports whether u holds role r.
func (u *User) HasRole(r Role) bool { return slices.Contains(u.Roles, r) }

// Device is one installation of the client (a phone, a browser, a CLI
// profile). It owns a signature key; its bearer token is stored hashed.
type Device struct {
	ID         string
	UserID     string
	Name       string
	SigningKey []byte // Ed25519 public key, 32 bytes
	CreatedAt  time.Time
	LastSeenAt time.Time
	RevokedAt  *time.Time
}

// Revoked reports whether the device has been revoked.
func (d *Device) Revoked() bool { return d.RevokedAt != nil }

// ConvKind is the kind of a conversation.
type ConvKind string

const (
	ConvDirect  ConvKind = "direct"  // exactly two users
	ConvGroup   ConvKind = "group"   // every member writes
	ConvChannel ConvKind = "channel" // admins and posters write, members read
)

// ValidConvKind reports whether k is a known conversation kind.
func ValidConvKind(k ConvKind) bool {
	return k == ConvDirect || k == ConvGroup || k == ConvChannel
}

// MemberRole is a user's role inside one conversation.
type MemberRole string

const (
	MemberAdmin  MemberRole = "admin"  // manages members; writes
	MemberPoster MemberRole = "poster" // writes (matters in channels)
	MemberReader MemberRole = "member" // reads; writes in groups and direct chats
)

// ValidMemberRole reports whether r is a known member role.
func ValidMemberRole(r MemberRole) bool {
	return r == MemberAdmin || r == MemberPoster || r == MemberReader
}

// Conversation is a direct chat, a group or a channel. The server knows
// its members and its sequence counter, never what is said in it.
type Conversation struct {
	ID        string
	OrgID     string
	Kind      ConvKind
	Name      string
	CreatedBy string
	CreatedAt time.Time
	LastSeq   int64 // sequence number of the newest envelope
	Epoch     int64 // MLS epoch: the number of commits the server accepted
}

// Member is a user's membership in a conversation. FromSeq is the
// conversation's LastSeq when the user joined: they receive only later items.
type Member struct {
	ConvID   string
	UserID   string
	Role     MemberRole
	FromSeq  int64
	JoinedAt time.Time
}

// CanWrite reports whether a member with role r may post in a conversation of kind k.
func CanWrite(k ConvKind, r MemberRole) bool {
	if k == ConvChannel {
		return r == MemberAdmin || r == MemberPoster
	}
	return true
}

// MaxPayload is the largest envelope payload the relay accepts, in bytes.
const MaxPayload = 64 << 10

// EnvelopeKind tells the relay how to order an envelope. It never says
// anything about the content.
type EnvelopeKind string

const (
	// EnvApp is an MLS application message (or, before MLS, a dev payload).
	EnvApp EnvelopeKind = "app"
	// EnvCommit is an MLS commit. It is accepted only if it was made for
	// the conversation's current epoch, which it then advances: every
	// member applies the same commits in the same order.
	EnvCommit EnvelopeKind = "commit"
)

// ValidEnvelopeKind reports whether k is a known kind.
func ValidEnvelopeKind(k EnvelopeKind) bool { return k == EnvApp || k == EnvCommit }

// Envelope is one relayed item: opaque bytes (ciphertext) with the routing
// metadata the server needs. Seq is assigned by the server, per conversation,
// starting at 1, without gaps at assignment time (retention may delete old ones).
type Envelope struct {
	ConvID       string
	Seq          int64
	SenderID     string // user id
	SenderDevice string // device id
	ClientID     string // sender-chosen idempotency key, unique per device
	Kind         EnvelopeKind
	Epoch        int64 // MLS epoch the sender was in
	CreatedAt    time.Time
	Payload      []byte
	// Priority ("", "urgent", "alarm") and AckRequired mark application
	// envelopes the recipients must confirm; RemindEvery is the reminder
	// interval in seconds of such a request (not stored with the envelope).
	Priority    string
	AckRequired bool
	RemindEvery int
	// Alarm is server-made state that live connections deliver together
	// with the envelope: the JSON of the alarm an SOS envelope raised (see
	// relay.PostHeld). Never stored; empty when read back from the store.
	Alarm []byte
}

// DeviceMessage is an item for one device rather than a whole
// conversation: an MLS Welcome that lets a new device join a group. It is
// deleted once the device acknowledges it.
type DeviceMessage struct {
	ID           string
	DeviceID     string // recipient
	ConvID       string
	SenderDevice string
	Kind         string // "welcome"
	CreatedAt    time.Time
	Payload      []byte
}
