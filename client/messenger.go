package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
	"github.com/wache/wache/client/mls"
)

// Message is a decrypted application message as the UI shows it.
type Message struct {
	ConvID       string    `json:"conv_id"`
	Seq          int64     `json:"seq"`
	SenderID     string    `json:"sender_id"`
	SenderDevice string    `json:"sender_device"`
	SenderEmail  string    `json:"sender_email"`
	Time         time.Time `json:"time"`
	Epoch        uint64    `json:"epoch"`
	Payload      Payload   `json:"payload"`
	// Priority ("", urgent, alarm) and AckRequired come from the envelope:
	// the sender asked for them, the server relays them in the clear.
	Priority    string `json:"priority,omitempty"`
	AckRequired bool   `json:"ack_required,omitempty"`
	// Undecryptable says why a message could not be read (sent before this
	// device joined, tampered with, …); Payload is then empty.
	Undecryptable string `json:"undecryptable,omitempty"`
}

// State keys of the messenger.
const (
	keyEngine = "mls_engine"
	keyOutbox = "outbox"
)

func groupKey(convID string) string { return "g_" + convID }

// Messenger is the end-to-end encrypted client core of one device: every
// conversation is an MLS group, every device a leaf. It keeps the MLS state
// in the (encrypted) State, processes incoming envelopes exactly once in
// order, and sends through an outbox that survives restarts.
type Messenger struct {
	API *Client
	// OnMessage receives every decrypted application message.
	OnMessage func(Message)
	// Record, if set, keeps each decrypted application message (an app's
	// history) before its envelope counts as processed: a crash between
	// the two cannot lose it, since its MLS key is gone once used. An
	// error leaves the envelope unprocessed.
	Record func(ctx context.Context, msg Message) error
	Log    *slog.Logger

	st   State
	prof *Profile
	eng  mls.Engine

	mu     sync.Mutex // guards everything below and serialises MLS operations
	groups map[string]mls.Group
	seen   map[string]int64 // per conversation: highest processed seq
	held   map[string][]api.Envelope

	dirMu sync.Mutex
	dir   map[string]*api.DirectoryDevice
}

// outboxItem is an encrypted message not yet acknowledged by the server.
type outboxItem struct {
	ConvID   string `json:"conv_id"`
	ClientID string `json:"client_id"`
	Epoch    int64  `json:"epoch"`
	Payload  []byte `json:"payload"`
	// The send options travel with the item so that a retry after a
	// restart keeps the priority and the acknowledgement request.
	Priority    string `json:"priority,omitempty"`
	AckRequired bool   `json:"ack_required,omitempty"`
	RemindAfter int    `json:"remind_after_s,omitempty"`
}

// OpenMessenger loads the device's profile and MLS state from st.
func OpenMessenger(ctx context.Context, st State) (*Messenger, error) {
	prof, err := LoadProfile(ctx, st)
	if err != nil {
		return nil, err
	}
	if prof == nil {
		return nil, wache.Errorf(wache.EUNAUTHORIZED, "not logged in")
	}
	c, err := New(prof.Server, prof.Token)
	if err != nil {
		return nil, err
	}
	m := &Messenger{API: c, st: st, prof: prof, Log: slog.New(slog.DiscardHandler),
		groups: map[string]mls.Group{}, seen: map[string]int64{}, held: map[string][]api.Envelope{}, dir: map[string]*api.DirectoryDevice{}}
	id := mls.Identity{UserEmail: prof.Email, DeviceID: prof.DeviceID, SigningKey: prof.SigningKey}
	opts := mls.Options{Validator: m.validate}
	raw, err := st.Load(ctx, keyEngine)
	if err != nil {
		return nil, err
	}
	if raw == nil {
		m.eng, err = mls.NewEngine(id, opts)
	} else {
		m.eng, err = mls.LoadEngine(id, raw, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("MLS state: %w", err)
	}
	if b, err := st.Load(ctx, keyInbox); err != nil {
		return nil, err
	} else if b != nil {
		if err := json.Unmarshal(b, &m.seen); err != nil {
			return nil, fmt.Errorf("inbox state is corrupt: %w", err)
		}
	}
	return m, nil
}

// Profile returns the device's profile.
func (m *Messenger) Profile() *Profile { return m.prof }

// validate is the authentication-service check of every MLS member: the
// credential must name a device the server vouches for, with this key,
// not revoked.
func (m *Messenger) validate(identity string, sigKey []byte) error {
	email, deviceID, err := mls.ParseCredentialIdentity(identity)
	if err != nil {
		return err
	}
	d, err := m.directory(deviceID)
	if err != nil {
		return fmt.Errorf("cannot verify %s: %w", identity, err)
	}
	switch {
	case d.Email != email:
		return fmt.Errorf("device %s belongs to %s, not %s", deviceID, d.Email, email)
	case !bytes.Equal(d.SigningKey, sigKey):
		return fmt.Errorf("device %s has a different key than the server vouches for", deviceID)
	case d.RevokedAt != nil:
		return fmt.Errorf("device %s was revoked", deviceID)
	}
	return nil
}

func (m *Messenger) directory(deviceID string) (*api.DirectoryDevice, error) {
	m.dirMu.Lock()
	d, ok := m.dir[deviceID]
	m.dirMu.Unlock()
	if ok {
		return d, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	d, err := m.API.DirectoryDevice(ctx, deviceID)
	if err != nil {
		return nil, err
	}
	if d.RevokedAt == nil { // revocations must be seen again
		m.dirMu.Lock()
		m.dir[deviceID] = d
		m.dirMu.Unlock()
	}
	return d, nil
}

func (m *Messenger) saveEngine(ctx context.Context) error {
	b, err := m.eng.ExportState()
	if err != nil {
		return err
	}
	return m.st.Save(ctx, keyEngine, b)
}

func (m *Messenger) saveGroup(ctx context.Context, convID string, g mls.Group) error {
	b, err := g.ExportState()
	if err != nil {
		return err
	}
	return m.st.Save(ctx, groupKey(convID), b)
}

func (m *Messenger) saveSeen(ctx context.Context) error {
	b, err := json.Marshal(m.seen)
	if err != nil {
		return err
	}
	return m.st.Save(ctx, keyInbox, b)
}

// groupLocked returns the conversation's group, loading it from state; nil
// when this device is not (yet) in it.
func (m *Messenger) groupLocked(ctx context.Context, convID string) (mls.Group, error) {
	if g, ok := m.groups[convID]; ok {
		return g, nil
	}
	b, err := m.st.Load(ctx, groupKey(convID))
	if err != nil || len(b) == 0 { // empty: removed from the group
		return nil, err
	}
	g, err := m.eng.LoadGroup(b)
	if err != nil {
		return nil, fmt.Errorf("load group %s: %w", convID, err)
	}
	m.groups[convID] = g
	return g, nil
}

// EnsureKeyPackages keeps at least min KeyPackages of this device on the
// server, so that others can add it to groups while it is offline.
func (m *Messenger) EnsureKeyPackages(ctx context.Context, min, batch int) error {
	n, err := m.API.KeyPackageCount(ctx)
	if err != nil || n >= min {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	kps, _, err := m.eng.NewKeyPackages(batch)
	if err != nil {
		return err
	}
	// Persist the private parts before anyone can use the public ones.
	if err := m.saveEngine(ctx); err != nil {
		return err
	}
	_, err = m.API.UploadKeyPackages(ctx, kps)
	return err
}

// CreateChat creates a conversation and its MLS group with every device of
// every member (those with KeyPackages on the server).
func (m *Messenger) CreateChat(ctx context.Context, req api.CreateConversationRequest) (*api.Conversation, error) {
	conv, err := m.API.CreateConversation(ctx, req)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if g, err := m.groupLocked(ctx, conv.ID); err != nil || g != nil {
		return conv, err // an existing direct chat
	}
	if conv.Existing {
		return conv, nil // the group comes with a Welcome
	}
	g, err := m.eng.CreateGroup([]byte(conv.ID))
	if err != nil {
		return nil, err
	}
	m.groups[conv.ID] = g
	if err := m.saveGroup(ctx, conv.ID, g); err != nil {
		return nil, err
	}
	if err := m.addUsersLocked(ctx, conv.ID, g, append(slices.Clone(req.Members), m.prof.Email)); err != nil {
		return conv, err
	}
	return conv, nil
}

// AddMember adds a colleague to a conversation and to its group.
func (m *Messenger) AddMember(ctx context.Context, convID, email, role string) error {
	if err := m.API.AddMember(ctx, convID, email, role); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	g, err := m.groupLocked(ctx, convID)
	if err != nil {
		return err
	}
	if g == nil {
		return wache.Errorf(wache.ECONFLICT, "this device is not in the conversation's encrypted group yet")
	}
	return m.addUsersLocked(ctx, convID, g, []string{email})
}

// addUsersLocked adds every device of the users that is not in the group.
func (m *Messenger) addUsersLocked(ctx context.Context, convID string, g mls.Group, emails []string) error {
	claim, err := m.API.ClaimKeyPackages(ctx, emails)
	if err != nil {
		return err
	}
	inGroup := map[string]bool{}
	for _, mem := range g.Members() {
		if _, dev, err := mls.ParseCredentialIdentity(mem.Identity); err == nil {
			inGroup[dev] = true
		}
	}
	var kps [][]byte
	var devices []string
	for _, kp := range claim.KeyPackages {
		if kp.DeviceID == m.prof.DeviceID || inGroup[kp.DeviceID] {
			continue
		}
		kps = append(kps, kp.KeyPackage)
		devices = append(devices, kp.DeviceID)
	}
	if len(claim.MissingDevices) > 0 {
		m.Log.Warn("devices without KeyPackages cannot join yet", "conv", convID, "devices", len(claim.MissingDevices))
	}
	if len(kps) == 0 {
		return nil
	}
	welcome, err := m.commitLocked(ctx, convID, g, func() ([]byte, []byte, error) { return g.AddMembers(kps) })
	if err != nil {
		return err
	}
	return m.postWelcome(ctx, convID, devices, welcome)
}

func (m *Messenger) postWelcome(ctx context.Context, convID string, devices []string, welcome []byte) error {
	msgs := make([]api.OutgoingDeviceMessage, len(devices))
	for i, d := range devices {
		msgs[i] = api.OutgoingDeviceMessage{DeviceID: d, Payload: welcome}
	}
	return m.API.PostWelcomes(ctx, convID, msgs)
}

// RemoveMember removes a colleague from the conversation and all of their
// devices from its group: they cannot read what is sent afterwards.
func (m *Messenger) RemoveMember(ctx context.Context, convID, email string) error {
	conv, err := m.API.Conversation(ctx, convID)
	if err != nil {
		return err
	}
	var userID string
	for _, mem := range conv.Members {
		if mem.Email == email {
			userID = mem.UserID
		}
	}
	if userID == "" {
		return wache.Errorf(wache.ENOTFOUND, "%s is not a member", email)
	}
	if conv.Role != string(wache.MemberAdmin) && email != m.prof.Email {
		return wache.Errorf(wache.EFORBIDDEN, "only admins of the conversation remove others")
	}
	// The MLS removal goes first, while the removed devices still receive
	// the conversation: they learn that they were removed.
	m.mu.Lock()
	g, err := m.groupLocked(ctx, convID)
	if err == nil && g != nil {
		err = m.removeLeavesLocked(ctx, convID, g, func(mail, _ string) bool { return mail == email })
	}
	m.mu.Unlock()
	if err != nil {
		return err
	}
	return m.API.RemoveMember(ctx, convID, userID)
}

func (m *Messenger) removeLeavesLocked(ctx context.Context, convID string, g mls.Group, match func(email, device string) bool) error {
	var ids []string
	for _, mem := range g.Members() {
		email, dev, err := mls.ParseCredentialIdentity(mem.Identity)
		if err == nil && dev != m.prof.DeviceID && match(email, dev) {
			ids = append(ids, mem.Identity)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	_, err := m.commitLocked(ctx, convID, g, func() ([]byte, []byte, error) {
		c, err := g.RemoveMembers(ids)
		return c, nil, err
	})
	return err
}

// commitLocked sends a commit for the group's epoch. If another member's
// commit won the epoch, it catches up and makes the change again.
func (m *Messenger) commitLocked(ctx context.Context, convID string, g mls.Group, make func() (commit, welcome []byte, err error)) ([]byte, error) {
	for attempt := 0; attempt < 8; attempt++ {
		commit, welcome, err := make()
		if err != nil {
			return nil, err // errNoChange included
		}
		// The pending commit must survive a crash between send and merge.
		if err := m.saveGroup(ctx, convID, g); err != nil {
			return nil, err
		}
		_, err = m.API.PostEnvelope(ctx, convID, api.PostEnvelopeRequest{ClientID: NewClientID(), Kind: string(wache.EnvCommit),
			Epoch: int64(g.Epoch()), Payload: commit})
		if err == nil {
			if err := g.MergePendingCommit(); err != nil {
				return nil, err
			}
			return welcome, m.saveGroup(ctx, convID, g)
		}
		switch wache.ErrorCode(err) {
		case wache.ECONFLICT, wache.EINVALID, wache.EFORBIDDEN, wache.ENOTFOUND, wache.ETOOLARGE, wache.EUNAUTHORIZED, wache.EREVOKED:
			// The server refused it: the commit never happened.
		default:
			// Outcome unknown (the link dropped after sending): keep the
			// pending commit. Its echo in the conversation merges it, or a
			// competing commit discards it (Group.Process decides).
			return nil, err
		}
		if derr := g.DiscardPendingCommit(); derr != nil {
			return nil, derr
		}
		if err := m.saveGroup(ctx, convID, g); err != nil {
			return nil, err
		}
		if wache.ErrorCode(err) != wache.ECONFLICT {
			return nil, err
		}
		// Lost the race: apply the winner, then try again on the new epoch.
		if err := m.catchUpLocked(ctx, convID); err != nil {
			return nil, err
		}
	}
	return nil, wache.Errorf(wache.EUNAVAILABLE, "the group changes too fast; try again")
}

// Send encrypts a payload for the conversation and sends it; it is kept in
// the outbox until the server acknowledges it.
func (m *Messenger) Send(ctx context.Context, convID string, p Payload) (*api.PostEnvelopeResponse, error) {
	return m.SendWith(ctx, convID, p, SendOptions{})
}

// SendWith is Send with a priority and an acknowledgement request.
func (m *Messenger) SendWith(ctx context.Context, convID string, p Payload, o SendOptions) (*api.PostEnvelopeResponse, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	b, err := EncodePayload(p)
	if err != nil {
		return nil, wache.Errorf(wache.EINVALID, "%s", err)
	}
	m.mu.Lock()
	g, err := m.groupLocked(ctx, convID)
	if err != nil {
		m.mu.Unlock()
		return nil, err
	}
	if g == nil {
		m.mu.Unlock()
		return nil, wache.Errorf(wache.ECONFLICT, "this device has not joined the conversation's encrypted group yet (waiting for an invitation)")
	}
	ct, err := g.Encrypt(b, nil)
	if err == nil {
		err = m.saveGroup(ctx, convID, g) // the sender ratchet moved: never reuse a key
	}
	item := outboxItem{ConvID: convID, ClientID: NewClientID(), Epoch: int64(g.Epoch()), Payload: ct,
		Priority: o.Priority, AckRequired: o.AckRequired, RemindAfter: o.remindSeconds()}
	if err == nil {
		err = m.outboxLocked(ctx, func(o []outboxItem) []outboxItem { return append(o, item) })
	}
	m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return m.deliver(ctx, item)
}

func (m *Messenger) deliver(ctx context.Context, it outboxItem) (*api.PostEnvelopeResponse, error) {
	res, err := m.API.PostEnvelope(ctx, it.ConvID, api.PostEnvelopeRequest{ClientID: it.ClientID, Kind: string(wache.EnvApp), Epoch: it.Epoch, Payload: it.Payload,
		Priority: it.Priority, AckRequired: it.AckRequired, RemindAfter: it.RemindAfter})
	// A caller's deadline is no refusal: the item stays for a later flush.
	if err != nil && (Retryable(err) || ctx.Err() != nil) {
		return nil, err // stays in the outbox
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if oerr := m.outboxLocked(ctx, func(o []outboxItem) []outboxItem {
		return slices.DeleteFunc(o, func(x outboxItem) bool { return x.ClientID == it.ClientID })
	}); oerr != nil && err == nil {
		err = oerr
	}
	return res, err
}

func (m *Messenger) outboxLocked(ctx context.Context, change func([]outboxItem) []outboxItem) error {
	var o []outboxItem
	if b, err := m.st.Load(ctx, keyOutbox); err != nil {
		return err
	} else if b != nil {
		if err := json.Unmarshal(b, &o); err != nil {
			return fmt.Errorf("outbox is corrupt: %w", err)
		}
	}
	b, err := json.Marshal(change(o))
	if err != nil {
		return err
	}
	return m.st.Save(ctx, keyOutbox, b)
}

// FlushOutbox sends what an earlier run could not; it returns how many
// items are still waiting.
func (m *Messenger) FlushOutbox(ctx context.Context) (int, error) {
	m.mu.Lock()
	var o []outboxItem
	err := m.outboxLocked(ctx, func(x []outboxItem) []outboxItem { o = x; return x })
	m.mu.Unlock()
	if err != nil {
		return 0, err
	}
	left := 0
	for _, it := range o {
		if _, err := m.deliver(ctx, it); err != nil {
			if Retryable(err) {
				left++
				continue
			}
			m.Log.Warn("outbox item refused", "conv", it.ConvID, "err", err)
		}
	}
	left += m.flushReceipts(ctx)
	if err := m.flushPendingAlarm(ctx); err != nil && Retryable(err) {
		left++
	}
	return left, nil
}

// Process implements Processor for Listen: it handles each envelope once.
func (m *Messenger) Process(ctx context.Context, env api.Envelope, _ func(api.Envelope) error) (bool, error) {
	m.mu.Lock()
	msg, err := m.processLocked(ctx, env)
	m.mu.Unlock()
	if err != nil {
		return false, err
	}
	if msg != nil && m.OnMessage != nil {
		m.OnMessage(*msg)
	}
	if msg != nil && msg.AckRequired {
		m.flushReceipts(ctx) // "delivered" goes out once the message is handed over
	}
	return msg != nil, nil
}

// processLocked applies one envelope to its group. Envelopes of a
// conversation this device has not joined yet are held (ErrHold).
//
// It is crash-consistent and idempotent: once g.Process has used an
// application message's key, everything that keeps the message (attachment
// reference, alarm sighting, receipt, the Record hook — each idempotent by
// conversation and seq) is written first, then the envelope counts as seen,
// and only then is the group state (with the key forgotten) saved. Until
// the cursor is written any failure drops the cached group, so the
// redelivered envelope meets the saved state, which still has the key. So a
// replay (ErrReplay) after the cursor is never our own redelivery: it is a
// ciphertext posted again and is shown as such. Commits save the group
// before the cursor; a redelivered commit has an epoch below the group's.
func (m *Messenger) processLocked(ctx context.Context, env api.Envelope) (*Message, error) {
	msg, err := m.processEnvLocked(ctx, env)
	if err != nil && !errors.Is(err, ErrHold) {
		// The memory may be ahead of the store (a ratchet that moved, a
		// commit merged): start the next attempt from what was saved.
		delete(m.groups, env.ConvID)
		return nil, err
	}
	return msg, err
}

// processTimeout bounds the writes that follow a decryption. They run on
// a context a reconnect does not cancel: stopping half-way would leave a
// used key with nothing kept.
const processTimeout = 30 * time.Second

func (m *Messenger) processEnvLocked(ctx context.Context, env api.Envelope) (*Message, error) {
	if env.Seq <= m.seen[env.ConvID] {
		return nil, nil
	}
	g, err := m.groupLocked(ctx, env.ConvID)
	if err != nil {
		return nil, err
	}
	if g == nil {
		held := m.held[env.ConvID]
		if !slices.ContainsFunc(held, func(e api.Envelope) bool { return e.Seq == env.Seq }) && len(held) < 10000 {
			m.held[env.ConvID] = append(held, env)
		}
		return nil, ErrHold
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), processTimeout)
	defer cancel()
	var msg *Message
	switch {
	case env.Kind == string(wache.EnvCommit) && uint64(env.Epoch) < g.Epoch():
		// Made before this device joined, or our own, already merged, or
		// applied and saved by an attempt that failed before marking it.
	case env.Kind == string(wache.EnvCommit):
		res, err := g.Process(env.Payload)
		if errors.Is(err, mls.ErrReplay) {
			m.Log.Debug("commit applied before", "conv", env.ConvID, "seq", env.Seq)
			break
		}
		if err != nil {
			m.Log.Warn("commit not applied", "conv", env.ConvID, "seq", env.Seq, "err", err)
			break
		}
		if res.SelfRemoved {
			delete(m.groups, env.ConvID)
			if err := m.st.Save(ctx, groupKey(env.ConvID), nil); err != nil {
				return nil, err
			}
			break
		}
		if err := m.saveGroup(ctx, env.ConvID, g); err != nil {
			return nil, err
		}
	default:
		msg = &Message{ConvID: env.ConvID, Seq: env.Seq, SenderID: env.SenderID, SenderDevice: env.SenderDevice, Time: env.CreatedAt,
			Priority: env.Priority, AckRequired: env.AckRequired}
		res, err := g.Process(env.Payload)
		switch {
		case errors.Is(err, mls.ErrOwnMessage):
			return nil, m.markLocked(ctx, env)
		case err != nil:
			msg.Undecryptable = undecryptable(err)
		case res.Kind != mls.KindApplication:
			msg = nil
		default:
			msg.Epoch = res.Epoch
			msg.SenderEmail, _, _ = mls.ParseCredentialIdentity(res.Sender.Identity)
			msg.Payload = DecodePayload(res.Plaintext)
			if a := msg.Payload.Attachment; a != nil {
				// Kept (encrypted at rest) so that the file can be fetched later.
				b, _ := json.Marshal(a)
				if err := m.st.Save(ctx, attachmentKey(env.ConvID, env.Seq), b); err != nil {
					return nil, err
				}
			}
			if err := m.recordAlarmLocked(ctx, msg); err != nil {
				return nil, err
			}
		}
		if msg != nil && msg.AckRequired && msg.SenderID != m.prof.UserID {
			// "Delivered" is this device's answer to the sender's request,
			// also when it cannot read the message.
			if err := m.queueReceiptLocked(ctx, env.ConvID, env.Seq, api.ReceiptDelivered); err != nil {
				return nil, err
			}
		}
		if msg != nil && m.Record != nil {
			if err := m.Record(ctx, *msg); err != nil {
				return nil, err
			}
		}
		if err := m.markLocked(ctx, env); err != nil {
			return nil, err
		}
		if err == nil {
			// Only now may the used key be forgotten for good. The message
			// is kept and counted: a failed save leaves the stored group
			// behind the one in memory, which later messages ratchet past.
			if err := m.saveGroup(ctx, env.ConvID, g); err != nil {
				m.Log.Warn("group state not saved", "conv", env.ConvID, "seq", env.Seq, "err", err)
			}
		}
		return msg, nil
	}
	return msg, m.markLocked(ctx, env)
}

func (m *Messenger) markLocked(ctx context.Context, env api.Envelope) error {
	prev, had := m.seen[env.ConvID]
	m.seen[env.ConvID] = env.Seq
	if err := m.saveSeen(ctx); err != nil {
		// Not seen after all: the redelivery comes through and is
		// decrypted again from the saved group (processLocked).
		if had {
			m.seen[env.ConvID] = prev
		} else {
			delete(m.seen, env.ConvID)
		}
		return err
	}
	return nil
}

func undecryptable(err error) string {
	switch {
	case errors.Is(err, mls.ErrWrongEpoch):
		return "sent in an epoch this device does not have (before it joined, or after it was removed)"
	case errors.Is(err, mls.ErrDecrypt), errors.Is(err, mls.ErrForged):
		return "could not be decrypted: tampered with or not meant for this device"
	case errors.Is(err, mls.ErrReplay):
		return "replayed message"
	}
	return "could not be read: " + err.Error()
}

// HandleDeviceMessage joins a group from a Welcome, then processes what was
// held for it. Returning nil deletes the item on the server.
func (m *Messenger) HandleDeviceMessage(ctx context.Context, dm api.DeviceMessage) error {
	m.mu.Lock()
	var msgs []Message
	err := m.joinLocked(ctx, dm, &msgs)
	m.mu.Unlock()
	for _, msg := range msgs {
		if m.OnMessage != nil {
			m.OnMessage(msg)
		}
	}
	return err
}

func (m *Messenger) joinLocked(ctx context.Context, dm api.DeviceMessage, out *[]Message) error {
	if dm.Kind != "welcome" {
		return nil
	}
	if g, err := m.groupLocked(ctx, dm.ConvID); err != nil || g != nil {
		return err // already in the group
	}
	g, err := m.eng.JoinFromWelcome(dm.Payload)
	if err != nil {
		// Not for this device, refused credentials or garbage: drop it; a
		// member can invite this device again.
		m.Log.Warn("welcome refused", "conv", dm.ConvID, "err", err)
		return nil
	}
	if string(g.ID()) != dm.ConvID {
		m.Log.Warn("welcome for another group refused", "conv", dm.ConvID)
		return nil
	}
	// The group is saved before the engine (whose KeyPackage secret the
	// Welcome used): if either write fails, the Welcome stays on the
	// server and the next attempt joins again or finds the saved group.
	if err := m.saveGroup(ctx, dm.ConvID, g); err != nil {
		// The engine in memory forgot the KeyPackage secret; the saved
		// one still has it, so the redelivered Welcome can be used.
		if rerr := m.reloadEngineLocked(ctx); rerr != nil {
			m.Log.Warn("reload MLS state after a failed join", "err", rerr)
		}
		return err
	}
	m.groups[dm.ConvID] = g
	if err := m.saveEngine(ctx); err != nil {
		return err
	}
	held := m.held[dm.ConvID]
	delete(m.held, dm.ConvID)
	slices.SortFunc(held, func(a, b api.Envelope) int { return int(a.Seq - b.Seq) })
	var last int64
	for _, env := range held {
		msg, err := m.processLocked(ctx, env)
		if err != nil {
			return err
		}
		last = env.Seq
		if msg != nil {
			*out = append(*out, *msg)
		}
	}
	if last > 0 {
		return m.API.Ack(ctx, dm.ConvID, last)
	}
	return nil
}

// reloadEngineLocked replaces the MLS engine in memory by the saved one.
func (m *Messenger) reloadEngineLocked(ctx context.Context) error {
	raw, err := m.st.Load(ctx, keyEngine)
	if err != nil || raw == nil {
		return err
	}
	id := mls.Identity{UserEmail: m.prof.Email, DeviceID: m.prof.DeviceID, SigningKey: m.prof.SigningKey}
	eng, err := mls.LoadEngine(id, raw, mls.Options{Validator: m.validate})
	if err != nil {
		return err
	}
	m.eng = eng
	return nil
}

// catchUpLocked fetches and applies everything of a conversation after
// what this device processed (to learn a winning commit).
func (m *Messenger) catchUpLocked(ctx context.Context, convID string) error {
	for {
		envs, err := m.API.Envelopes(ctx, convID, m.seen[convID], 200)
		if err != nil {
			return err
		}
		for _, env := range envs {
			msg, err := m.processLocked(ctx, env)
			if err != nil {
				return err
			}
			if msg != nil && m.OnMessage != nil {
				m.OnMessage(*msg)
			}
		}
		if len(envs) > 0 {
			if err := m.API.Ack(ctx, convID, envs[len(envs)-1].Seq); err != nil {
				return err
			}
		}
		if len(envs) < 200 {
			return nil
		}
	}
}

// Sync fetches pending Welcomes and everything new in a conversation,
// handing messages to OnMessage (the CLI's `read`).
func (m *Messenger) Sync(ctx context.Context, convID string) error {
	dms, err := m.API.DeviceMessages(ctx)
	if err != nil {
		return err
	}
	for _, dm := range dms {
		if err := m.HandleDeviceMessage(ctx, dm); err != nil {
			return err
		}
		if err := m.API.AckDeviceMessage(ctx, dm.ID); err != nil {
			return err
		}
	}
	m.mu.Lock()
	g, err := m.groupLocked(ctx, convID)
	if err == nil && g == nil {
		err = wache.Errorf(wache.ECONFLICT, "this device has not joined the conversation's encrypted group yet (waiting for an invitation)")
	}
	if err == nil {
		err = m.catchUpLocked(ctx, convID)
	}
	m.mu.Unlock()
	if err == nil {
		m.flushReceipts(ctx)
	}
	return err
}

// Listen streams live: Welcomes join groups, envelopes are decrypted and
// handed to OnMessage, each exactly once.
// After each (re)connect it reconciles the groups with the server's view
// of devices, and again every ReconcileEvery.
func (m *Messenger) Listen(ctx context.Context, h ListenHandler) error {
	h.Envelope = func(context.Context, api.Envelope) error { return nil }
	h.DeviceMessage = m.HandleDeviceMessage
	kick := make(chan struct{}, 1)
	synced := h.Synced
	h.Synced = func() {
		select {
		case kick <- struct{}{}:
		default:
		}
		if synced != nil {
			synced()
		}
	}
	go func() {
		t := time.NewTicker(ReconcileEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-kick:
			case <-t.C:
			}
			if err := m.ReconcileAll(ctx); err != nil && ctx.Err() == nil {
				m.Log.Warn("reconcile groups", "err", err)
			}
		}
	}()
	return m.API.Listen(ctx, m, h)
}

// ReconcileEvery is how often a listening device checks its groups
// against the server's devices.
var ReconcileEvery = 5 * time.Minute

// Group returns the MLS view of a conversation (nil before joining).
func (m *Messenger) Group(ctx context.Context, convID string) (mls.Group, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.groupLocked(ctx, convID)
}
