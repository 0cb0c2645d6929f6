package mls

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/thomas-vilte/mls-go/ciphersuite"
	"github.com/thomas-vilte/mls-go/credentials"
	"github.com/thomas-vilte/mls-go/framing"
	"github.com/thomas-vilte/mls-go/group"
	"github.com/thomas-vilte/mls-go/keypackages"
	"github.com/thomas-vilte/mls-go/treesync"
)

// historyEpochs is how many past epochs keep their membership for
// attributing late application messages; the library keeps the keys of as
// many.
const historyEpochs = 5

type mlsGroup struct {
	mu sync.Mutex
	e  *engine
	// g is the library group. While a commit is pending it is already in the
	// commit's epoch; pending keeps the state to return to.
	g       *group.Group
	members []Member // members of g, by leaf
	// history maps recent past epochs to their members by leaf.
	history map[uint64]map[uint32]Member
	removed bool
	pending *pendingCommit
	seen    *replayCache
}

// pendingCommit is a commit this device created and merged tentatively.
type pendingCommit struct {
	pre        []byte // library state before the commit
	preEpoch   uint64
	preMembers []Member
	preAuth    []byte
	commit     []byte
	welcome    []byte
	added      []Member
	removed    []Member
	updated    []Member
}

func newGroup(e *engine, lg *group.Group) *mlsGroup {
	lg.SetPaddingSize(paddingBlock)
	return &mlsGroup{
		e:       e,
		g:       lg,
		members: listMembers(lg),
		history: make(map[uint64]map[uint32]Member),
		seen:    newReplayCache(),
	}
}

// listMembers reads the members from the ratchet tree, the authoritative
// source (the library's member map lags behind credential changes).
func listMembers(g *group.Group) []Member {
	var out []Member
	for i := uint32(0); ; i++ {
		leaf := g.GetTreeLeaf(group.LeafNodeIndex(i))
		if leaf == nil {
			break
		}
		if leaf.State != treesync.NodeStatePresent || leaf.LeafData == nil {
			continue
		}
		out = append(out, Member{
			Leaf:     i,
			Identity: credentialIdentity(leaf.LeafData.Credential),
			SigKey:   append([]byte(nil), leaf.LeafData.SigKeyBytes()...),
		})
	}
	return out
}

func credentialIdentity(c *credentials.Credential) string {
	if c == nil || c.Type() != credentials.BasicCredential {
		return ""
	}
	return string(c.Identity)
}

func findMember(ms []Member, leaf uint32) (Member, bool) {
	i, ok := slices.BinarySearchFunc(ms, leaf, func(m Member, l uint32) int {
		switch {
		case m.Leaf < l:
			return -1
		case m.Leaf > l:
			return 1
		}
		return 0
	})
	if !ok {
		return Member{}, false
	}
	return ms[i], true
}

func cloneMember(m Member) Member {
	m.SigKey = append([]byte(nil), m.SigKey...)
	return m
}

func cloneMembers(ms []Member) []Member {
	if ms == nil {
		return nil
	}
	out := make([]Member, len(ms))
	for i, m := range ms {
		out[i] = cloneMember(m)
	}
	return out
}

// diffMembers compares two member lists by leaf.
func diffMembers(before, after []Member) (added, removed, updated []Member) {
	for _, a := range after {
		b, ok := findMember(before, a.Leaf)
		switch {
		case !ok:
			added = append(added, a)
		case b.Identity != a.Identity:
			// A leaf reused by another device within one commit.
			removed = append(removed, b)
			added = append(added, a)
		case !bytes.Equal(b.SigKey, a.SigKey):
			updated = append(updated, a)
		}
	}
	for _, b := range before {
		if _, ok := findMember(after, b.Leaf); !ok {
			removed = append(removed, b)
		}
	}
	return added, removed, updated
}

func (m *mlsGroup) ID() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.g.ID().AsSlice()
}

func (m *mlsGroup) Epoch() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pending != nil {
		return m.pending.preEpoch
	}
	return m.g.Epoch().AsUint64()
}

func (m *mlsGroup) Members() []Member {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pending != nil {
		return cloneMembers(m.pending.preMembers)
	}
	return cloneMembers(m.members)
}

func (m *mlsGroup) Self() Member {
	m.mu.Lock()
	defer m.mu.Unlock()
	return cloneMember(m.selfLocked())
}

func (m *mlsGroup) selfLocked() Member {
	self, _ := findMember(m.members, uint32(m.g.OwnLeafIndex()))
	return self
}

func (m *mlsGroup) EpochAuthenticator() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pending != nil {
		return append([]byte(nil), m.pending.preAuth...)
	}
	return m.g.EpochAuthenticator()
}

func (m *mlsGroup) Active() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return !m.removed
}

// restoreLocked replaces the library group with a saved state. The library
// keeps no history of past epochs in its state, so late messages from
// epochs before the restore no longer decrypt.
func (m *mlsGroup) restoreLocked(state []byte) error {
	lg, err := group.UnmarshalGroupState(state)
	if err != nil {
		return err
	}
	lg.SetPaddingSize(paddingBlock)
	m.g = lg
	m.members = listMembers(lg)
	return nil
}

// leaveEpochLocked remembers the members of the epoch the group leaves.
func (m *mlsGroup) leaveEpochLocked(epoch uint64, members []Member) {
	byLeaf := make(map[uint32]Member, len(members))
	for _, mem := range members {
		byLeaf[mem.Leaf] = mem
	}
	m.history[epoch] = byLeaf
	for e := range m.history {
		if e+historyEpochs <= epoch {
			delete(m.history, e)
		}
	}
}

// --- creating commits ---

func (m *mlsGroup) AddMembers(keyPackages [][]byte) (commit, welcome []byte, err error) {
	const op = "add members"
	if len(keyPackages) == 0 || len(keyPackages) > MaxAddsPerCommit {
		return nil, nil, newError(op, ErrInvalidArgument, "need 1 to %d KeyPackages", MaxAddsPerCommit)
	}
	// Verify everything before touching the group.
	kps := make([]*keypackages.KeyPackage, 0, len(keyPackages))
	for i, b := range keyPackages {
		kp, _, err := parseKeyPackage(b)
		if err != nil {
			return nil, nil, fmt.Errorf("key package %d: %w", i, err)
		}
		kps = append(kps, kp)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	identities := make(map[string]bool, len(m.members)+len(kps))
	sigKeys := make(map[string]bool, len(m.members)+len(kps))
	for _, mem := range m.members {
		identities[mem.Identity] = true
		sigKeys[string(mem.SigKey)] = true
	}
	for i, kp := range kps {
		mem := Member{Identity: string(kp.LeafNode.Credential.Identity), SigKey: kp.LeafNode.SignatureKeyBytes}
		if identities[mem.Identity] || sigKeys[string(mem.SigKey)] {
			return nil, nil, newError(op, ErrInvalidArgument, "key package %d: device is already a member", i)
		}
		identities[mem.Identity], sigKeys[string(mem.SigKey)] = true, true
		if err := m.e.admit(mem); err != nil {
			return nil, nil, newError(op, ErrCredentialRefused, "key package %d: %v", i, err)
		}
	}
	return m.commitLocked(op, func() error {
		for _, kp := range kps {
			if _, err := m.g.AddMember(kp); err != nil {
				return classify(op, err, ErrInvalidArgument)
			}
		}
		return nil
	})
}

func (m *mlsGroup) RemoveMembers(identities []string) (commit []byte, err error) {
	const op = "remove members"
	if len(identities) == 0 {
		return nil, newError(op, ErrInvalidArgument, "no identities")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	self := m.selfLocked()
	var leaves []uint32
	for _, id := range identities {
		found := false
		for _, mem := range m.members {
			if mem.Identity != id {
				continue
			}
			if mem.Leaf == self.Leaf {
				return nil, newError(op, ErrInvalidArgument, "a device cannot remove itself")
			}
			if !slices.Contains(leaves, mem.Leaf) {
				leaves = append(leaves, mem.Leaf)
			}
			found = true
		}
		if !found {
			return nil, newError(op, ErrInvalidArgument, "%q is not a member", id)
		}
	}
	commit, _, err = m.commitLocked(op, func() error {
		for _, l := range leaves {
			if _, err := m.g.RemoveMember(group.LeafNodeIndex(l)); err != nil {
				return classify(op, err, ErrInvalidArgument)
			}
		}
		return nil
	})
	return commit, err
}

func (m *mlsGroup) Update() (commit []byte, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	// A commit without proposals still carries an UpdatePath: fresh keys on
	// this device's whole path (RFC 9420 §12.4).
	commit, _, err = m.commitLocked("update", func() error { return nil })
	return commit, err
}

// commitLocked snapshots the group, lets stage add proposals, creates and
// merges the commit and keeps the snapshot as the pending commit's way back.
func (m *mlsGroup) commitLocked(op string, stage func() error) (commit, welcome []byte, err error) {
	if m.removed {
		return nil, nil, newError(op, ErrRemoved, "")
	}
	if m.pending != nil {
		return nil, nil, newError(op, ErrCommitPending, "")
	}
	pre, err := m.g.MarshalState()
	if err != nil {
		return nil, nil, newError(op, ErrInternal, "snapshot: %v", err)
	}
	p := &pendingCommit{
		pre:        pre,
		preEpoch:   m.g.Epoch().AsUint64(),
		preMembers: m.members,
		preAuth:    m.g.EpochAuthenticator(),
	}
	undo := func() {
		if rerr := m.restoreLocked(pre); rerr != nil {
			panic(fmt.Sprintf("mls: cannot restore group state: %v", rerr))
		}
	}
	defer recoverTo(op, &err, undo)
	if err := stage(); err != nil {
		undo()
		return nil, nil, err
	}
	staged, err := m.g.Commit(m.e.signer, m.e.signer.PublicKey(), nil)
	if err != nil {
		undo()
		return nil, nil, classify(op, err, ErrInternal)
	}
	var newKPs []*keypackages.KeyPackage
	for _, prop := range staged.Proposals() {
		if prop.Type == group.ProposalTypeAdd && prop.Add != nil && prop.Add.KeyPackage != nil {
			newKPs = append(newKPs, prop.Add.KeyPackage)
		}
	}
	joinerSecret := staged.JoinerSecret()
	if err := m.g.MergeCommit(staged); err != nil {
		undo()
		return nil, nil, classify(op, err, ErrInternal)
	}
	ac := staged.AuthenticatedContent()
	commit = framing.NewMLSMessagePublic(&framing.PublicMessage{
		Content:       ac.Content,
		Auth:          ac.Auth,
		MembershipTag: staged.MembershipTag(),
	}).Marshal()
	if len(newKPs) > 0 {
		w, err := m.g.CreateWelcomeWithOpts(newKPs, m.e.signer,
			group.WithJoinerSecret(joinerSecret),
			group.WithPSKIDs(staged.PskIDs()),
			group.WithPSKSecret(staged.RawPskSecret()),
			group.WithStagedCommit(staged),
			// The tree travels in the Welcome; Wache has no external joins.
			group.WithGroupInfoOptions(group.WithRatchetTree(true), group.WithExternalPub(false)),
		)
		if err != nil {
			undo()
			return nil, nil, classify(op, err, ErrInternal)
		}
		welcome = (&framing.MLSMessage{Welcome: w.Marshal()}).Marshal()
	}
	m.members = listMembers(m.g)
	p.added, p.removed, p.updated = diffMembers(p.preMembers, m.members)
	p.commit, p.welcome = commit, welcome
	m.pending = p
	m.leaveEpochLocked(p.preEpoch, p.preMembers)
	m.seen.add(commit, seenOwn)
	return bytes.Clone(commit), bytes.Clone(welcome), nil
}

func (m *mlsGroup) PendingCommit() (commit, welcome []byte, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pending == nil {
		return nil, nil, false
	}
	return bytes.Clone(m.pending.commit), bytes.Clone(m.pending.welcome), true
}

func (m *mlsGroup) MergePendingCommit() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.pending == nil {
		return newError("merge", ErrNoPendingCommit, "")
	}
	m.pending = nil
	return nil
}

func (m *mlsGroup) DiscardPendingCommit() (err error) {
	const op = "discard"
	m.mu.Lock()
	defer m.mu.Unlock()
	defer recoverTo(op, &err, nil)
	if m.pending == nil {
		return newError(op, ErrNoPendingCommit, "")
	}
	if err := m.restoreLocked(m.pending.pre); err != nil {
		return newError(op, ErrInternal, "%v", err)
	}
	m.seen.mark(m.pending.commit, seenDiscarded)
	m.pending = nil
	return nil
}

// --- application messages ---

func (m *mlsGroup) Encrypt(plaintext, authenticatedData []byte) (out []byte, err error) {
	const op = "encrypt"
	if len(plaintext) > MaxPlaintextSize {
		return nil, newError(op, ErrInvalidArgument, "plaintext over %d bytes", MaxPlaintextSize)
	}
	if len(authenticatedData) > MaxAuthenticatedDataSize {
		return nil, newError(op, ErrInvalidArgument, "authenticated data over %d bytes", MaxAuthenticatedDataSize)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	defer recoverTo(op, &err, nil)
	if m.removed {
		return nil, newError(op, ErrRemoved, "")
	}
	if m.pending != nil {
		return nil, newError(op, ErrCommitPending, "")
	}
	pm, err := m.g.SendMessage(plaintext, m.e.signer, group.WithAAD(authenticatedData))
	if err != nil {
		return nil, classify(op, err, ErrInternal)
	}
	out = framing.NewMLSMessagePrivate(pm).Marshal()
	m.seen.add(out, seenOwn)
	return out, nil
}

// --- processing ---

func (m *mlsGroup) Process(msg []byte) (res *Result, err error) {
	const op = "process"
	if len(msg) == 0 || len(msg) > MaxMessageSize {
		return nil, newError(op, ErrMalformed, "size %d", len(msg))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	defer recoverTo(op, &err, nil)
	if m.removed {
		return nil, newError(op, ErrRemoved, "")
	}
	if m.pending != nil && bytes.Equal(msg, m.pending.commit) {
		return m.mergeOwnLocked(), nil
	}
	if kind, ok := m.seen.lookup(msg); ok {
		switch kind {
		case seenOwn:
			return nil, newError(op, ErrOwnMessage, "")
		case seenDiscarded:
			return nil, newError(op, ErrDiscardedCommit, "")
		}
		return nil, newError(op, ErrReplay, "")
	}
	parsed, err := parseMessage(msg)
	if err != nil {
		return nil, newError(op, ErrMalformed, "%v", err)
	}
	var (
		groupID []byte
		epoch   uint64
		ctype   framing.ContentType
	)
	if pm := parsed.PublicMessage; pm != nil {
		groupID, epoch, ctype = pm.Content.GroupID, pm.Content.Epoch, pm.Content.ContentType()
		if ctype == framing.ContentTypeApplication {
			return nil, newError(op, ErrMalformed, "application data in a public message")
		}
	} else {
		pm := parsed.PrivateMessage
		groupID, epoch, ctype = pm.GroupID, pm.Epoch, pm.ContentType
		if ctype != framing.ContentTypeApplication {
			// mls-go locates the body of decrypted handshake content by a
			// quadratic scan; Wache sends handshakes as PublicMessages.
			return nil, newError(op, ErrUnsupported, "encrypted handshake message")
		}
	}
	if !bytes.Equal(groupID, m.g.ID().AsSlice()) {
		return nil, newError(op, ErrWrongGroup, "")
	}
	if ctype == framing.ContentTypeApplication {
		res, err = m.processApplicationLocked(parsed.PrivateMessage)
	} else {
		res, err = m.processHandshakeLocked(parsed, epoch, ctype)
	}
	if err != nil {
		return nil, err
	}
	m.seen.add(msg, seenReceived)
	return res, nil
}

// mergeOwnLocked handles this device's pending commit coming back.
func (m *mlsGroup) mergeOwnLocked() *Result {
	p := m.pending
	m.pending = nil
	return &Result{
		Kind:                KindCommit,
		Epoch:               m.g.Epoch().AsUint64(),
		Sender:              cloneMember(m.selfLocked()),
		Added:               cloneMembers(p.added),
		Removed:             cloneMembers(p.removed),
		Updated:             cloneMembers(p.updated),
		OwnCommit:           true,
		MergedPendingCommit: true,
	}
}

func (m *mlsGroup) processApplicationLocked(pm *framing.PrivateMessage) (*Result, error) {
	const op = "process"
	cur := m.g.Epoch().AsUint64()
	if pm.Epoch > cur {
		return nil, epochError(op, pm.Epoch, m.confirmedEpochLocked())
	}
	if pm.Epoch == cur {
		if sd, err := peekSenderData(m.g.CipherSuite(), m.g.EpochSecrets().SenderDataSecret, pm); err == nil {
			if ls, err := m.g.SecretTree().LeafForIndex(sd.LeafIndex); err == nil &&
				uint64(sd.Generation) > uint64(ls.CurrentGeneration())+maxGenerationSkip {
				return nil, newError(op, ErrDecrypt, "generation %d is too far ahead", sd.Generation)
			}
		}
	}
	pt, aad, leaf, err := m.g.ReceiveApplicationMessage(pm)
	if err != nil {
		if errors.Is(err, group.ErrUnknownEpoch) {
			return nil, epochError(op, pm.Epoch, m.confirmedEpochLocked())
		}
		return nil, classify(op, err, ErrDecrypt)
	}
	var sender Member
	var ok bool
	if pm.Epoch == cur {
		sender, ok = findMember(m.members, uint32(leaf))
	} else {
		sender, ok = m.history[pm.Epoch][uint32(leaf)]
	}
	if !ok {
		return nil, newError(op, ErrUnknownSender, "leaf %d in epoch %d", leaf, pm.Epoch)
	}
	res := &Result{
		Kind:              KindApplication,
		Epoch:             pm.Epoch,
		Sender:            cloneMember(sender),
		Plaintext:         pt,
		AuthenticatedData: bytes.Clone(aad),
	}
	// Someone sent in the pending commit's epoch: it was accepted.
	if m.pending != nil && pm.Epoch == cur {
		m.pending = nil
		res.MergedPendingCommit = true
	}
	return res, nil
}

// confirmedEpochLocked is the epoch before any pending commit.
func (m *mlsGroup) confirmedEpochLocked() uint64 {
	if m.pending != nil {
		return m.pending.preEpoch
	}
	return m.g.Epoch().AsUint64()
}

func (m *mlsGroup) processHandshakeLocked(msg *framing.MLSMessage, epoch uint64, ctype framing.ContentType) (*Result, error) {
	const op = "process"
	p := m.pending
	if p == nil {
		return m.applyHandshakeLocked(msg)
	}
	switch epoch {
	case p.preEpoch:
		if ctype != framing.ContentTypeCommit {
			return nil, newError(op, ErrCommitPending, "proposal for the epoch of the pending commit")
		}
		// Another commit for the same epoch: try it on the state before
		// ours; if it is valid, ours lost.
		post, postMembers := m.g, m.members
		if err := m.restoreLocked(p.pre); err != nil {
			return nil, newError(op, ErrInternal, "%v", err)
		}
		m.pending = nil
		res, err := m.safeApplyLocked(msg)
		if err != nil {
			m.g, m.members, m.pending = post, postMembers, p
			return nil, err
		}
		m.seen.mark(p.commit, seenDiscarded)
		res.DiscardedPendingCommit = true
		return res, nil
	case p.preEpoch + 1:
		// A message of the next epoch builds on our commit.
		m.pending = nil
		res, err := m.safeApplyLocked(msg)
		if err != nil {
			m.pending = p
			return nil, err
		}
		res.MergedPendingCommit = true
		return res, nil
	default:
		return nil, epochError(op, epoch, p.preEpoch)
	}
}

// safeApplyLocked is applyHandshakeLocked with panics turned into errors,
// for callers that must put state back on failure.
func (m *mlsGroup) safeApplyLocked(msg *framing.MLSMessage) (res *Result, err error) {
	defer recoverTo("process", &err, nil)
	return m.applyHandshakeLocked(msg)
}

// applyHandshakeLocked authenticates and applies a proposal or commit in
// the current epoch. On error the group is unchanged.
func (m *mlsGroup) applyHandshakeLocked(msg *framing.MLSMessage) (res *Result, err error) {
	const op = "process"
	g := m.g
	cur := g.Epoch().AsUint64()
	if pm := msg.PublicMessage; pm != nil {
		if pm.Content.Epoch != cur {
			return nil, epochError(op, pm.Content.Epoch, cur)
		}
		if pm.Content.Sender.Type != framing.SenderTypeMember {
			return nil, newError(op, ErrUnknownSender, "sender type %d is not a member", pm.Content.Sender.Type)
		}
		sender, ok := findMember(m.members, pm.Content.Sender.LeafIndex)
		if !ok {
			return nil, newError(op, ErrUnknownSender, "leaf %d", pm.Content.Sender.LeafIndex)
		}
		gc := g.GroupContext().Marshal()
		ac := &framing.AuthenticatedContent{
			WireFormat:   framing.WireFormatPublicMessage,
			Content:      pm.Content,
			Auth:         pm.Auth,
			GroupContext: gc,
		}
		// Authenticate before any state changes.
		if err := verifySignature(g.CipherSuite(), sender.SigKey, ac); err != nil {
			return nil, newError(op, ErrForged, "signature: %v", err)
		}
		if err := pm.VerifyMembershipTagWithContext(g.CipherSuite(), g.EpochSecrets().MembershipKey, gc); err != nil {
			return nil, newError(op, ErrForged, "membership tag: %v", err)
		}
		switch body := pm.Content.Body.(type) {
		case framing.ProposalBody:
			if err := g.ProcessPublicMessage(pm); err != nil {
				return nil, classify(op, err, ErrInvalidCommit)
			}
			return &Result{Kind: KindProposal, Epoch: cur, Sender: cloneMember(sender)}, nil
		case framing.CommitBody:
			commit, err := group.UnmarshalCommit(body.Data)
			if err != nil {
				return nil, newError(op, ErrMalformed, "commit: %v", err)
			}
			return m.applyCommitLocked(ac, sender, commit)
		default:
			return nil, newError(op, ErrMalformed, "unexpected body")
		}
	}
	return nil, newError(op, ErrUnsupported, "encrypted handshake message")
}

func verifySignature(cs ciphersuite.CipherSuite, sigKey []byte, ac *framing.AuthenticatedContent) error {
	if ac.Auth.Signature == nil {
		return errors.New("no signature")
	}
	pub := ciphersuite.NewMLSSignaturePublicKey(sigKey, cs.SignatureScheme())
	return ciphersuite.VerifyWithLabel(pub, "FramedContentTBS", ac.MarshalTBS(), ac.Auth.Signature)
}

// applyCommitLocked applies an authenticated commit atomically.
func (m *mlsGroup) applyCommitLocked(ac *framing.AuthenticatedContent, sender Member, commit *group.Commit) (res *Result, err error) {
	const op = "process"
	g := m.g
	cur := g.Epoch().AsUint64()
	own := uint32(g.OwnLeafIndex())

	// A commit that removes this device cannot be processed by it (it gets
	// no path secret); it ends the membership.
	stored := g.StoredProposals()
	var removedLeaves []uint32
	for _, por := range commit.Proposals {
		prop := por.Proposal
		if prop == nil {
			for _, s := range stored {
				if len(s.Ref) > 0 && bytes.Equal(s.Ref, por.ProposalRef) {
					prop = s.Proposal
					break
				}
			}
		}
		if prop != nil && prop.Type == group.ProposalTypeRemove && prop.Remove != nil {
			removedLeaves = append(removedLeaves, uint32(prop.Remove.Removed))
		}
	}
	if slices.Contains(removedLeaves, own) {
		res := &Result{Kind: KindCommit, Epoch: cur + 1, Sender: cloneMember(sender), SelfRemoved: true}
		for _, l := range removedLeaves {
			if mem, ok := findMember(m.members, l); ok {
				res.Removed = append(res.Removed, cloneMember(mem))
			}
		}
		m.removed = true
		m.pending = nil
		return res, nil
	}

	snap, err := g.MarshalState()
	if err != nil {
		return nil, newError(op, ErrInternal, "snapshot: %v", err)
	}
	undo := func() {
		if rerr := m.restoreLocked(snap); rerr != nil {
			panic(fmt.Sprintf("mls: cannot restore group state: %v", rerr))
		}
	}
	defer recoverTo(op, &err, undo)
	before := m.members
	if err := g.ProcessReceivedCommit(ac, treesync.LeafIndex(sender.Leaf), g.MyLeafEncryptionKey()); err != nil {
		undo()
		return nil, classify(op, err, ErrInvalidCommit)
	}
	after := listMembers(g)
	added, removed, updated := diffMembers(before, after)
	for _, mem := range append(slices.Clone(added), updated...) {
		if err := m.e.admit(mem); err != nil {
			undo()
			return nil, newError(op, ErrCredentialRefused, "leaf %d: %v", mem.Leaf, err)
		}
	}
	m.members = after
	m.leaveEpochLocked(cur, before)
	return &Result{
		Kind:    KindCommit,
		Epoch:   g.Epoch().AsUint64(),
		Sender:  cloneMember(sender),
		Added:   cloneMembers(added),
		Removed: cloneMembers(removed),
		Updated: cloneMembers(updated),
	}, nil
}

// --- replay detection ---

// replayCapacity bounds the remembered message hashes per group. Older
// replays are still refused by the protocol (consumed keys, past epochs),
// only less clearly.
const replayCapacity = 256

// Kinds of remembered messages.
const (
	seenReceived  byte = 0
	seenOwn       byte = 1 // sent by this device
	seenDiscarded byte = 2 // this device's commit, discarded
)

// replayCache remembers hashes of recently sent and processed messages, so a
// replay or an echo of an own message gets a clear error.
type replayCache struct {
	hashes [][sha256.Size]byte
	kinds  []byte
	next   int
}

func newReplayCache() *replayCache { return &replayCache{} }

func (c *replayCache) add(msg []byte, kind byte) {
	h := sha256.Sum256(msg)
	if len(c.hashes) < replayCapacity {
		c.hashes = append(c.hashes, h)
		c.kinds = append(c.kinds, kind)
		return
	}
	c.hashes[c.next], c.kinds[c.next] = h, kind
	c.next = (c.next + 1) % replayCapacity
}

func (c *replayCache) mark(msg []byte, kind byte) {
	h := sha256.Sum256(msg)
	for i := range c.hashes {
		if c.hashes[i] == h {
			c.kinds[i] = kind
			return
		}
	}
	c.add(msg, kind)
}

func (c *replayCache) lookup(msg []byte) (kind byte, ok bool) {
	h := sha256.Sum256(msg)
	for i := range c.hashes {
		if c.hashes[i] == h {
			return c.kinds[i], true
		}
	}
	return 0, false
}

// --- error mapping ---

// classify maps a library error to a sentinel; fallback is used when the
// library gives no type to go by.
func classify(op string, err error, fallback error) error {
	var (
		em *group.ErrEpochMismatch
		gm *group.ErrGroupIDMismatch
		is *group.ErrInvalidSignature
		um *group.ErrUnknownMember
		df *group.ErrDecryptionFailed
		we *Error
	)
	switch {
	case errors.As(err, &we):
		return err
	case errors.As(err, &em):
		return epochError(op, em.Got, em.Want)
	case errors.As(err, &gm):
		return newError(op, ErrWrongGroup, "")
	case errors.As(err, &is):
		return newError(op, ErrForged, "%v", err)
	case errors.As(err, &um), errors.Is(err, group.ErrSenderNotActive), errors.Is(err, group.ErrMissingSenderSignature):
		return newError(op, ErrUnknownSender, "%v", err)
	case errors.As(err, &df), errors.Is(err, framing.ErrDecryptionFailed):
		return newError(op, ErrDecrypt, "%v", err)
	case errors.Is(err, framing.ErrVerificationFailed), errors.Is(err, framing.ErrInvalidMembershipTag):
		return newError(op, ErrForged, "%v", err)
	case errors.Is(err, group.ErrWelcomeNoEncryptedSecrets):
		return newError(op, ErrNoKeyPackage, "%v", err)
	case errors.Is(err, group.ErrPendingProposals):
		return newError(op, ErrProposalsPending, "")
	case errors.Is(err, group.ErrWelcomeMissingPSK), errors.Is(err, group.ErrWelcomePSKNotFound),
		errors.Is(err, group.ErrRequiredExtensionMissing):
		return newError(op, ErrUnsupported, "%v", err)
	case errors.Is(err, group.ErrConfirmationTagMismatch), errors.Is(err, group.ErrTreeHashMismatch),
		errors.Is(err, group.ErrInvalidProposal), errors.Is(err, group.ErrUnknownProposalRef),
		errors.Is(err, group.ErrJoinerLeafNotFound), errors.Is(err, group.ErrLeafNodeInvalid):
		return newError(op, ErrInvalidCommit, "%v", err)
	}
	return newError(op, fallback, "%v", err)
}
