// Package mls is Wache's MLS (RFC 9420) engine: a small, byte-oriented
// interface over an MLS library, so that the library can be replaced without
// touching the client core.
//
// Every conversation is one MLS group and every device is one leaf. A device
// signs with its Ed25519 device key, the same key the server has bound to
// "user email + device id", and its credential is a BasicCredential whose
// identity is "wache:v1:<email>/<deviceID>" (see FormatCredentialIdentity).
//
// All wire values are RFC 9420 MLSMessage bytes (KeyPackage, Welcome,
// PublicMessage commits and PrivateMessage application messages). State
// returned by ExportState is plaintext key material: the caller encrypts it at
// rest.
//
// The package has no OS-specific code and builds for GOOS=js GOARCH=wasm.
package mls

// CipherSuite is the MLS cipher suite Wache uses:
// MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519.
const CipherSuite uint16 = 1

// Bounds applied to every input, so hostile bytes cannot make the engine
// allocate or work without limit.
const (
	// MaxMessageSize bounds any MLSMessage handed to the engine (a commit
	// adding many members carries their KeyPackages inline; a Welcome carries
	// the whole ratchet tree).
	MaxMessageSize = 64 << 20
	// MaxPlaintextSize bounds one application message.
	MaxPlaintextSize = 1 << 20
	// MaxAuthenticatedDataSize bounds the authenticated data of one message.
	MaxAuthenticatedDataSize = 64 << 10
	// MaxGroupIDSize bounds a group id.
	MaxGroupIDSize = 255
	// MaxKeyPackagesPerCall bounds NewKeyPackages.
	MaxKeyPackagesPerCall = 1000
	// MaxPendingKeyPackages bounds the unused KeyPackages an engine keeps.
	MaxPendingKeyPackages = 10000
	// MaxAddsPerCommit bounds the KeyPackages one AddMembers call commits.
	MaxAddsPerCommit = 50000
)

// CredentialValidator decides whether a member may be in a group. identity
// is the credential identity ("wache:v1:<email>/<deviceID>", see
// ParseCredentialIdentity) and sigKey the member's Ed25519 public key. It is
// called for every member of a group joined by Welcome, for every KeyPackage
// before it is added, and for every leaf that a received commit adds or
// changes. A non-nil error refuses the member: the operation fails with
// ErrCredentialRefused and the group state does not change.
type CredentialValidator func(identity string, sigKey []byte) error

// Member is one leaf of a group: one device.
type Member struct {
	Leaf     uint32 `json:"leaf"`     // leaf index in the ratchet tree
	Identity string `json:"identity"` // credential identity, "wache:v1:<email>/<deviceID>"
	SigKey   []byte `json:"sig_key"`  // Ed25519 public key
}

// ResultKind says what Process did with a message.
type ResultKind int

// Result kinds.
const (
	// KindApplication: an application message was decrypted.
	KindApplication ResultKind = iota + 1
	// KindCommit: a commit was applied and the group is in a new epoch.
	KindCommit
	// KindProposal: a proposal was verified and stored; the next commit of
	// any member includes it. Sending is refused until then (RFC 9420 §12.4).
	KindProposal
)

func (k ResultKind) String() string {
	switch k {
	case KindApplication:
		return "application"
	case KindCommit:
		return "commit"
	case KindProposal:
		return "proposal"
	default:
		return "unknown"
	}
}

// Result is the outcome of Group.Process.
type Result struct {
	Kind ResultKind
	// Epoch is the epoch the application message was sent in, or the new
	// epoch after a commit, or the current epoch for a proposal.
	Epoch uint64
	// Sender is the member who sent the message (for a commit: the
	// committer, as it was before the commit).
	Sender Member
	// Application message.
	Plaintext         []byte
	AuthenticatedData []byte
	// Commit: members that joined, left, or changed their credential or
	// signature key.
	Added   []Member
	Removed []Member
	Updated []Member
	// SelfRemoved is set when the commit removed this device. The group is
	// then inactive: every later call fails with ErrRemoved.
	SelfRemoved bool
	// OwnCommit is set when the message was this device's own pending commit
	// coming back from the delivery service; it has been merged.
	OwnCommit bool
	// MergedPendingCommit is set when this device's pending commit was
	// merged while processing the message: the message was the commit itself
	// (OwnCommit) or builds on it, so the delivery service accepted it.
	MergedPendingCommit bool
	// DiscardedPendingCommit is set when this device had a pending commit for
	// the same epoch and the received commit won: the pending commit was
	// discarded and the caller should retry its change on the new epoch.
	DiscardedPendingCommit bool
}

// Engine is the MLS state of one device: its identity, its unused
// KeyPackages and the factory for its groups. It is safe for concurrent use.
type Engine interface {
	// Identity returns the device's credential identity.
	Identity() string
	// SignatureKey returns the device's Ed25519 public key.
	SignatureKey() []byte
	// NewKeyPackages creates n KeyPackages (MLSMessage bytes) to upload to
	// the delivery service, and their KeyPackageRefs. The private parts stay
	// in the engine until a Welcome uses them; persist the engine state
	// (ExportState) before uploading.
	NewKeyPackages(n int) (keyPackages [][]byte, refs [][]byte, err error)
	// PendingKeyPackages returns the number of unused KeyPackages.
	PendingKeyPackages() int
	// DeleteKeyPackage forgets an unused KeyPackage (e.g. the server
	// dropped it); it reports whether it was known.
	DeleteKeyPackage(ref []byte) bool
	// CreateGroup creates a group with this device as its only member.
	CreateGroup(groupID []byte) (Group, error)
	// JoinFromWelcome joins the group a Welcome (MLSMessage) invites one of
	// this engine's KeyPackages to. The Welcome must carry the ratchet_tree
	// extension. The KeyPackage is used up: persist the engine state after.
	JoinFromWelcome(welcome []byte) (Group, error)
	// LoadGroup restores a group from Group.ExportState.
	LoadGroup(state []byte) (Group, error)
	// ExportState serialises the unused KeyPackages' private keys.
	ExportState() ([]byte, error)
}

// Group is one MLS group as seen by this device. It is safe for concurrent
// use. Handshake changes (AddMembers, RemoveMembers, Update) create a pending
// commit: the group stays in its epoch until the caller learns whether the
// delivery service accepted the commit and calls MergePendingCommit or
// DiscardPendingCommit. While a commit is pending, Encrypt and new commits
// are refused with ErrCommitPending; Process still works and resolves the
// pending commit itself when the delivery service's order shows the outcome
// (see Result).
//
// Rules for the caller:
//   - Persist ExportState after Encrypt and before sending the ciphertext:
//     restarting from an older state would reuse a message key and nonce.
//   - Persist ExportState after creating a commit and before sending it, so
//     the pending commit survives a crash.
//   - Discard a pending commit only when the delivery service definitely
//     rejected it. If the outcome is unknown, keep it and let Process decide
//     (an author cannot process its own commit once discarded:
//     ErrDiscardedCommit).
//   - On any error from Process the group state is unchanged.
type Group interface {
	// ID returns the group id.
	ID() []byte
	// Epoch returns the current (confirmed) epoch.
	Epoch() uint64
	// Self returns this device's leaf.
	Self() Member
	// Members returns the members sorted by leaf index.
	Members() []Member
	// EpochAuthenticator returns the RFC 9420 epoch_authenticator: members
	// that agree on it share the same epoch state.
	EpochAuthenticator() []byte
	// Active reports false once this device was removed from the group.
	Active() bool

	// AddMembers commits adding the devices whose KeyPackages (MLSMessage
	// bytes) are given. It returns the commit for the group and the Welcome
	// for the new devices; the commit is pending.
	AddMembers(keyPackages [][]byte) (commit, welcome []byte, err error)
	// RemoveMembers commits removing every leaf whose identity is listed.
	// The commit is pending. This device cannot remove itself.
	RemoveMembers(identities []string) (commit []byte, err error)
	// Update commits a fresh path of keys for this device (post-compromise
	// security) and includes any stored proposals. The commit is pending.
	Update() (commit []byte, err error)
	// PendingCommit returns the pending commit and its Welcome (nil if it
	// adds nobody); ok is false when no commit is pending.
	PendingCommit() (commit, welcome []byte, ok bool)
	// MergePendingCommit applies the pending commit after the delivery
	// service accepted it.
	MergePendingCommit() error
	// DiscardPendingCommit drops the pending commit after the delivery
	// service rejected it (another commit won the epoch).
	DiscardPendingCommit() error

	// Encrypt protects an application message as a PrivateMessage.
	Encrypt(plaintext, authenticatedData []byte) ([]byte, error)
	// Process handles a message from the group: an application message, a
	// commit or a proposal. On error the group state is unchanged.
	Process(msg []byte) (*Result, error)

	// ExportState serialises the group, including a pending commit.
	ExportState() ([]byte, error)
}
