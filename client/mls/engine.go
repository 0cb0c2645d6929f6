package mls

// This file and group.go, keypackage.go and state.go implement the engine on
// github.com/thomas-vilte/mls-go. Replacing the library means rewriting
// these files; the exported API and the tests stay.

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/thomas-vilte/mls-go/ciphersuite"
	"github.com/thomas-vilte/mls-go/credentials"
	mlsext "github.com/thomas-vilte/mls-go/extensions"
	"github.com/thomas-vilte/mls-go/framing"
	"github.com/thomas-vilte/mls-go/group"
	"github.com/thomas-vilte/mls-go/keypackages"
)

// Options configure an engine.
type Options struct {
	// Validator, if set, must accept every member the engine admits (see
	// CredentialValidator). Independently of it, every member's credential
	// must be a Wache credential identity with an Ed25519 key.
	Validator CredentialValidator
	// KeyPackageLifetime is how long new KeyPackages stay valid (from one
	// hour ago, for clock skew). Zero means 83 days.
	KeyPackageLifetime time.Duration

	// testVectors admits credentials that are not Wache identities and
	// keeps expired KeyPackages; only the RFC 9420 vector tests set it.
	testVectors bool
	// testPSKs are external PSKs for joining; only the vector tests set it.
	testPSKs map[string][]byte
}

const (
	defaultKeyPackageLifetime = 83 * 24 * time.Hour
	clockSkew                 = time.Hour
	// keyPackageGrace keeps a KeyPackage this long after it expired: an
	// invitation made while it was valid may reach an offline device late.
	keyPackageGrace = 90 * 24 * time.Hour
	// paddingBlock pads application ciphertexts to a multiple of this many
	// bytes, so lengths leak less.
	paddingBlock = 32
)

var suite = ciphersuite.CipherSuite(CipherSuite)

type engine struct {
	mu      sync.Mutex
	id      Identity
	cred    string
	sigPub  ed25519.PublicKey
	signer  *ciphersuite.SignaturePrivateKey
	credKey *credentials.CredentialWithKey
	opts    Options
	pending map[string]*pendingKeyPackage // by string(ref)
}

// pendingKeyPackage is an unused KeyPackage with its private keys.
type pendingKeyPackage struct {
	ref  []byte
	raw  []byte // KeyPackage encoding (without the MLSMessage header)
	kp   *keypackages.KeyPackage
	priv *keypackages.KeyPackagePrivateKeys
}

// NewEngine returns an engine for a device identity with no KeyPackages.
func NewEngine(id Identity, opts Options) (Engine, error) {
	return newEngine(id, opts)
}

func newEngine(id Identity, opts Options) (*engine, error) {
	cred, err := id.validate()
	if err != nil {
		return nil, newError("engine", ErrInvalidArgument, "%v", err)
	}
	if opts.KeyPackageLifetime < 0 {
		return nil, newError("engine", ErrInvalidArgument, "negative KeyPackage lifetime")
	}
	if opts.KeyPackageLifetime == 0 {
		opts.KeyPackageLifetime = defaultKeyPackageLifetime
	}
	key := append(ed25519.PrivateKey(nil), id.SigningKey...)
	id.SigningKey = key
	pub := key.Public().(ed25519.PublicKey)
	return &engine{
		id:     id,
		cred:   cred,
		sigPub: pub,
		signer: ciphersuite.NewEd25519SignaturePrivateKey(key),
		credKey: &credentials.CredentialWithKey{
			Credential:        credentials.NewBasicCredential([]byte(cred)),
			Ed25519PrivateKey: key,
			SignatureKeyBytes: append([]byte(nil), pub...),
		},
		opts:    opts,
		pending: make(map[string]*pendingKeyPackage),
	}, nil
}

func (e *engine) Identity() string     { return e.cred }
func (e *engine) SignatureKey() []byte { return append([]byte(nil), e.sigPub...) }

func (e *engine) PendingKeyPackages() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.pending)
}

func (e *engine) DeleteKeyPackage(ref []byte) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.pending[string(ref)]; !ok {
		return false
	}
	delete(e.pending, string(ref))
	return true
}

func (e *engine) NewKeyPackages(n int) (kps [][]byte, refs [][]byte, err error) {
	const op = "new key packages"
	defer recoverTo(op, &err, nil)
	if n < 1 || n > MaxKeyPackagesPerCall {
		return nil, nil, newError(op, ErrInvalidArgument, "count must be 1 to %d", MaxKeyPackagesPerCall)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.pruneExpiredLocked()
	if len(e.pending)+n > MaxPendingKeyPackages {
		return nil, nil, newError(op, ErrInvalidArgument, "more than %d unused KeyPackages", MaxPendingKeyPackages)
	}
	fresh := make([]*pendingKeyPackage, 0, n)
	for range n {
		p, err := e.generateKeyPackage()
		if err != nil {
			return nil, nil, newError(op, ErrInternal, "%v", err)
		}
		fresh = append(fresh, p)
	}
	for _, p := range fresh {
		e.pending[string(p.ref)] = p
		kps = append(kps, (&framing.MLSMessage{KeyPackage: p.raw}).Marshal())
		refs = append(refs, append([]byte(nil), p.ref...))
	}
	return kps, refs, nil
}

func (e *engine) generateKeyPackage() (*pendingKeyPackage, error) {
	now := time.Now()
	notBefore := now.Add(-clockSkew)
	notAfter := now.Add(e.opts.KeyPackageLifetime)
	kp, priv, err := keypackages.Generate(e.credKey, suite,
		keypackages.WithLifetime(uint64(notBefore.Unix()), uint64(notAfter.Unix())))
	if err != nil {
		return nil, fmt.Errorf("generate KeyPackage: %w", err)
	}
	raw := kp.Marshal()
	return &pendingKeyPackage{
		ref:  ciphersuite.MakeKeyPackageRef(raw, suite.HashFunction()).AsSlice(),
		raw:  raw,
		kp:   kp,
		priv: priv,
	}, nil
}

// pruneExpiredLocked drops KeyPackages that expired longer than the grace
// period ago.
func (e *engine) pruneExpiredLocked() {
	if e.opts.testVectors {
		return
	}
	limit := uint64(time.Now().Add(-keyPackageGrace).Unix())
	for k, p := range e.pending {
		if lt := p.kp.LeafNode.Lifetime; lt != nil && lt.NotAfter < limit {
			delete(e.pending, k)
		}
	}
}

func (e *engine) CreateGroup(groupID []byte) (g Group, err error) {
	const op = "create group"
	defer recoverTo(op, &err, nil)
	if len(groupID) == 0 || len(groupID) > MaxGroupIDSize {
		return nil, newError(op, ErrInvalidArgument, "group id must be 1 to %d bytes", MaxGroupIDSize)
	}
	// The creator's leaf comes from a KeyPackage that is never published.
	p, err := e.generateKeyPackage()
	if err != nil {
		return nil, newError(op, ErrInternal, "%v", err)
	}
	lg, err := group.NewGroup(group.NewGroupID(append([]byte(nil), groupID...)), suite, p.kp, p.priv)
	if err != nil {
		return nil, newError(op, ErrInternal, "%v", err)
	}
	return newGroup(e, lg), nil
}

func (e *engine) JoinFromWelcome(welcome []byte) (g Group, err error) {
	const op = "join"
	defer recoverTo(op, &err, nil)
	w, err := parseWelcome(welcome)
	if err != nil {
		return nil, newError(op, ErrMalformed, "%v", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var p *pendingKeyPackage
	for _, s := range w.Secrets {
		if c, ok := e.pending[string(s.NewMember)]; ok {
			p = c
			break
		}
	}
	if p == nil {
		return nil, newError(op, ErrNoKeyPackage, "")
	}
	if w.CipherSuite != p.kp.CipherSuite {
		return nil, newError(op, ErrUnsupported, "welcome cipher suite %d, key package %d", w.CipherSuite, p.kp.CipherSuite)
	}
	lg, err := group.JoinFromWelcome(w, p.kp, p.priv, e.opts.testPSKs)
	if err != nil {
		return nil, classify(op, err, ErrInvalidCommit)
	}
	// Without the ratchet_tree extension the library builds a placeholder
	// tree it cannot verify; Wache always sends the tree in the Welcome.
	if w.GroupInfo == nil || !hasExtension(w.GroupInfo.Extensions, mlsext.ExtensionTypeRatchetTree) {
		return nil, newError(op, ErrUnsupported, "welcome without ratchet_tree extension")
	}
	if lg.CipherSuite().SignatureScheme() != ciphersuite.ED25519 {
		return nil, newError(op, ErrUnsupported, "cipher suite %d does not sign with Ed25519", lg.CipherSuite())
	}
	ng := newGroup(e, lg)
	self := ng.selfLocked()
	if !bytes.Equal(self.SigKey, e.sigPub) || (!e.opts.testVectors && self.Identity != e.cred) {
		return nil, newError(op, ErrInvalidCommit, "own leaf does not carry this device's credential")
	}
	for _, m := range ng.members {
		if err := e.admit(m); err != nil {
			return nil, newError(op, ErrCredentialRefused, "leaf %d: %v", m.Leaf, err)
		}
	}
	delete(e.pending, string(p.ref))
	return ng, nil
}

func hasExtension(exts []group.Extension, t mlsext.ExtensionType) bool {
	for _, x := range exts {
		if x.Type == t {
			return true
		}
	}
	return false
}

// admit applies the structural credential check and the validator to one
// member.
func (e *engine) admit(m Member) error {
	if len(m.SigKey) != ed25519.PublicKeySize {
		return fmt.Errorf("signature key is not Ed25519")
	}
	if !e.opts.testVectors {
		if _, _, err := ParseCredentialIdentity(m.Identity); err != nil {
			return err
		}
	}
	if e.opts.Validator != nil {
		if err := e.opts.Validator(m.Identity, append([]byte(nil), m.SigKey...)); err != nil {
			return err
		}
	}
	return nil
}

// engineState is the serialised engine: the unused KeyPackages.
type engineState struct {
	Version     int               `json:"v"`
	Identity    string            `json:"identity"`
	SigKey      []byte            `json:"sig_key"`
	KeyPackages []keyPackageState `json:"key_packages"`
}

type keyPackageState struct {
	KeyPackage []byte `json:"kp"`   // KeyPackage encoding
	InitPriv   []byte `json:"init"` // HPKE private key for the Welcome
	EncPriv    []byte `json:"enc"`  // HPKE private key of the leaf
}

const stateVersion = 1

func (e *engine) ExportState() (b []byte, err error) {
	const op = "export engine"
	defer recoverTo(op, &err, nil)
	e.mu.Lock()
	defer e.mu.Unlock()
	st := engineState{Version: stateVersion, Identity: e.cred, SigKey: e.sigPub, KeyPackages: []keyPackageState{}}
	for _, p := range e.pending {
		st.KeyPackages = append(st.KeyPackages, keyPackageState{
			KeyPackage: p.raw,
			InitPriv:   p.priv.InitKey.Bytes(),
			EncPriv:    p.priv.EncryptionKey.Bytes(),
		})
	}
	b, err = json.Marshal(st)
	if err != nil {
		return nil, newError(op, ErrInternal, "%v", err)
	}
	return b, nil
}

// LoadEngine restores an engine from Engine.ExportState. The identity must
// be the one the state was made for.
func LoadEngine(id Identity, state []byte, opts Options) (eng Engine, err error) {
	const op = "load engine"
	defer recoverTo(op, &err, nil)
	e, err := newEngine(id, opts)
	if err != nil {
		return nil, err
	}
	if len(state) > MaxMessageSize {
		return nil, newError(op, ErrCorruptState, "state too large")
	}
	var st engineState
	if err := json.Unmarshal(state, &st); err != nil {
		return nil, newError(op, ErrCorruptState, "%v", err)
	}
	if st.Version != stateVersion {
		return nil, newError(op, ErrCorruptState, "state version %d", st.Version)
	}
	if st.Identity != e.cred || !bytes.Equal(st.SigKey, e.sigPub) {
		return nil, newError(op, ErrCorruptState, "state belongs to another identity")
	}
	if len(st.KeyPackages) > MaxPendingKeyPackages {
		return nil, newError(op, ErrCorruptState, "too many KeyPackages")
	}
	for i, ks := range st.KeyPackages {
		p, err := e.restoreKeyPackage(ks)
		if err != nil {
			return nil, newError(op, ErrCorruptState, "key package %d: %v", i, err)
		}
		e.pending[string(p.ref)] = p
	}
	e.pruneExpiredLocked()
	return e, nil
}

// restoreKeyPackage checks that the private keys belong to the KeyPackage
// and that the KeyPackage is this device's.
func (e *engine) restoreKeyPackage(ks keyPackageState) (*pendingKeyPackage, error) {
	kp, err := keypackages.UnmarshalKeyPackage(ks.KeyPackage)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(kp.Marshal(), ks.KeyPackage) || kp.LeafNode == nil || kp.LeafNode.Credential == nil {
		return nil, fmt.Errorf("malformed KeyPackage")
	}
	cs := kp.CipherSuite
	if !cs.IsSupported() || cs.SignatureScheme() != ciphersuite.ED25519 {
		return nil, fmt.Errorf("unsupported cipher suite %d", cs)
	}
	if !bytes.Equal(kp.LeafNode.SignatureKeyBytes, e.sigPub) {
		return nil, fmt.Errorf("KeyPackage is not signed by this device")
	}
	if !e.opts.testVectors && string(kp.LeafNode.Credential.Identity) != e.cred {
		return nil, fmt.Errorf("KeyPackage carries another credential")
	}
	initPriv, err := cs.Curve().NewPrivateKey(ks.InitPriv)
	if err != nil {
		return nil, fmt.Errorf("init key: %w", err)
	}
	encPriv, err := cs.Curve().NewPrivateKey(ks.EncPriv)
	if err != nil {
		return nil, fmt.Errorf("encryption key: %w", err)
	}
	if !bytes.Equal(initPriv.PublicKey().Bytes(), kp.InitKey) || !bytes.Equal(encPriv.PublicKey().Bytes(), kp.LeafNode.EncryptionKey) {
		return nil, fmt.Errorf("private keys do not match the KeyPackage")
	}
	return &pendingKeyPackage{
		ref: ciphersuite.MakeKeyPackageRef(ks.KeyPackage, cs.HashFunction()).AsSlice(),
		raw: append([]byte(nil), ks.KeyPackage...),
		kp:  kp,
		priv: &keypackages.KeyPackagePrivateKeys{
			InitKey:             initPriv,
			EncryptionKey:       encPriv,
			Ed25519SignatureKey: e.id.SigningKey,
		},
	}, nil
}

// LoadGroup restores a group of engine e from Group.ExportState.
func LoadGroup(e Engine, state []byte) (Group, error) {
	if e == nil {
		return nil, newError("load group", ErrInvalidArgument, "nil engine")
	}
	return e.LoadGroup(state)
}

// recoverTo turns a panic inside the library into ErrInternal; undo, if set,
// restores state first.
func recoverTo(op string, err *error, undo func()) {
	r := recover()
	if r == nil {
		return
	}
	if undo != nil {
		func() {
			defer func() { _ = recover() }()
			undo()
		}()
	}
	*err = newError(op, ErrInternal, "library panic: %v", r)
}
