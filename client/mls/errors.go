package mls

import (
	"errors"
	"fmt"
	"regexp"
)

// Sentinel errors. Every error the engine returns matches exactly one of them
// with errors.Is (the epoch errors also match ErrWrongEpoch), so the caller
// can map them to clear messages.
var (
	// ErrInvalidArgument: the caller passed a bad value (empty group id,
	// oversized plaintext, bad identity, unknown member to remove, ...).
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrInvalidCredential: a credential identity is not in Wache's format.
	ErrInvalidCredential = errors.New("invalid credential")
	// ErrMalformed: the bytes are not a well-formed MLS message of the
	// expected kind (truncated, trailing bytes, wrong wire format).
	ErrMalformed = errors.New("malformed message")
	// ErrUnsupported: a well-formed message the engine does not handle
	// (other cipher suite, external sender, Welcome without ratchet tree).
	ErrUnsupported = errors.New("unsupported message")
	// ErrWrongGroup: the message belongs to another group.
	ErrWrongGroup = errors.New("message for another group")
	// ErrWrongEpoch: the message is for another epoch than the group's.
	ErrWrongEpoch = errors.New("wrong epoch")
	// ErrStaleEpoch: the message is for an epoch the group has left (a
	// commit that lost the race, a replayed handshake). Matches ErrWrongEpoch.
	ErrStaleEpoch error = &epochKind{"stale epoch"}
	// ErrFutureEpoch: the message is for an epoch the group has not reached
	// (a commit is missing). Matches ErrWrongEpoch.
	ErrFutureEpoch error = &epochKind{"future epoch"}
	// ErrUnknownSender: the sender is not a member (blank or out-of-range
	// leaf, external or new-member sender).
	ErrUnknownSender = errors.New("unknown sender")
	// ErrForged: a signature or membership tag does not verify.
	ErrForged = errors.New("forged message")
	// ErrDecrypt: the ciphertext does not decrypt (tampered, truncated, or
	// its keys are gone).
	ErrDecrypt = errors.New("decryption failed")
	// ErrReplay: the message was processed before.
	ErrReplay = errors.New("replayed message")
	// ErrOwnMessage: the message is one this device sent (the delivery
	// service echoed it); there is nothing to do.
	ErrOwnMessage = errors.New("own message")
	// ErrDiscardedCommit: the delivery service delivered a commit of this
	// device that the device had discarded. The device can no longer follow
	// the group (a committer cannot process its own commit); it must be
	// removed and added again. Discard only after a definite rejection.
	ErrDiscardedCommit = errors.New("own discarded commit was accepted")
	// ErrInvalidCommit: an authentic commit that fails validation (bad path,
	// parent hash, confirmation tag, invalid proposals).
	ErrInvalidCommit = errors.New("invalid commit")
	// ErrCredentialRefused: the CredentialValidator refused a member, or a
	// member's credential is not a Wache credential.
	ErrCredentialRefused = errors.New("credential refused")
	// ErrCommitPending: the group has a pending commit; merge or discard it.
	ErrCommitPending = errors.New("commit pending")
	// ErrProposalsPending: received proposals must be committed (Update)
	// before the device may send application messages (RFC 9420 §12.4).
	ErrProposalsPending = errors.New("proposals pending")
	// ErrNoPendingCommit: there is no pending commit to merge or discard.
	ErrNoPendingCommit = errors.New("no pending commit")
	// ErrRemoved: this device is no longer a member of the group.
	ErrRemoved = errors.New("removed from group")
	// ErrNoKeyPackage: a Welcome is not addressed to any KeyPackage of this
	// engine (or the KeyPackage was used already).
	ErrNoKeyPackage = errors.New("no matching key package")
	// ErrCorruptState: exported state does not load.
	ErrCorruptState = errors.New("corrupt state")
	// ErrInternal: the MLS library failed unexpectedly (including a
	// recovered panic). The group state was restored.
	ErrInternal = errors.New("internal error")
)

type epochKind struct{ msg string }

func (e *epochKind) Error() string { return e.msg }
func (e *epochKind) Unwrap() error { return ErrWrongEpoch }

// Error is the error type the engine returns. Kind is one of the sentinel
// errors; Detail is a diagnostic that never contains key material.
type Error struct {
	Op     string // operation, e.g. "process", "join"
	Kind   error  // sentinel
	Detail string
	// For epoch errors: the message's epoch and the group's epoch.
	MessageEpoch, GroupEpoch uint64
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("mls: %s: %v", e.Op, e.Kind)
	}
	return fmt.Sprintf("mls: %s: %v: %s", e.Op, e.Kind, e.Detail)
}

func (e *Error) Unwrap() error { return e.Kind }

// longHex matches hex runs as long as a key or secret. The library puts
// secrets into some error strings (e.g. confirmation tag mismatches); they
// must never reach logs.
var longHex = regexp.MustCompile(`[0-9a-fA-F]{32,}`)

// maxDetail bounds the diagnostic text carried in an Error.
const maxDetail = 300

func newError(op string, kind error, detail string, args ...any) *Error {
	if len(args) > 0 {
		detail = fmt.Sprintf(detail, args...)
	}
	detail = longHex.ReplaceAllString(detail, "[redacted]")
	if len(detail) > maxDetail {
		detail = detail[:maxDetail] + "..."
	}
	return &Error{Op: op, Kind: kind, Detail: detail}
}

func epochError(op string, msgEpoch, groupEpoch uint64) *Error {
	kind := ErrStaleEpoch
	if msgEpoch > groupEpoch {
		kind = ErrFutureEpoch
	}
	e := newError(op, kind, "message epoch %d, group epoch %d", msgEpoch, groupEpoch)
	e.MessageEpoch, e.GroupEpoch = msgEpoch, groupEpoch
	return e
}
