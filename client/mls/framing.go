package mls

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/thomas-vilte/mls-go/ciphersuite"
	"github.com/thomas-vilte/mls-go/framing"
)

// The handshake body of a PublicMessage has no length prefix. mls-go finds
// its end by trying its decoder on every prefix when a parse fails, which is
// quadratic in the message size: a hostile megabyte would stall the client
// (and the delivery service's Inspect). Wache therefore decodes the framing
// itself, in one pass over the RFC 9420 structures, and hands the library
// the parts.

var errShort = errors.New("truncated")

type tlsReader struct {
	b   []byte
	off int
}

func (r *tlsReader) rest() int { return len(r.b) - r.off }

func (r *tlsReader) take(n int) ([]byte, error) {
	if n < 0 || n > r.rest() {
		return nil, errShort
	}
	out := r.b[r.off : r.off+n]
	r.off += n
	return out, nil
}

func (r *tlsReader) u8() (uint8, error) {
	b, err := r.take(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

func (r *tlsReader) u16() (uint16, error) {
	b, err := r.take(2)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint16(b), nil
}

func (r *tlsReader) u32() (uint32, error) {
	b, err := r.take(4)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(b), nil
}

func (r *tlsReader) u64() (uint64, error) {
	b, err := r.take(8)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint64(b), nil
}

// vl reads opaque<V> with the RFC 9420 §2.1.2 variable-length size, which
// must be minimally encoded.
func (r *tlsReader) vl() ([]byte, error) {
	first, err := r.u8()
	if err != nil {
		return nil, err
	}
	var n uint32
	switch first >> 6 {
	case 0:
		n = uint32(first & 0x3f)
	case 1:
		b, err := r.u8()
		if err != nil {
			return nil, err
		}
		n = uint32(first&0x3f)<<8 | uint32(b)
		if n < 1<<6 {
			return nil, errors.New("non-minimal length")
		}
	case 2:
		b, err := r.take(3)
		if err != nil {
			return nil, err
		}
		n = uint32(first&0x3f)<<24 | uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2])
		if n < 1<<14 {
			return nil, errors.New("non-minimal length")
		}
	default:
		return nil, errors.New("invalid length prefix")
	}
	return r.take(int(n))
}

func (r *tlsReader) skipVL(count int) error {
	for range count {
		if _, err := r.vl(); err != nil {
			return err
		}
	}
	return nil
}

// skipLeafNode skips a LeafNode (RFC 9420 §7.2).
func (r *tlsReader) skipLeafNode() error {
	if err := r.skipVL(2); err != nil { // encryption_key, signature_key
		return err
	}
	if err := r.skipCredential(); err != nil {
		return err
	}
	if err := r.skipVL(5); err != nil { // capabilities
		return err
	}
	src, err := r.u8()
	if err != nil {
		return err
	}
	switch src {
	case 1: // key_package: lifetime
		if _, err := r.take(16); err != nil {
			return err
		}
	case 2: // update
	case 3: // commit: parent_hash
		if err := r.skipVL(1); err != nil {
			return err
		}
	default:
		return fmt.Errorf("leaf node source %d", src)
	}
	return r.skipVL(2) // extensions, signature
}

// skipCredential skips a Credential; only types with a known layout can be
// delimited.
func (r *tlsReader) skipCredential() error {
	t, err := r.u16()
	if err != nil {
		return err
	}
	if t != 1 && t != 2 { // basic: identity<V>; x509: certificates<V>
		return fmt.Errorf("credential type %d", t)
	}
	return r.skipVL(1)
}

// skipCommit skips a Commit (RFC 9420 §12.4).
func (r *tlsReader) skipCommit() error {
	if err := r.skipVL(1); err != nil { // proposals
		return err
	}
	present, err := r.u8()
	if err != nil {
		return err
	}
	switch present {
	case 0:
		return nil
	case 1: // UpdatePath: leaf_node, nodes<V>
		if err := r.skipLeafNode(); err != nil {
			return err
		}
		return r.skipVL(1)
	default:
		return fmt.Errorf("optional flag %d", present)
	}
}

// skipProposal skips a Proposal (RFC 9420 §12.1) of a known type.
func (r *tlsReader) skipProposal() error {
	t, err := r.u16()
	if err != nil {
		return err
	}
	switch t {
	case 1: // add: KeyPackage
		if _, err := r.take(4); err != nil { // version, cipher_suite
			return err
		}
		if err := r.skipVL(1); err != nil { // init_key
			return err
		}
		if err := r.skipLeafNode(); err != nil {
			return err
		}
		return r.skipVL(2) // extensions, signature
	case 2: // update
		return r.skipLeafNode()
	case 3: // remove
		_, err := r.take(4)
		return err
	case 4: // pre-shared key: PreSharedKeyID
		kind, err := r.u8()
		if err != nil {
			return err
		}
		switch kind {
		case 1: // external: psk_id
			if err := r.skipVL(1); err != nil {
				return err
			}
		case 2: // resumption: usage, psk_group_id, psk_epoch
			if _, err := r.take(1); err != nil {
				return err
			}
			if err := r.skipVL(1); err != nil {
				return err
			}
			if _, err := r.take(8); err != nil {
				return err
			}
		default:
			return fmt.Errorf("psk type %d", kind)
		}
		return r.skipVL(1) // psk_nonce
	case 5: // reinit: group_id, version, cipher_suite, extensions
		if err := r.skipVL(1); err != nil {
			return err
		}
		if _, err := r.take(4); err != nil {
			return err
		}
		return r.skipVL(1)
	case 6, 7: // external_init: kem_output; group_context_extensions
		return r.skipVL(1)
	default:
		return fmt.Errorf("proposal type %d", t)
	}
}

// parsePublicMessage decodes an MLSMessage holding a PublicMessage in one
// pass. The caller has checked the version and wire format prefix.
func parsePublicMessage(msg []byte) (*framing.PublicMessage, error) {
	r := &tlsReader{b: msg}
	if v, err := r.u16(); err != nil || v != 1 {
		return nil, fmt.Errorf("protocol version")
	}
	if wf, err := r.u16(); err != nil || wf != uint16(framing.WireFormatPublicMessage) {
		return nil, fmt.Errorf("wire format")
	}
	var pm framing.PublicMessage
	c := &pm.Content
	var err error
	if c.GroupID, err = r.vl(); err != nil {
		return nil, fmt.Errorf("group id: %w", err)
	}
	if c.Epoch, err = r.u64(); err != nil {
		return nil, fmt.Errorf("epoch: %w", err)
	}
	st, err := r.u8()
	if err != nil {
		return nil, fmt.Errorf("sender: %w", err)
	}
	c.Sender.Type = framing.SenderType(st)
	switch c.Sender.Type {
	case framing.SenderTypeMember:
		c.Sender.LeafIndex, err = r.u32()
	case framing.SenderTypeExternal:
		c.Sender.SenderIndex, err = r.u32()
	case framing.SenderTypeNewMemberProposal, framing.SenderTypeNewMemberCommit:
	default:
		return nil, fmt.Errorf("sender type %d", st)
	}
	if err != nil {
		return nil, fmt.Errorf("sender: %w", err)
	}
	if c.AuthenticatedData, err = r.vl(); err != nil {
		return nil, fmt.Errorf("authenticated data: %w", err)
	}
	ct, err := r.u8()
	if err != nil {
		return nil, fmt.Errorf("content type: %w", err)
	}
	start := r.off
	switch framing.ContentType(ct) {
	case framing.ContentTypeApplication:
		data, err := r.vl()
		if err != nil {
			return nil, fmt.Errorf("application data: %w", err)
		}
		c.Body = framing.ApplicationData{Data: data}
	case framing.ContentTypeProposal:
		if err := r.skipProposal(); err != nil {
			return nil, fmt.Errorf("proposal: %w", err)
		}
		c.Body = framing.ProposalBody{Data: bytes.Clone(msg[start:r.off])}
	case framing.ContentTypeCommit:
		if err := r.skipCommit(); err != nil {
			return nil, fmt.Errorf("commit: %w", err)
		}
		c.Body = framing.CommitBody{Data: bytes.Clone(msg[start:r.off])}
	default:
		return nil, fmt.Errorf("content type %d", ct)
	}
	sig, err := r.vl()
	if err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	pm.Auth.Signature = ciphersuite.NewSignature(sig)
	if framing.ContentType(ct) == framing.ContentTypeCommit {
		if pm.Auth.ConfirmationTag, err = r.vl(); err != nil {
			return nil, fmt.Errorf("confirmation tag: %w", err)
		}
	}
	if c.Sender.Type == framing.SenderTypeMember {
		if pm.MembershipTag, err = r.vl(); err != nil {
			return nil, fmt.Errorf("membership tag: %w", err)
		}
	}
	if r.rest() != 0 {
		return nil, fmt.Errorf("%d trailing bytes", r.rest())
	}
	return &pm, nil
}

// parseMessage decodes a group message (PublicMessage or PrivateMessage)
// and insists on the canonical encoding.
func parseMessage(msg []byte) (*framing.MLSMessage, error) {
	if len(msg) < 4 {
		return nil, errShort
	}
	if binary.BigEndian.Uint16(msg) != 1 {
		return nil, fmt.Errorf("protocol version %d", binary.BigEndian.Uint16(msg))
	}
	var m *framing.MLSMessage
	switch framing.WireFormat(binary.BigEndian.Uint16(msg[2:])) {
	case framing.WireFormatPublicMessage:
		pm, err := parsePublicMessage(msg)
		if err != nil {
			return nil, err
		}
		m = framing.NewMLSMessagePublic(pm)
	case framing.WireFormatPrivateMessage:
		// All fields are length-prefixed: the library parses it in one pass.
		var err error
		if m, err = framing.UnmarshalMLSMessage(msg); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("wire format %d is not a group message", binary.BigEndian.Uint16(msg[2:]))
	}
	if !bytes.Equal(m.Marshal(), msg) {
		return nil, errors.New("not canonically encoded")
	}
	return m, nil
}

// maxGenerationSkip bounds how far ahead of the receiver's ratchet a
// message's generation may be (RFC 9420 §9.4). mls-go has no bound: a
// member could make every receiver derive four billion keys.
const maxGenerationSkip = 1 << 16

// peekSenderData decrypts the sender data of a PrivateMessage of the
// current epoch without touching the ratchets.
func peekSenderData(cs ciphersuite.CipherSuite, senderDataSecret *ciphersuite.Secret, pm *framing.PrivateMessage) (*framing.MLSSenderData, error) {
	sample := pm.Ciphertext
	if len(sample) > cs.HashLength() {
		sample = sample[:cs.HashLength()]
	}
	key, err := senderDataSecret.KdfExpandLabel("key", sample, cs.AEADKeyLength())
	if err != nil {
		return nil, err
	}
	nonce, err := senderDataSecret.KdfExpandLabel("nonce", sample, cs.AEADNonceLength())
	if err != nil {
		return nil, err
	}
	aad := append(vlEncode(pm.GroupID), binary.BigEndian.AppendUint64(nil, pm.Epoch)...)
	aad = append(aad, byte(pm.ContentType))
	plain, err := ciphersuite.DecryptWithCipherSuite(key.AsSlice(), nonce.AsSlice(), pm.EncryptedSenderData, aad, cs)
	if err != nil {
		return nil, err
	}
	return framing.UnmarshalSenderData(plain)
}

// vlEncode writes opaque<V> (RFC 9420 §2.1.2).
func vlEncode(b []byte) []byte {
	n := len(b)
	var h []byte
	switch {
	case n < 1<<6:
		h = []byte{byte(n)}
	case n < 1<<14:
		h = []byte{0x40 | byte(n>>8), byte(n)}
	default:
		h = []byte{0x80 | byte(n>>24), byte(n >> 16), byte(n >> 8), byte(n)}
	}
	return append(h, b...)
}
