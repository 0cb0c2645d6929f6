package mls

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"

	"github.com/thomas-vilte/mls-go/ciphersuite"
	"github.com/thomas-vilte/mls-go/group"
)

// groupState is the serialised group. MLS holds the library's own state
// (JSON), embedded as is.
type groupState struct {
	Version  int             `json:"v"`
	Identity string          `json:"identity"`
	SigKey   []byte          `json:"sig_key"`
	MLS      json.RawMessage `json:"mls"`
	Removed  bool            `json:"removed,omitempty"`
	Pending  *pendingState   `json:"pending,omitempty"`
	Seen     []byte          `json:"seen,omitempty"`      // concatenated SHA-256 hashes
	SeenKind []byte          `json:"seen_kind,omitempty"` // one byte per hash: 0 received, 1 sent, 2 discarded commit
}

type pendingState struct {
	Pre        json.RawMessage `json:"pre"`
	PreEpoch   uint64          `json:"pre_epoch"`
	PreMembers []Member        `json:"pre_members"`
	PreAuth    []byte          `json:"pre_auth"`
	Commit     []byte          `json:"commit"`
	Welcome    []byte          `json:"welcome,omitempty"`
	Added      []Member        `json:"added,omitempty"`
	Removed    []Member        `json:"removed,omitempty"`
	Updated    []Member        `json:"updated,omitempty"`
}

func (m *mlsGroup) ExportState() (b []byte, err error) {
	const op = "export group"
	m.mu.Lock()
	defer m.mu.Unlock()
	defer recoverTo(op, &err, nil)
	lib, err := m.g.MarshalState()
	if err != nil {
		return nil, newError(op, ErrInternal, "%v", err)
	}
	st := groupState{
		Version:  stateVersion,
		Identity: m.e.cred,
		SigKey:   m.e.sigPub,
		MLS:      lib,
		Removed:  m.removed,
	}
	if p := m.pending; p != nil {
		st.Pending = &pendingState{
			Pre: p.pre, PreEpoch: p.preEpoch, PreMembers: p.preMembers, PreAuth: p.preAuth,
			Commit: p.commit, Welcome: p.welcome, Added: p.added, Removed: p.removed, Updated: p.updated,
		}
	}
	for _, h := range m.seen.hashes {
		st.Seen = append(st.Seen, h[:]...)
	}
	st.SeenKind = bytes.Clone(m.seen.kinds)
	b, err = json.Marshal(st)
	if err != nil {
		return nil, newError(op, ErrInternal, "%v", err)
	}
	return b, nil
}

func (e *engine) LoadGroup(state []byte) (g Group, err error) {
	const op = "load group"
	defer recoverTo(op, &err, nil)
	if len(state) == 0 || len(state) > 4*MaxMessageSize {
		return nil, newError(op, ErrCorruptState, "size %d", len(state))
	}
	var st groupState
	if err := json.Unmarshal(state, &st); err != nil {
		return nil, newError(op, ErrCorruptState, "%v", err)
	}
	if st.Version != stateVersion {
		return nil, newError(op, ErrCorruptState, "state version %d", st.Version)
	}
	if st.Identity != e.cred || !bytes.Equal(st.SigKey, e.sigPub) {
		return nil, newError(op, ErrCorruptState, "state belongs to another identity")
	}
	lg, err := loadLibraryGroup(st.MLS)
	if err != nil {
		return nil, newError(op, ErrCorruptState, "%v", err)
	}
	m := newGroup(e, lg)
	if !bytes.Equal(m.selfLocked().SigKey, e.sigPub) {
		return nil, newError(op, ErrCorruptState, "own leaf carries another key")
	}
	m.removed = st.Removed
	if p := st.Pending; p != nil {
		if _, err := loadLibraryGroup(p.Pre); err != nil {
			return nil, newError(op, ErrCorruptState, "pending commit: %v", err)
		}
		if p.PreEpoch+1 != lg.Epoch().AsUint64() || len(p.Commit) == 0 {
			return nil, newError(op, ErrCorruptState, "pending commit does not fit the group")
		}
		m.pending = &pendingCommit{
			pre: p.Pre, preEpoch: p.PreEpoch, preMembers: p.PreMembers, preAuth: p.PreAuth,
			commit: p.Commit, welcome: p.Welcome, added: p.Added, removed: p.Removed, updated: p.Updated,
		}
		m.leaveEpochLocked(p.PreEpoch, p.PreMembers)
	}
	if len(st.Seen)%sha256.Size != 0 || len(st.Seen)/sha256.Size != len(st.SeenKind) || len(st.SeenKind) > replayCapacity {
		return nil, newError(op, ErrCorruptState, "replay cache")
	}
	for i, k := range st.SeenKind {
		if k > seenDiscarded {
			return nil, newError(op, ErrCorruptState, "replay cache")
		}
		var h [sha256.Size]byte
		copy(h[:], st.Seen[i*sha256.Size:])
		m.seen.hashes = append(m.seen.hashes, h)
		m.seen.kinds = append(m.seen.kinds, k)
	}
	m.seen.next = len(m.seen.hashes) % replayCapacity
	return m, nil
}

func loadLibraryGroup(b []byte) (*group.Group, error) {
	lg, err := group.UnmarshalGroupState(b)
	if err != nil {
		return nil, err
	}
	if lg.CipherSuite().SignatureScheme() != ciphersuite.ED25519 {
		return nil, newError("load group", ErrUnsupported, "cipher suite %d", lg.CipherSuite())
	}
	return lg, nil
}
