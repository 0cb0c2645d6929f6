// Package store defines the persistence interface of the server. The
// implementations (package sqldb, opened through packages sqlite and
// postgres) all pass the shared suite in storetest.
//
// Errors: methods return *wache.Error with ENOTFOUND for a missing row and
// ECONFLICT for a uniqueness clash; anything else is an internal error.
package store

import (
	"context"
	"time"

	"github.com/wache/wache"
)

// LoginCode is a pending one-time login code for an email address. Only
// the hash of the code is stored.
type LoginCode struct {
	Email     string
	CodeHash  []byte
	Attempts  int
	CreatedAt time.Time
	ExpiresAt time.Time
}

// AppendResult reports what happened to one envelope of a batch.
type AppendResult struct {
	Seq       int64
	CreatedAt time.Time
	Duplicate bool  // the (device, client id) pair was seen before; Seq is the original one
	Err       error // per-item failure (e.g. ECONFLICT, ENOTFOUND); the rest of the batch stands
}

// Cursor is a device's delivery position in one conversation.
type Cursor struct {
	ConvID   string
	FromSeq  int64 // the user's join point: items at or below it are never delivered
	AckedSeq int64 // highest sequence number the device acknowledged (>= FromSeq)
	LastSeq  int64 // the conversation's newest sequence number
}

// AckItem is one device's acknowledgement in one conversation.
type AckItem struct {
	DeviceID, ConvID string
	Seq              int64
}

// ConvSummary is a conversation as seen by one member.
type ConvSummary struct {
	wache.Conversation
	Role        wache.MemberRole
	MemberCount int
}

// KeyPackage is an MLS KeyPackage a device published for others to add it
// to groups.
type KeyPackage struct {
	ID   string
	Data []byte
}

// ClaimedKeyPackage is a KeyPackage handed out to someone adding the device.
type ClaimedKeyPackage struct {
	UserID     string
	DeviceID   string
	SigningKey []byte
	Data       []byte
}

// MaxKeyPackages bounds the KeyPackages one device may keep in stock.
const MaxKeyPackages = 200

// Store is everything the server persists.
type Store interface {
	Ping(ctx context.Context) error
	Close() error

	// Organisations and units.
	CreateOrg(ctx context.Context, o *wache.Org) error
	Org(ctx context.Context, id string) (*wache.Org, error)
	OrgByDomain(ctx context.Context, domain string) (*wache.Org, error)
	Orgs(ctx context.Context) ([]wache.Org, error)
	CreateUnit(ctx context.Context, u *wache.Unit) error
	Units(ctx context.Context, orgID string) ([]wache.Unit, error)

	// Users. Emails are stored lower-case and are unique.
	CreateUser(ctx context.Context, u *wache.User) error
	UpdateUser(ctx context.Context, u *wache.User) error
	User(ctx context.Context, id string) (*wache.User, error)
	UserByEmail(ctx context.Context, email string) (*wache.User, error)
	// Users lists an org's users whose email or display name contains
	// query (case-insensitive; "" for all), ordered by email.
	Users(ctx context.Context, orgID, query string, limit int) ([]wache.User, error)

	// Login codes: at most one pending code per email.
	PutLoginCode(ctx context.Context, c *LoginCode) error
	LoginCode(ctx context.Context, email string) (*LoginCode, error)
	// IncLoginAttempts counts a failed attempt and returns the new count.
	IncLoginAttempts(ctx context.Context, email string) (int, error)
	DeleteLoginCode(ctx context.Context, email string) error

	// Devices. CreateDevice stores the device and the hash of its bearer
	// token, and starts the device's cursors at the current end of every
	// conversation of its user (a new device receives only new items).
	CreateDevice(ctx context.Context, d *wache.Device, tokenHash []byte) error
	Device(ctx context.Context, id string) (*wache.Device, error)
	DeviceByTokenHash(ctx context.Context, tokenHash []byte) (*wache.Device, error)
	Devices(ctx context.Context, userID string) ([]wache.Device, error)
	RevokeDevice(ctx context.Context, id string, at time.Time) error
	TouchDevice(ctx context.Context, id string, at time.Time) error

	// Conversations. CreateConversation stores the conversation with its
	// first members (FromSeq 0) and their devices' cursors.
	CreateConversation(ctx context.Context, c *wache.Conversation, members []wache.Member) error
	Conversation(ctx context.Context, id string) (*wache.Conversation, error)
	// DirectConversation finds the direct chat between two users.
	DirectConversation(ctx context.Context, userA, userB string) (*wache.Conversation, error)
	Conversations(ctx context.Context, userID string) ([]ConvSummary, error)
	Member(ctx context.Context, convID, userID string) (*wache.Member, error)
	Members(ctx context.Context, convID string) ([]wache.Member, error)
	// AddMember sets m.FromSeq to the conversation's LastSeq, stores the
	// membership and starts the user's devices there. ECONFLICT if present.
	AddMember(ctx context.Context, m *wache.Member) error
	RemoveMember(ctx context.Context, convID, userID string) error

	// AppendEnvelopes assigns sequence numbers and stores a batch durably
	// in one transaction; results are in input order. An envelope whose
	// (SenderDevice, ClientID) was stored before for the same conversation
	// is a duplicate and keeps its first sequence number; the same pair in
	// another conversation is ECONFLICT. Seq and CreatedAt of each stored
	// envelope are filled in.
	AppendEnvelopes(ctx context.Context, envs []*wache.Envelope) ([]AppendResult, error)
	// Envelopes returns up to limit envelopes of a conversation with
	// Seq > afterSeq, in ascending order.
	Envelopes(ctx context.Context, convID string, afterSeq int64, limit int) ([]wache.Envelope, error)
	// CountAppEnvelopes counts a conversation's application envelopes with
	// Seq > afterSeq, up to limit (unread counts; commits do not count).
	CountAppEnvelopes(ctx context.Context, convID string, afterSeq int64, limit int) (int, error)
	// Cursors returns the device's position in every conversation its user
	// belongs to.
	Cursors(ctx context.Context, deviceID string) ([]Cursor, error)
	// Ack raises the device's acknowledged position; it never lowers it.
	Ack(ctx context.Context, deviceID, convID string, seq int64) error
	// AckBatch applies many acknowledgements in one transaction. Items of
	// non-members are skipped; positions beyond the end count as the end.
	AckBatch(ctx context.Context, acks []AckItem) error
	// DeleteEnvelopesBefore removes envelopes created before t (retention)
	// and returns how many went.
	DeleteEnvelopesBefore(ctx context.Context, t time.Time) (int64, error)

	// MLS delivery service. AddKeyPackages stocks a device's KeyPackages
	// (ETOOLARGE beyond MaxKeyPackages in stock); ClaimKeyPackages removes
	// and returns one KeyPackage of every active device of the users, and
	// lists the devices that had none.
	AddKeyPackages(ctx context.Context, deviceID string, kps []KeyPackage) error
	KeyPackageCount(ctx context.Context, deviceID string) (int, error)
	ClaimKeyPackages(ctx context.Context, userIDs []string) (claimed []ClaimedKeyPackage, missing []string, err error)
	// ClaimDeviceKeyPackages is ClaimKeyPackages for chosen active devices.
	ClaimDeviceKeyPackages(ctx context.Context, deviceIDs []string) (claimed []ClaimedKeyPackage, missing []string, err error)
	// PutDeviceMessages stores items for single devices (Welcomes).
	PutDeviceMessages(ctx context.Context, msgs []wache.DeviceMessage) error
	// DeviceMessages returns a device's pending items, oldest first.
	DeviceMessages(ctx context.Context, deviceID string, limit int) ([]wache.DeviceMessage, error)
	// DeleteDeviceMessage removes an item the device acknowledged.
	DeleteDeviceMessage(ctx context.Context, deviceID, id string) error
}
