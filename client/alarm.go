package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
)

// SendOptions ask for a priority and an acknowledgement. The server sees
// both (it must, to remind and to count); the content stays encrypted.
type SendOptions struct {
	Priority    string        // api.PriorityNormal, PriorityUrgent or PriorityAlarm
	AckRequired bool          // recipients are asked to acknowledge ("Quittieren")
	RemindAfter time.Duration // reminder interval; 0: the server's default
}

// Validate checks the options before anything is encrypted.
func (o SendOptions) Validate() error {
	switch o.Priority {
	case api.PriorityNormal, api.PriorityUrgent, api.PriorityAlarm:
	default:
		return wache.Errorf(wache.EINVALID, "priority must be urgent or alarm (or empty for normal)")
	}
	if o.RemindAfter != 0 {
		if !o.AckRequired {
			return wache.Errorf(wache.EINVALID, "a reminder interval needs an acknowledgement request")
		}
		if s := o.RemindAfter / time.Second; s < api.RemindMinSeconds || s > api.RemindMaxSeconds {
			return wache.Errorf(wache.EINVALID, "the reminder interval must be between %ds and %ds", api.RemindMinSeconds, api.RemindMaxSeconds)
		}
	}
	return nil
}

func (o SendOptions) remindSeconds() int { return int(o.RemindAfter / time.Second) }

// Receipts. "Delivered" is posted by the client core itself when it
// processes an ack-required message; "read" when the user interface shows
// it (MarkRead); "acknowledged" when the user confirms (Acknowledge).
// Pending receipts are kept in the state and retried, so a dropped link
// does not lose them.

const (
	keyReceipts     = "receipts_pending"
	maxPendingRcpts = 2000
)

type pendingReceipt struct {
	ConvID string `json:"c"`
	Seq    int64  `json:"s"`
	State  string `json:"st"`
}

func (m *Messenger) receiptsLocked(ctx context.Context, change func([]pendingReceipt) []pendingReceipt) ([]pendingReceipt, error) {
	var q []pendingReceipt
	if b, err := m.st.Load(ctx, keyReceipts); err != nil {
		return nil, err
	} else if b != nil {
		if err := json.Unmarshal(b, &q); err != nil {
			q = nil // a corrupt queue loses receipts, never messages
		}
	}
	if change == nil {
		return q, nil
	}
	q = change(q)
	if len(q) > maxPendingRcpts { // the oldest go first; the server reminds anyway
		q = q[len(q)-maxPendingRcpts:]
	}
	b, err := json.Marshal(q)
	if err != nil {
		return nil, err
	}
	return q, m.st.Save(ctx, keyReceipts, b)
}

func (m *Messenger) queueReceiptLocked(ctx context.Context, convID string, seq int64, state string) error {
	r := pendingReceipt{ConvID: convID, Seq: seq, State: state}
	_, err := m.receiptsLocked(ctx, func(q []pendingReceipt) []pendingReceipt {
		if slices.Contains(q, r) {
			return q
		}
		return append(q, r)
	})
	return err
}

// flushReceipts posts the queued receipts; it returns how many are left.
func (m *Messenger) flushReceipts(ctx context.Context) int {
	m.mu.Lock()
	q, err := m.receiptsLocked(ctx, nil)
	m.mu.Unlock()
	if err != nil || len(q) == 0 {
		return len(q)
	}
	var done []pendingReceipt
	left := 0
	for _, r := range q {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := m.API.PostReceipt(rctx, r.ConvID, r.Seq, r.State)
		cancel()
		if err != nil && (Retryable(err) || ctx.Err() != nil) {
			left++
			continue
		}
		if err != nil {
			// Refused for good (closed, not ack-required, no longer a
			// member): there is nothing to retry.
			m.Log.Debug("receipt refused", "conv", r.ConvID, "seq", r.Seq, "err", err)
		}
		done = append(done, r)
	}
	if len(done) > 0 {
		m.mu.Lock()
		_, err = m.receiptsLocked(ctx, func(q []pendingReceipt) []pendingReceipt {
			return slices.DeleteFunc(q, func(r pendingReceipt) bool { return slices.Contains(done, r) })
		})
		m.mu.Unlock()
		if err != nil {
			m.Log.Warn("save receipt queue", "err", err)
		}
	}
	return left
}

// MarkRead records that the user has seen an ack-required message; call it
// when the message is shown. Other messages need nothing.
func (m *Messenger) MarkRead(ctx context.Context, msg Message) error {
	if !msg.AckRequired || msg.SenderID == m.prof.UserID {
		return nil
	}
	m.mu.Lock()
	err := m.queueReceiptLocked(ctx, msg.ConvID, msg.Seq, api.ReceiptRead)
	m.mu.Unlock()
	if err != nil {
		return err
	}
	m.flushReceipts(ctx)
	return nil
}

// Acknowledge confirms an ack-required message ("Quittieren"). Unlike the
// automatic receipts it reports failure, since the user is waiting for it.
func (m *Messenger) Acknowledge(ctx context.Context, convID string, seq int64) error {
	if seq <= 0 {
		return wache.Errorf(wache.EINVALID, "message number must be positive")
	}
	b := Backoff{Min: 200 * time.Millisecond, Max: 5 * time.Second}
	for {
		err := m.API.PostReceipt(ctx, convID, seq, api.ReceiptAcknowledged)
		if err == nil || !Retryable(err) || wache.ErrorCode(err) == wache.ERATELIMIT {
			return err
		}
		if werr := b.Wait(ctx); werr != nil {
			return fmt.Errorf("%w (last error: %v)", werr, err)
		}
	}
}

// Alarm sightings: what this device decrypted about alarms (note and last
// known position per alarm), kept so that a dispatch view can show
// positions next to the server's alarm state.

const (
	keyAlarmSightings = "alarm_sightings"
	maxSightings      = 256
)

// AlarmSighting is what this device read about one alarm.
type AlarmSighting struct {
	Ref         string    `json:"ref"` // the alarm's client id (SOS) or server id (live updates)
	SenderID    string    `json:"sender_id"`
	SenderEmail string    `json:"sender_email"`
	ConvID      string    `json:"conv_id"`
	Note        string    `json:"note,omitempty"`
	Location    *Location `json:"location,omitempty"` // the last known position
	Updates     int       `json:"updates"`
	Stopped     bool      `json:"stopped,omitempty"`
	LastAt      time.Time `json:"last_at"`
}

func (m *Messenger) sightingsLocked(ctx context.Context) (map[string]*AlarmSighting, error) {
	s := map[string]*AlarmSighting{}
	b, err := m.st.Load(ctx, keyAlarmSightings)
	if err != nil || b == nil {
		return s, err
	}
	if json.Unmarshal(b, &s) != nil {
		return map[string]*AlarmSighting{}, nil
	}
	return s, nil
}

// recordAlarmLocked keeps what an alarm or alarm-linked live position says.
func (m *Messenger) recordAlarmLocked(ctx context.Context, msg *Message) error {
	p := msg.Payload
	var ref string
	switch {
	case p.Type == TypeAlarm && p.Alarm != nil:
		ref = p.Alarm.ClientID
	case (p.Type == TypeLiveLocation || p.Type == TypeLiveStop) && p.AlarmID != "":
		ref = p.AlarmID
	default:
		return nil
	}
	s, err := m.sightingsLocked(ctx)
	if err != nil {
		return err
	}
	key := msg.SenderID + "/" + ref // another member cannot overwrite the raiser's entry
	e := s[key]
	if e == nil {
		e = &AlarmSighting{Ref: ref, SenderID: msg.SenderID, SenderEmail: msg.SenderEmail, ConvID: msg.ConvID}
		s[key] = e
	}
	switch p.Type {
	case TypeAlarm:
		e.Note = p.Alarm.Note
		if p.Alarm.Location != nil && (e.Location == nil || !p.Alarm.Location.Time.Before(e.Location.Time)) {
			e.Location = p.Alarm.Location
		}
	case TypeLiveLocation:
		// The same update arrives once per alarm conversation this device
		// is in: only a newer fix counts.
		if e.Location == nil || p.Location.Time.After(e.Location.Time) {
			e.Location = p.Location
			e.Updates++
		}
	case TypeLiveStop:
		e.Stopped = true
	}
	e.LastAt = msg.Time
	if len(s) > maxSightings {
		keys := make([]string, 0, len(s))
		for k := range s {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b string) int { return s[a].LastAt.Compare(s[b].LastAt) })
		for _, k := range keys[:len(s)-maxSightings] {
			delete(s, k)
		}
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return m.st.Save(ctx, keyAlarmSightings, b)
}

// AlarmContent returns what this device decrypted about an alarm: the
// note of the SOS and the newest position of its raiser (from the SOS or
// the live updates), or nil if it read nothing about it. Only messages
// sent by the raiser count.
func (m *Messenger) AlarmContent(ctx context.Context, a *api.Alarm) (*AlarmSighting, error) {
	m.mu.Lock()
	s, err := m.sightingsLocked(ctx)
	m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	sos, live := s[a.RaisedBy+"/"+a.ClientID], s[a.RaisedBy+"/"+a.ID]
	if sos == nil && live == nil {
		return nil, nil
	}
	out := &AlarmSighting{Ref: a.ID, SenderID: a.RaisedBy, SenderEmail: a.RaisedByEmail}
	for _, e := range []*AlarmSighting{sos, live} {
		if e == nil {
			continue
		}
		if e.Note != "" {
			out.Note = e.Note
		}
		if e.Location != nil && (out.Location == nil || e.Location.Time.After(out.Location.Time)) {
			out.Location = e.Location
		}
		out.Updates += e.Updates
		out.Stopped = out.Stopped || e.Stopped
		if e.LastAt.After(out.LastAt) {
			out.LastAt, out.ConvID = e.LastAt, e.ConvID
		}
	}
	return out, nil
}

// Raising an alarm.

const (
	keyPendingAlarm = "alarm_pending"
	keyActiveAlarm  = "alarm_active"
	// pendingAlarmTTL: an unconfirmed SOS older than this is not sent
	// again (its position is stale); the next press makes a fresh one.
	pendingAlarmTTL = 10 * time.Minute
)

type pendingAlarm struct {
	Req     api.RaiseAlarmRequest `json:"req"`
	Info    AlarmInfo             `json:"info"`
	Created time.Time             `json:"created"`
	EscConv string                `json:"esc_conv,omitempty"`
	EscEp   int64                 `json:"esc_epoch,omitempty"`
}

// ActiveAlarm is what the raising device keeps about its own alarm: enough
// to send live positions and to re-encrypt the held escalation message.
type ActiveAlarm struct {
	AlarmID          string    `json:"alarm_id"`
	ClientID         string    `json:"client_id"`
	Info             AlarmInfo `json:"info"`
	ConvIDs          []string  `json:"conv_ids"`
	EscalationConvID string    `json:"escalation_conv_id,omitempty"`
	EscalationEpoch  int64     `json:"escalation_epoch,omitempty"` // epoch of the held ciphertext
	Escalated        bool      `json:"escalated,omitempty"`
	UpdateSeconds    int       `json:"update_seconds"`
}

// SOS is what the officer gives when pressing the button.
type SOS struct {
	Note     string
	Location *Location // nil without a position fix
}

// Validate checks an SOS before anything is encrypted or sent.
func (s SOS) Validate() error {
	if !utf8.ValidString(s.Note) || len(s.Note) > MaxAlarmNote {
		return wache.Errorf(wache.EINVALID, "the note must be valid UTF-8 of at most %d bytes", MaxAlarmNote)
	}
	if s.Location != nil {
		if err := ValidateLocation(s.Location); err != nil {
			return wache.Errorf(wache.EINVALID, "position refused: %s", err)
		}
	}
	return nil
}

// RaiseSOS raises an alarm: it encrypts the SOS for the unit's alarm group,
// the dispatch group and (held by the server until escalation) the
// escalation group, each in its current epoch, and sends one request. The
// request is kept in the state until the server confirms it and is sent
// again unchanged (same client id) by the next press or FlushOutbox, so a
// dropped link or a restart never raises two alarms. A device with an
// active alarm gets that alarm back (Duplicate).
func (m *Messenger) RaiseSOS(ctx context.Context, s SOS) (*api.Alarm, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if a, err := m.sendPendingAlarm(ctx); a != nil || err != nil {
		return a, err
	}
	// A device that has not listened since it was invited (a CLI run)
	// joins its groups first.
	if err := m.joinPending(ctx); err != nil {
		return nil, err
	}
	pol, err := m.API.AlarmPolicy(ctx)
	if err != nil {
		if wache.ErrorCode(err) == wache.ENOTFOUND {
			return nil, wache.Errorf(wache.EINVALID, "no alarm policy for your unit; ask an administrator (wache alarms policy set)")
		}
		return nil, err
	}
	info := AlarmInfo{ClientID: NewClientID(), Kind: AlarmKindSOS, Note: s.Note, Location: s.Location}
	for attempt := 0; ; attempt++ {
		pa, err := m.encryptAlarm(ctx, pol, info)
		if err != nil {
			return nil, err
		}
		a, err := m.postAlarm(ctx, pa, pol.UpdateSeconds)
		// A commit between catching up and posting makes the server refuse
		// the stale epoch: catch up and encrypt again (same client id).
		if wache.ErrorCode(err) == wache.ECONFLICT && attempt < 3 {
			continue
		}
		return a, err
	}
}

// joinPending processes this device's waiting Welcomes.
func (m *Messenger) joinPending(ctx context.Context) error {
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
	return nil
}

// encryptAlarm makes the alarm request and stores it as pending.
func (m *Messenger) encryptAlarm(ctx context.Context, pol *api.AlarmPolicy, info AlarmInfo) (*pendingAlarm, error) {
	b, err := EncodePayload(Payload{V: 1, Type: TypeAlarm, Alarm: &info})
	if err != nil {
		return nil, wache.Errorf(wache.EINVALID, "%s", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	pa := &pendingAlarm{Req: api.RaiseAlarmRequest{ClientID: info.ClientID}, Info: info, Created: time.Now().UTC()}
	encrypt := func(convID string) (*api.AlarmEnvelope, error) {
		g, err := m.groupLocked(ctx, convID)
		if err != nil || g == nil {
			return nil, err
		}
		// Encrypt for the epoch the other members are in.
		if err := m.catchUpLocked(ctx, convID); err != nil {
			return nil, err
		}
		if g, err = m.groupLocked(ctx, convID); err != nil || g == nil {
			return nil, err
		}
		ct, err := g.Encrypt(b, nil)
		if err != nil {
			return nil, fmt.Errorf("encrypt the alarm for %s: %w", convID, err)
		}
		if err := m.saveGroup(ctx, convID, g); err != nil {
			return nil, err
		}
		return &api.AlarmEnvelope{ConvID: convID, ClientID: NewClientID(), Epoch: int64(g.Epoch()), Payload: ct}, nil
	}
	for i, convID := range []string{pol.AlarmConvID, pol.DispatchConvID} {
		if convID == "" || slices.ContainsFunc(pa.Req.Envelopes, func(e api.AlarmEnvelope) bool { return e.ConvID == convID }) {
			continue
		}
		e, err := encrypt(convID)
		if err != nil {
			return nil, err
		}
		if e == nil {
			if i == 0 {
				return nil, wache.Errorf(wache.ECONFLICT, "this device has not joined your unit's alarm group yet (waiting for an invitation)")
			}
			m.Log.Warn("not in the dispatch group's encrypted group; the alarm goes to the alarm group only", "conv", convID)
			continue
		}
		pa.Req.Envelopes = append(pa.Req.Envelopes, *e)
	}
	if c := pol.EscalationConvID; c != "" {
		e, err := encrypt(c)
		if err != nil {
			return nil, err
		}
		if e == nil {
			m.Log.Warn("not in the escalation group's encrypted group; escalation will carry no content", "conv", c)
		} else {
			pa.Req.Escalation = e
			pa.EscConv, pa.EscEp = c, e.Epoch
		}
	}
	raw, err := json.Marshal(pa)
	if err != nil {
		return nil, err
	}
	return pa, m.st.Save(ctx, keyPendingAlarm, raw)
}

// postAlarm sends the alarm request, retrying transient failures until
// ctx ends; the pending request stays for a later press if it never got
// through.
func (m *Messenger) postAlarm(ctx context.Context, pa *pendingAlarm, updateSeconds int) (*api.Alarm, error) {
	b := Backoff{Min: 200 * time.Millisecond, Max: 5 * time.Second}
	for {
		a, err := m.API.RaiseAlarm(ctx, pa.Req)
		if err == nil {
			return a, m.alarmRaised(ctx, pa, a, updateSeconds)
		}
		// The rate limit is an answer, not a failure of the link. An HTTP
		// timeout while the caller still waits is a failure of the link:
		// the same request again is safe (same client ids).
		retry := Retryable(err) || (wache.ErrorCode(err) == wache.EUNAVAILABLE && ctx.Err() == nil)
		if !retry || wache.ErrorCode(err) == wache.ERATELIMIT {
			m.mu.Lock()
			derr := m.st.Save(ctx, keyPendingAlarm, nil)
			m.mu.Unlock()
			return nil, errors.Join(err, derr)
		}
		if werr := b.Wait(ctx); werr != nil {
			return nil, wache.Errorf(wache.EUNAVAILABLE, "the alarm could not be sent yet; it is kept and sent again by the next SOS press (%v)", err)
		}
	}
}

func (m *Messenger) alarmRaised(ctx context.Context, pa *pendingAlarm, a *api.Alarm, updateSeconds int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.st.Save(ctx, keyPendingAlarm, nil); err != nil {
		return err
	}
	if a.Duplicate && a.ClientID != pa.Req.ClientID {
		return nil // an earlier alarm of this device is still active; its record stays
	}
	if updateSeconds <= 0 {
		updateSeconds = api.AlarmUpdateDefaultSeconds
	}
	act := ActiveAlarm{AlarmID: a.ID, ClientID: a.ClientID, Info: pa.Info, ConvIDs: a.ConvIDs,
		EscalationConvID: pa.EscConv, EscalationEpoch: pa.EscEp, UpdateSeconds: updateSeconds}
	raw, err := json.Marshal(act)
	if err != nil {
		return err
	}
	return m.st.Save(ctx, keyActiveAlarm, raw)
}

// sendPendingAlarm sends an unconfirmed earlier SOS again; nil, nil when
// there is none (or it is too old to matter).
func (m *Messenger) sendPendingAlarm(ctx context.Context) (*api.Alarm, error) {
	m.mu.Lock()
	raw, err := m.st.Load(ctx, keyPendingAlarm)
	m.mu.Unlock()
	if err != nil || len(raw) == 0 {
		return nil, err
	}
	var pa pendingAlarm
	if json.Unmarshal(raw, &pa) != nil || time.Since(pa.Created) > pendingAlarmTTL {
		m.mu.Lock()
		defer m.mu.Unlock()
		return nil, m.st.Save(ctx, keyPendingAlarm, nil)
	}
	a, err := m.postAlarm(ctx, &pa, 0)
	if err != nil && !Retryable(err) && wache.ErrorCode(err) != wache.EUNAVAILABLE {
		// Refused (e.g. a stale epoch): the caller makes a fresh one.
		m.Log.Warn("earlier SOS refused; raising a new one", "err", err)
		return nil, nil
	}
	return a, err
}

func (m *Messenger) flushPendingAlarm(ctx context.Context) error {
	_, err := m.sendPendingAlarm(ctx)
	return err
}

// ActiveAlarm returns this device's own alarm as it last knew it (nil if
// none). The server's state is authoritative: see Client.Alarm.
func (m *Messenger) ActiveAlarm(ctx context.Context) (*ActiveAlarm, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	raw, err := m.st.Load(ctx, keyActiveAlarm)
	if err != nil || len(raw) == 0 {
		return nil, err
	}
	var a ActiveAlarm
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, nil
	}
	return &a, nil
}

func (m *Messenger) saveActiveLocked(ctx context.Context, a *ActiveAlarm) error {
	if a == nil {
		return m.st.Save(ctx, keyActiveAlarm, nil)
	}
	raw, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return m.st.Save(ctx, keyActiveAlarm, raw)
}

// alarmConvs are the conversations live positions of an alarm go to: the
// alarm's conversations, and the escalation group once it was released.
func alarmConvs(a *api.Alarm) []string {
	convs := slices.Clone(a.ConvIDs)
	if a.EscalationConvID != "" && (a.State == api.AlarmEscalated || a.EscalatedAt != nil) && !slices.Contains(convs, a.EscalationConvID) {
		convs = append(convs, a.EscalationConvID)
	}
	return convs
}

// SendAlarmPosition sends one live position of the raiser to every
// conversation of the alarm. Positions out of range are refused before
// anything is encrypted. It returns how many conversations got it.
func (m *Messenger) SendAlarmPosition(ctx context.Context, a *api.Alarm, loc Location) (int, error) {
	if err := ValidateLocation(&loc); err != nil {
		return 0, wache.Errorf(wache.EINVALID, "position refused: %s", err)
	}
	if !AlarmActive(a.State) {
		return 0, wache.Errorf(wache.ECONFLICT, "the alarm has ended")
	}
	p := Payload{V: 1, Type: TypeLiveLocation, Location: &loc, AlarmID: a.ID}
	return m.sendToAlarm(ctx, a, p)
}

// StopAlarmPositions tells the alarm's conversations that no more live
// positions follow.
func (m *Messenger) StopAlarmPositions(ctx context.Context, a *api.Alarm) error {
	x := *a
	x.State = api.AlarmRaised // the convs of the alarm as it was, not its final state
	_, err := m.sendToAlarm(ctx, &x, Payload{V: 1, Type: TypeLiveStop, AlarmID: a.ID})
	return err
}

func (m *Messenger) sendToAlarm(ctx context.Context, a *api.Alarm, p Payload) (int, error) {
	sent := 0
	var errs []error
	for _, c := range alarmConvs(a) {
		g, err := m.Group(ctx, c)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if g == nil {
			continue // e.g. the dispatch group this device is not in
		}
		if _, err := m.Send(ctx, c, p); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c, err))
			continue
		}
		sent++
	}
	return sent, errors.Join(errs...)
}

// RefreshEscalation re-encrypts the held escalation message when the
// escalation group's epoch moved on since the alarm was raised (a member
// joined or left): the held ciphertext would be unreadable after release.
// Only the raising device can do this, only while the alarm is raised.
func (m *Messenger) RefreshEscalation(ctx context.Context, a *api.Alarm) (bool, error) {
	act, err := m.ActiveAlarm(ctx)
	if err != nil || act == nil || act.AlarmID != a.ID || act.EscalationConvID == "" || a.State != api.AlarmRaised {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	g, err := m.groupLocked(ctx, act.EscalationConvID)
	if err != nil || g == nil {
		return false, err
	}
	if err := m.catchUpLocked(ctx, act.EscalationConvID); err != nil {
		return false, err
	}
	if g, err = m.groupLocked(ctx, act.EscalationConvID); err != nil || g == nil || int64(g.Epoch()) == act.EscalationEpoch {
		return false, err
	}
	b, err := EncodePayload(Payload{V: 1, Type: TypeAlarm, Alarm: &act.Info})
	if err != nil {
		return false, err
	}
	ct, err := g.Encrypt(b, nil)
	if err != nil {
		return false, err
	}
	if err := m.saveGroup(ctx, act.EscalationConvID, g); err != nil {
		return false, err
	}
	e := api.AlarmEnvelope{ConvID: act.EscalationConvID, ClientID: NewClientID(), Epoch: int64(g.Epoch()), Payload: ct}
	if _, err := m.API.ReplaceEscalation(ctx, a.ID, e); err != nil {
		return false, err
	}
	act.EscalationEpoch = e.Epoch
	return true, m.saveActiveLocked(ctx, act)
}

// EndAlarm ends an alarm on the server and, for the device's own alarm,
// stops its live positions.
func (m *Messenger) EndAlarm(ctx context.Context, alarmID string, falseAlarm bool) (*api.Alarm, error) {
	a, err := m.API.EndAlarm(ctx, alarmID, falseAlarm)
	if err != nil {
		return nil, err
	}
	return a, m.FinishAlarm(ctx, a)
}

// FinishAlarm, for this device's own alarm once it has ended (here or by
// dispatch), sends the end of the live positions and forgets the alarm.
func (m *Messenger) FinishAlarm(ctx context.Context, a *api.Alarm) error {
	act, err := m.ActiveAlarm(ctx)
	if err != nil || act == nil || act.AlarmID != a.ID {
		return err
	}
	if err := m.StopAlarmPositions(ctx, a); err != nil {
		m.Log.Warn("live stop not sent", "alarm", a.ID, "err", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.saveActiveLocked(ctx, nil)
}
