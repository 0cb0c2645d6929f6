package mls

import (
	"bytes"
	"fmt"
	"time"

	"github.com/thomas-vilte/mls-go/ciphersuite"
	"github.com/thomas-vilte/mls-go/credentials"
	"github.com/thomas-vilte/mls-go/framing"
	"github.com/thomas-vilte/mls-go/group"
	"github.com/thomas-vilte/mls-go/keypackages"
	"github.com/thomas-vilte/mls-go/treesync"
)

// KeyPackageInfo is what a verified KeyPackage says about its device.
type KeyPackageInfo struct {
	Ref       []byte // KeyPackageRef (RFC 9420 §5.2), as in a Welcome
	Identity  string // credential identity
	SigKey    []byte // Ed25519 public key
	NotBefore time.Time
	NotAfter  time.Time
}

// ParseKeyPackage decodes a KeyPackage (MLSMessage bytes) and verifies its
// signatures and lifetime. The delivery service uses it to check that an
// uploaded KeyPackage belongs to the uploading device. It does not apply a
// CredentialValidator.
func ParseKeyPackage(msg []byte) (info KeyPackageInfo, err error) {
	defer recoverTo("parse key package", &err, nil)
	kp, raw, err := parseKeyPackage(msg)
	if err != nil {
		return KeyPackageInfo{}, err
	}
	info = KeyPackageInfo{
		Ref:      ciphersuite.MakeKeyPackageRef(raw, suite.HashFunction()).AsSlice(),
		Identity: string(kp.LeafNode.Credential.Identity),
		SigKey:   append([]byte(nil), kp.LeafNode.SignatureKeyBytes...),
	}
	if lt := kp.LeafNode.Lifetime; lt != nil {
		info.NotBefore = unixTime(lt.NotBefore)
		info.NotAfter = unixTime(lt.NotAfter)
	}
	if _, _, err := ParseCredentialIdentity(info.Identity); err != nil {
		return KeyPackageInfo{}, newError("parse key package", ErrInvalidCredential, "%v", err)
	}
	return info, nil
}

func unixTime(s uint64) time.Time {
	const maxUnix = 1 << 62 // keep time.Unix in range for "never expires"
	if s > maxUnix {
		s = maxUnix
	}
	return time.Unix(int64(s), 0).UTC()
}

// parseKeyPackage decodes and verifies a KeyPackage MLSMessage: canonical
// encoding, Wache's cipher suite, Basic credential with Ed25519 key, valid
// KeyPackage and LeafNode signatures, current lifetime.
func parseKeyPackage(msg []byte) (*keypackages.KeyPackage, []byte, error) {
	const op = "key package"
	if len(msg) == 0 || len(msg) > MaxMessageSize {
		return nil, nil, newError(op, ErrMalformed, "size %d", len(msg))
	}
	m, err := framing.UnmarshalMLSMessage(msg)
	if err != nil {
		return nil, nil, newError(op, ErrMalformed, "%v", err)
	}
	if m.WireFormat() != framing.WireFormatKeyPackage {
		return nil, nil, newError(op, ErrMalformed, "wire format %d is not a KeyPackage", m.WireFormat())
	}
	raw := m.KeyPackage
	kp, err := keypackages.UnmarshalKeyPackage(raw)
	if err != nil {
		return nil, nil, newError(op, ErrMalformed, "%v", err)
	}
	if !bytes.Equal(kp.Marshal(), raw) {
		return nil, nil, newError(op, ErrMalformed, "not canonically encoded")
	}
	if kp.CipherSuite != suite {
		return nil, nil, newError(op, ErrUnsupported, "cipher suite %d", kp.CipherSuite)
	}
	if err := kp.Validate(); err != nil {
		return nil, nil, newError(op, ErrMalformed, "%v", err)
	}
	if kp.LeafNode.Credential.Type() != credentials.BasicCredential || len(kp.LeafNode.SignatureKeyBytes) != 32 {
		return nil, nil, newError(op, ErrInvalidCredential, "not a Basic credential with an Ed25519 key")
	}
	if err := kp.Verify(suite); err != nil {
		return nil, nil, newError(op, ErrForged, "%v", err)
	}
	// The KeyPackage signature covers the LeafNode but not the validity of
	// the LeafNode's own signature; a bad one would later make every
	// joiner's tree validation fail.
	ln, err := treesync.UnmarshalLeafNodeData(kp.LeafNode.Marshal())
	if err != nil {
		return nil, nil, newError(op, ErrMalformed, "leaf node: %v", err)
	}
	if err := treesync.ValidateLeafNode(ln, suite); err != nil {
		return nil, nil, newError(op, ErrForged, "leaf node: %v", err)
	}
	return kp, raw, nil
}

// parseWelcome decodes a Welcome MLSMessage (canonical encoding only).
func parseWelcome(msg []byte) (*group.Welcome, error) {
	if len(msg) == 0 || len(msg) > MaxMessageSize {
		return nil, fmt.Errorf("size %d", len(msg))
	}
	m, err := framing.UnmarshalMLSMessage(msg)
	if err != nil {
		return nil, err
	}
	if m.WireFormat() != framing.WireFormatWelcome {
		return nil, fmt.Errorf("wire format %d is not a Welcome", m.WireFormat())
	}
	w, err := group.UnmarshalWelcome(m.Welcome)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(w.Marshal(), m.Welcome) {
		return nil, fmt.Errorf("not canonically encoded")
	}
	return w, nil
}

// MessageType is the kind of an MLSMessage.
type MessageType int

// Message types.
const (
	TypeApplication MessageType = iota + 1 // PrivateMessage with application data
	TypeProposal                           // PublicMessage or PrivateMessage proposal
	TypeCommit                             // PublicMessage or PrivateMessage commit
	TypeWelcome
	TypeKeyPackage
	TypeGroupInfo
)

func (t MessageType) String() string {
	switch t {
	case TypeApplication:
		return "application"
	case TypeProposal:
		return "proposal"
	case TypeCommit:
		return "commit"
	case TypeWelcome:
		return "welcome"
	case TypeKeyPackage:
		return "key_package"
	case TypeGroupInfo:
		return "group_info"
	default:
		return "unknown"
	}
}

// MessageInfo is the public framing of an MLSMessage: what the delivery
// service may see without any key.
type MessageInfo struct {
	Type      MessageType
	Encrypted bool   // PrivateMessage
	GroupID   []byte // application, proposal, commit
	Epoch     uint64 // application, proposal, commit
	// SenderLeaf is the sender's leaf for PublicMessages from members
	// (PrivateMessages hide the sender).
	SenderLeaf    uint32
	HasSenderLeaf bool
	// NewMembers lists the KeyPackageRefs a Welcome is addressed to, so the
	// delivery service can route it.
	NewMembers [][]byte
}

// Inspect decodes the public framing of an MLSMessage without keys. It
// does not authenticate anything.
func Inspect(msg []byte) (info MessageInfo, err error) {
	const op = "inspect"
	defer recoverTo(op, &err, nil)
	if len(msg) == 0 || len(msg) > MaxMessageSize {
		return MessageInfo{}, newError(op, ErrMalformed, "size %d", len(msg))
	}
	if len(msg) < 4 || msg[0] != 0 || msg[1] != 1 {
		return MessageInfo{}, newError(op, ErrMalformed, "not an MLS 1.0 message")
	}
	switch framing.WireFormat(uint16(msg[2])<<8 | uint16(msg[3])) {
	case framing.WireFormatPublicMessage, framing.WireFormatPrivateMessage:
		m, err := parseMessage(msg)
		if err != nil {
			return MessageInfo{}, newError(op, ErrMalformed, "%v", err)
		}
		if pm := m.PublicMessage; pm != nil {
			info = MessageInfo{GroupID: bytes.Clone(pm.Content.GroupID), Epoch: pm.Content.Epoch}
			switch pm.Content.ContentType() {
			case framing.ContentTypeCommit:
				info.Type = TypeCommit
			case framing.ContentTypeProposal:
				info.Type = TypeProposal
			default:
				// RFC 9420 §6.2: application data is never sent in the clear.
				return MessageInfo{}, newError(op, ErrMalformed, "public message with application data")
			}
			if pm.Content.Sender.Type == framing.SenderTypeMember {
				info.SenderLeaf, info.HasSenderLeaf = pm.Content.Sender.LeafIndex, true
			}
			return info, nil
		}
		pm := m.PrivateMessage
		info = MessageInfo{Encrypted: true, GroupID: bytes.Clone(pm.GroupID), Epoch: pm.Epoch}
		switch pm.ContentType {
		case framing.ContentTypeApplication:
			info.Type = TypeApplication
		case framing.ContentTypeProposal:
			info.Type = TypeProposal
		case framing.ContentTypeCommit:
			info.Type = TypeCommit
		default:
			return MessageInfo{}, newError(op, ErrMalformed, "content type %d", pm.ContentType)
		}
		return info, nil
	case framing.WireFormatWelcome:
		w, err := parseWelcome(msg)
		if err != nil {
			return MessageInfo{}, newError(op, ErrMalformed, "%v", err)
		}
		info = MessageInfo{Type: TypeWelcome}
		for _, s := range w.Secrets {
			info.NewMembers = append(info.NewMembers, append([]byte(nil), s.NewMember...))
		}
		return info, nil
	case framing.WireFormatKeyPackage:
		if _, err := keypackages.UnmarshalKeyPackage(msg[4:]); err != nil {
			return MessageInfo{}, newError(op, ErrMalformed, "%v", err)
		}
		return MessageInfo{Type: TypeKeyPackage}, nil
	case framing.WireFormatGroupInfo:
		return MessageInfo{Type: TypeGroupInfo}, nil
	default:
		return MessageInfo{}, newError(op, ErrMalformed, "wire format %d", uint16(msg[2])<<8|uint16(msg[3]))
	}
}
