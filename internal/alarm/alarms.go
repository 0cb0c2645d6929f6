package alarm

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
	"github.com/wache/wache/internal/accounts"
	"github.com/wache/wache/internal/relay"
	"github.com/wache/wache/internal/store/sqldb"
)

// Conversation roles in alarm_convs.
const (
	roleAlarm      = "alarm"
	roleEscalation = "escalation"
)

func active(state string) bool {
	return state == api.AlarmRaised || state == api.AlarmAcknowledged || state == api.AlarmEscalated
}

// validClientID limits client ids to short, log-safe tokens (as the relay).
func validClientID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func checkAlarmEnvelope(name string, e *api.AlarmEnvelope) error {
	switch {
	case e.ConvID == "" || len(e.ConvID) > 200:
		return wache.Errorf(wache.EINVALID, "%s: conv_id must be 1..200 bytes", name)
	case !validClientID(e.ClientID):
		return wache.Errorf(wache.EINVALID, "%s: client_id must be 1-64 characters of A-Z a-z 0-9 - _ .", name)
	case e.Epoch < 0:
		return wache.Errorf(wache.EINVALID, "%s: epoch must not be negative", name)
	case len(e.Payload) == 0:
		return wache.Errorf(wache.EINVALID, "%s: payload is empty", name)
	case len(e.Payload) > wache.MaxPayload:
		return wache.Errorf(wache.ETOOLARGE, "%s: payload is over %d bytes", name, wache.MaxPayload)
	}
	return nil
}

// CheckRaise validates a raise request without touching any state.
func CheckRaise(req *api.RaiseAlarmRequest) error {
	if !validClientID(req.ClientID) {
		return wache.Errorf(wache.EINVALID, "client_id must be 1-64 characters of A-Z a-z 0-9 - _ .")
	}
	if len(req.Envelopes) == 0 {
		return wache.Errorf(wache.EINVALID, "an alarm needs at least one envelope")
	}
	if len(req.Envelopes) > MaxEnvelopes {
		return wache.Errorf(wache.EINVALID, "at most %d envelopes", MaxEnvelopes)
	}
	seen := map[string]bool{}
	ids := map[string]bool{}
	for i := range req.Envelopes {
		e := &req.Envelopes[i]
		if err := checkAlarmEnvelope(fmt.Sprintf("envelope %d", i+1), e); err != nil {
			return err
		}
		if seen[e.ConvID] {
			return wache.Errorf(wache.EINVALID, "two envelopes for conversation %s", e.ConvID)
		}
		if ids[e.ClientID] {
			return wache.Errorf(wache.EINVALID, "envelopes must have distinct client ids")
		}
		seen[e.ConvID], ids[e.ClientID] = true, true
	}
	if e := req.Escalation; e != nil {
		if err := checkAlarmEnvelope("escalation", e); err != nil {
			return err
		}
		if seen[e.ConvID] {
			return wache.Errorf(wache.EINVALID, "the escalation conversation is also an alarm conversation")
		}
		if ids[e.ClientID] {
			return wache.Errorf(wache.EINVALID, "envelopes must have distinct client ids")
		}
	}
	return nil
}

// Raise raises an SOS alarm. It is idempotent by (device, client id); a
// device with an active alarm gets that alarm back (Duplicate) rather than
// a second one; at most MaxAlarmsPerDevice new alarms per RateWindow.
//
// Order: the envelopes are posted first (the relay de-duplicates by client
// id), then the alarm row is written. A crash in between leaves posted
// envelopes without an alarm; the client's retry with the same ids finds
// the envelopes and completes the alarm.
func (s *Service) Raise(ctx context.Context, u *wache.User, d *wache.Device, req api.RaiseAlarmRequest) (*api.Alarm, error) {
	if err := CheckRaise(&req); err != nil {
		return nil, err
	}
	// Presses of one device are handled one after the other on this node,
	// so that a flood posts its envelopes once (across nodes the unique
	// index still leaves one alarm).
	mu := s.deviceLock(d.ID)
	mu.Lock()
	defer mu.Unlock()
	if a, err := s.existing(ctx, d.ID, req.ClientID); err != nil || a != nil {
		return a, err
	}
	now := s.now()
	var recent int
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM alarms WHERE raised_device = ? AND raised_at > ?`,
		d.ID, now.Add(-RateWindow).UnixMilli()).Scan(&recent); err != nil {
		return nil, fmt.Errorf("count recent alarms: %w", err)
	}
	if recent >= MaxAlarmsPerDevice {
		s.record(ctx, "alarm.rate_limited", u, d, map[string]any{"recent": recent}, "denied")
		return nil, wache.Errorf(wache.ERATELIMIT, "at most %d alarms per device in %v; the last ones are still on record", MaxAlarmsPerDevice, RateWindow)
	}
	if u.UnitID == "" {
		return nil, wache.Errorf(wache.EINVALID, "no alarm policy for your unit (you belong to no unit)")
	}
	pol, err := s.policy(ctx, u.OrgID, u.UnitID)
	if wache.ErrorCode(err) == wache.ENOTFOUND {
		return nil, wache.Errorf(wache.EINVALID, "no alarm policy for your unit")
	} else if err != nil {
		return nil, err
	}
	allowed := map[string]bool{pol.AlarmConvID: true, pol.DispatchConvID: true}
	hasAlarmConv := false
	for _, e := range req.Envelopes {
		if !allowed[e.ConvID] {
			return nil, wache.Errorf(wache.EINVALID, "conversation %s is not your unit's alarm or dispatch conversation", e.ConvID)
		}
		hasAlarmConv = hasAlarmConv || e.ConvID == pol.AlarmConvID
	}
	if !hasAlarmConv {
		return nil, wache.Errorf(wache.EINVALID, "the alarm must go to your unit's alarm conversation")
	}
	if req.Escalation != nil {
		if pol.EscalationConvID == "" {
			return nil, wache.Errorf(wache.EINVALID, "your unit's policy has no escalation conversation")
		}
		if req.Escalation.ConvID != pol.EscalationConvID {
			return nil, wache.Errorf(wache.EINVALID, "the escalation envelope must be for conversation %s", pol.EscalationConvID)
		}
		if err := s.canPost(ctx, u, pol.EscalationConvID); err != nil {
			return nil, err
		}
	}

	// Post the envelopes (membership and write rights are the relay's
	// checks), at once: they share one group commit. They are held back
	// from the live sessions until the alarm exists, so that each device
	// gets the SOS and the alarm in one frame; every path below publishes
	// them, with the alarm or without.
	refs := make([]api.AlarmEnvelopeRef, len(req.Envelopes))
	posted := make([]*wache.Envelope, len(req.Envelopes)) // nil: a duplicate, published before
	errs := make([]error, len(req.Envelopes))
	var wg sync.WaitGroup
	for i, e := range req.Envelopes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			env, res, err := s.relay.PostHeld(ctx, u, d, e.ConvID, relay.Message{ClientID: e.ClientID, Kind: wache.EnvApp, Epoch: e.Epoch,
				Payload: e.Payload, Priority: relay.PriorityAlarm, AckRequired: true})
			refs[i], posted[i], errs[i] = api.AlarmEnvelopeRef{ConvID: e.ConvID, Seq: res.Seq}, env, err
		}()
	}
	wg.Wait()
	published := false
	publish := func(alarm []byte) {
		if published {
			return
		}
		published = true
		for _, env := range posted {
			if env != nil {
				env.Alarm = alarm
				s.relay.Publish(env)
			}
		}
	}
	defer publish(nil)
	for _, err := range errs {
		if err != nil {
			return nil, err // posted ones stay; a retry with the same ids finds them
		}
	}

	id := accounts.NewID()
	at := now.UnixMilli()
	deadline := now.Add(time.Duration(pol.WindowSeconds) * time.Second).UnixMilli()
	var held []byte
	var heldClient string
	var heldEpoch int64
	if req.Escalation != nil {
		held, heldClient, heldEpoch = req.Escalation.Payload, req.Escalation.ClientID, req.Escalation.Epoch
	}
	err = s.inTx(ctx, func(tx *sqldb.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO alarms (id, org_id, client_id, raised_by, raised_device, unit_id, state,
			escalation_conv_id, min_coming, window_s, raised_at, deadline, held_client_id, held_epoch, held_payload)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			id, u.OrgID, req.ClientID, u.ID, d.ID, u.UnitID, api.AlarmRaised, pol.EscalationConvID, pol.MinComing,
			pol.WindowSeconds, at, deadline, heldClient, heldEpoch, held); err != nil {
			return err
		}
		for _, r := range refs {
			if _, err := tx.Exec(ctx, `INSERT INTO alarm_convs (alarm_id, conv_id, role, seq) VALUES (?, ?, ?, ?)`,
				id, r.ConvID, roleAlarm, r.Seq); err != nil {
				return err
			}
		}
		return s.addEvent(ctx, tx, id, at, "raised", u.ID, fmt.Sprintf("window %ds, %d coming needed", pol.WindowSeconds, pol.MinComing))
	})
	if err != nil {
		if s.db.Dialect.IsUniqueViolation(err) {
			// A concurrent press of the same device won.
			if a, err2 := s.existing(ctx, d.ID, req.ClientID); err2 != nil || a != nil {
				return a, err2
			}
		}
		return nil, fmt.Errorf("store alarm: %w", err)
	}
	s.record(ctx, "alarm.raised", u, d, map[string]any{"alarm": id, "unit": u.UnitID, "convs": len(refs), "held": held != nil}, api.AlarmRaised)
	a, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	// Everyone in the alarm's conversations gets it with the SOS envelope,
	// unless one of them was stored by an earlier try (and went out
	// then): then the alarm goes as its own frame.
	framed := !slices.Contains(posted, nil)
	if framed {
		b, err := json.Marshal(frameAlarm(a))
		if framed = err == nil && len(b) <= relay.MaxAttached; framed {
			publish(b)
		}
	}
	publish(nil)
	s.changed(ctx, a, true, !framed)
	return a, nil
}

// existing returns the device's alarm with this client id, or its active
// alarm, marked Duplicate; nil if there is none.
func (s *Service) existing(ctx context.Context, deviceID, clientID string) (*api.Alarm, error) {
	var id string
	err := s.db.QueryRow(ctx, `SELECT id FROM alarms WHERE raised_device = ? AND (client_id = ? OR state IN ('raised', 'acknowledged', 'escalated'))
		ORDER BY CASE WHEN client_id = ? THEN 0 ELSE 1 END LIMIT 1`, deviceID, clientID, clientID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find alarm: %w", err)
	}
	a, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	a.Duplicate = true
	return a, nil
}

// canPost checks that the user may post application messages in a
// conversation (the held escalation is posted later in their name).
func (s *Service) canPost(ctx context.Context, u *wache.User, convID string) error {
	m, err := s.member(ctx, convID, u)
	if err != nil {
		return wache.Errorf(wache.EFORBIDDEN, "you are not a member of the escalation conversation")
	}
	c, err := s.store.Conversation(ctx, convID)
	if err != nil {
		return err
	}
	if !wache.CanWrite(c.Kind, m.Role) {
		return wache.Errorf(wache.EFORBIDDEN, "you cannot write in the escalation conversation")
	}
	return nil
}

// addEvent appends to an alarm's timeline; beyond MaxEvents entries are
// dropped (the audit log still has them).
func (s *Service) addEvent(ctx context.Context, tx *sqldb.Tx, id string, at int64, event, by, detail string) error {
	var n int64
	if err := tx.QueryRow(ctx, `UPDATE alarms SET events = events + 1 WHERE id = ? AND events < ? RETURNING events`,
		id, MaxEvents).Scan(&n); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		return fmt.Errorf("count event: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO alarm_events (alarm_id, n, at, event, by_user, detail) VALUES (?, ?, ?, ?, ?, ?)`,
		id, n, at, event, by, detail); err != nil {
		return fmt.Errorf("add event: %w", err)
	}
	return nil
}

// alarmRow is the stored state of one alarm.
type alarmRow struct {
	id, org, raisedBy, raisedDevice, state, escConv string
	minComing                                       int
	deadline                                        int64
}

// lockAlarm reads an alarm's row inside a transaction, locking it on
// PostgreSQL so that transitions of one alarm are serialised.
func (s *Service) lockAlarm(ctx context.Context, tx *sqldb.Tx, id string) (*alarmRow, error) {
	r := &alarmRow{id: id}
	err := tx.QueryRow(ctx, `SELECT org_id, raised_by, raised_device, state, escalation_conv_id, min_coming, deadline
		FROM alarms WHERE id = ?`+s.forUpdate(), id).
		Scan(&r.org, &r.raisedBy, &r.raisedDevice, &r.state, &r.escConv, &r.minComing, &r.deadline)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, wache.Errorf(wache.ENOTFOUND, "no such alarm")
	}
	if err != nil {
		return nil, fmt.Errorf("load alarm: %w", err)
	}
	return r, nil
}

// visible reports whether the user may see the alarm: a dispatcher of its
// organisation, its raiser, or a member of one of its conversations.
func (s *Service) visible(ctx context.Context, u *wache.User, id string) (bool, error) {
	var org, raiser string
	err := s.db.QueryRow(ctx, `SELECT org_id, raised_by FROM alarms WHERE id = ?`, id).Scan(&org, &raiser)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("load alarm: %w", err)
	}
	if org != u.OrgID {
		return false, nil
	}
	if raiser == u.ID || u.HasRole(wache.RoleDispatcher) {
		return true, nil
	}
	return s.inAlarmConv(ctx, u, id)
}

// mustSee is visible as an error: ENOTFOUND for an alarm the user may not
// see, the same as for one that does not exist.
func (s *Service) mustSee(ctx context.Context, u *wache.User, id string) error {
	ok, err := s.visible(ctx, u, id)
	if err != nil {
		return err
	}
	if !ok {
		return wache.Errorf(wache.ENOTFOUND, "no such alarm")
	}
	return nil
}

func (s *Service) inAlarmConv(ctx context.Context, u *wache.User, id string) (bool, error) {
	var one int
	err := s.db.QueryRow(ctx, `SELECT 1 FROM alarm_convs c JOIN members m ON m.conv_id = c.conv_id AND m.user_id = ?
		WHERE c.alarm_id = ? LIMIT 1`, u.ID, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check alarm membership: %w", err)
	}
	return true, nil
}

func checkAlarmID(id string) error {
	if id == "" || len(id) > 200 {
		return wache.Errorf(wache.EINVALID, "alarm id must be 1..200 bytes")
	}
	return nil
}

// Get returns an alarm the user may see (ENOTFOUND otherwise).
func (s *Service) Get(ctx context.Context, u *wache.User, id string) (*api.Alarm, error) {
	if err := checkAlarmID(id); err != nil {
		return nil, err
	}
	if err := s.mustSee(ctx, u, id); err != nil {
		return nil, err
	}
	return s.load(ctx, id)
}

// List returns the alarms the user may see, newest first: state "active"
// (default) or "all".
func (s *Service) List(ctx context.Context, u *wache.User, state string, limit int) (*api.Alarms, error) {
	if limit == 0 {
		limit = 50
	}
	if limit < 0 || limit > MaxListAlarms {
		return nil, wache.Errorf(wache.EINVALID, "limit must be 1..%d", MaxListAlarms)
	}
	cond := ""
	switch state {
	case "", "active":
		cond = " AND a.state IN ('raised', 'acknowledged', 'escalated')"
	case "all":
	default:
		return nil, wache.Errorf(wache.EINVALID, "state must be active or all")
	}
	var rows *sql.Rows
	var err error
	if u.HasRole(wache.RoleDispatcher) {
		rows, err = s.db.Query(ctx, `SELECT a.id FROM alarms a WHERE a.org_id = ?`+cond+` ORDER BY a.raised_at DESC, a.id LIMIT ?`, u.OrgID, limit)
	} else {
		rows, err = s.db.Query(ctx, `SELECT a.id FROM alarms a WHERE a.org_id = ?`+cond+` AND (a.raised_by = ? OR EXISTS (
			SELECT 1 FROM alarm_convs c JOIN members m ON m.conv_id = c.conv_id AND m.user_id = ? WHERE c.alarm_id = a.id))
			ORDER BY a.raised_at DESC, a.id LIMIT ?`, u.OrgID, u.ID, u.ID, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("list alarms: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list alarms: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list alarms: %w", err)
	}
	out := &api.Alarms{Alarms: make([]api.Alarm, 0, len(ids))}
	for _, id := range ids {
		a, err := s.load(ctx, id)
		if err != nil {
			return nil, err
		}
		out.Alarms = append(out.Alarms, *a)
	}
	return out, nil
}

// load reads an alarm with its responses, timeline and envelopes.
func (s *Service) load(ctx context.Context, id string) (*api.Alarm, error) {
	a := &api.Alarm{ID: id, ConvIDs: []string{}, Responses: []api.AlarmResponse{}, Timeline: []api.AlarmEvent{}, Envelopes: []api.AlarmEnvelopeRef{}}
	var raised, deadline int64
	var esc, ended sql.NullInt64
	err := s.db.QueryRow(ctx, `SELECT a.client_id, a.raised_by, COALESCE(u.email, ''), COALESCE(u.display_name, ''), a.raised_device,
		a.unit_id, a.state, a.escalation_conv_id, a.min_coming, a.window_s, a.raised_at, a.deadline, a.escalated_at, a.ended_at, a.ended_by
		FROM alarms a LEFT JOIN users u ON u.id = a.raised_by WHERE a.id = ?`, id).
		Scan(&a.ClientID, &a.RaisedBy, &a.RaisedByEmail, &a.RaisedByName, &a.RaisedDevice, &a.UnitID, &a.State,
			&a.EscalationConvID, &a.MinComing, &a.WindowSeconds, &raised, &deadline, &esc, &ended, &a.EndedBy)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, wache.Errorf(wache.ENOTFOUND, "no such alarm")
	}
	if err != nil {
		return nil, fmt.Errorf("load alarm: %w", err)
	}
	a.RaisedAt, a.Deadline = fromMS(raised), fromMS(deadline)
	a.EscalatedAt, a.EndedAt = nullTime(esc), nullTime(ended)

	rows, err := s.db.Query(ctx, `SELECT conv_id, role, seq FROM alarm_convs WHERE alarm_id = ? ORDER BY role, conv_id`, id)
	if err != nil {
		return nil, fmt.Errorf("load alarm conversations: %w", err)
	}
	for rows.Next() {
		var conv, role string
		var seq int64
		if err := rows.Scan(&conv, &role, &seq); err != nil {
			rows.Close()
			return nil, fmt.Errorf("load alarm conversations: %w", err)
		}
		if role == roleAlarm {
			a.ConvIDs = append(a.ConvIDs, conv)
		}
		if seq > 0 {
			a.Envelopes = append(a.Envelopes, api.AlarmEnvelopeRef{ConvID: conv, Seq: seq})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load alarm conversations: %w", err)
	}

	rows, err = s.db.Query(ctx, `SELECT r.user_id, COALESCE(u.email, ''), COALESCE(u.display_name, ''), r.response, r.eta_s, r.at
		FROM alarm_responses r LEFT JOIN users u ON u.id = r.user_id WHERE r.alarm_id = ? ORDER BY r.at, r.user_id LIMIT 10000`, id)
	if err != nil {
		return nil, fmt.Errorf("load alarm responses: %w", err)
	}
	for rows.Next() {
		var r api.AlarmResponse
		var at int64
		if err := rows.Scan(&r.UserID, &r.Email, &r.DisplayName, &r.Response, &r.ETASeconds, &at); err != nil {
			rows.Close()
			return nil, fmt.Errorf("load alarm responses: %w", err)
		}
		r.At = fromMS(at)
		a.Responses = append(a.Responses, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load alarm responses: %w", err)
	}

	rows, err = s.db.Query(ctx, `SELECT at, event, by_user, detail FROM alarm_events WHERE alarm_id = ? ORDER BY n`, id)
	if err != nil {
		return nil, fmt.Errorf("load alarm timeline: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e api.AlarmEvent
		var at int64
		if err := rows.Scan(&at, &e.Event, &e.By, &e.Detail); err != nil {
			return nil, fmt.Errorf("load alarm timeline: %w", err)
		}
		e.At = fromMS(at)
		a.Timeline = append(a.Timeline, e)
	}
	return a, rows.Err()
}

func checkResponse(req api.AlarmResponseRequest) error {
	switch req.Response {
	case api.ResponseComing:
		if req.ETASeconds < 0 || req.ETASeconds > MaxETASeconds {
			return wache.Errorf(wache.EINVALID, "eta_s must be 0..%d", MaxETASeconds)
		}
	case api.ResponseCannot:
		if req.ETASeconds != 0 {
			return wache.Errorf(wache.EINVALID, "eta_s is only for coming")
		}
	default:
		return wache.Errorf(wache.EINVALID, "response must be coming or cannot")
	}
	return nil
}

// Respond records the user's answer ("coming" with an ETA, or "cannot");
// a later answer replaces the earlier one. Enough "coming" answers within
// the window acknowledge a raised alarm.
func (s *Service) Respond(ctx context.Context, u *wache.User, d *wache.Device, id string, req api.AlarmResponseRequest) (*api.Alarm, error) {
	if err := checkAlarmID(id); err != nil {
		return nil, err
	}
	if err := checkResponse(req); err != nil {
		return nil, err
	}
	// Responders are members of the alarm's conversations; a dispatcher
	// outside them can watch and end, but not answer.
	if err := s.mustSee(ctx, u, id); err != nil {
		return nil, err
	}
	now := s.nowMS()
	var state string
	var acked bool
	err := s.inTx(ctx, func(tx *sqldb.Tx) error {
		acked = false
		r, err := s.lockAlarm(ctx, tx, id)
		if err != nil {
			return err
		}
		if r.raisedBy == u.ID {
			return wache.Errorf(wache.EFORBIDDEN, "you raised this alarm; others answer it")
		}
		if !active(r.state) {
			return wache.Errorf(wache.ECONFLICT, "the alarm has ended")
		}
		var one int
		err = tx.QueryRow(ctx, `SELECT 1 FROM alarm_convs c JOIN members m ON m.conv_id = c.conv_id AND m.user_id = ?
			WHERE c.alarm_id = ? LIMIT 1`, u.ID, id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return wache.Errorf(wache.EFORBIDDEN, "only members of the alarm's conversations answer it")
		}
		if err != nil {
			return fmt.Errorf("check responder: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO alarm_responses (alarm_id, user_id, response, eta_s, at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (alarm_id, user_id) DO UPDATE SET response = excluded.response, eta_s = excluded.eta_s, at = excluded.at`,
			id, u.ID, req.Response, req.ETASeconds, now); err != nil {
			return fmt.Errorf("store response: %w", err)
		}
		var coming int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM alarm_responses WHERE alarm_id = ? AND response = 'coming'`, id).Scan(&coming); err != nil {
			return fmt.Errorf("count responders: %w", err)
		}
		state = r.state
		if r.state == api.AlarmRaised && coming >= r.minComing {
			state = api.AlarmAcknowledged
			acked = true
		}
		// An acknowledged alarm never escalates: its held ciphertext goes.
		if _, err := tx.Exec(ctx, `UPDATE alarms SET coming = ?, state = ?,
			held_payload = CASE WHEN ? = 'acknowledged' THEN NULL ELSE held_payload END WHERE id = ?`, coming, state, state, id); err != nil {
			return fmt.Errorf("update alarm: %w", err)
		}
		detail := req.Response
		if req.Response == api.ResponseComing && req.ETASeconds > 0 {
			detail = fmt.Sprintf("coming, eta %ds", req.ETASeconds)
		}
		if err := s.addEvent(ctx, tx, id, now, "response", u.ID, detail); err != nil {
			return err
		}
		if acked {
			return s.addEvent(ctx, tx, id, now, api.AlarmAcknowledged, "", fmt.Sprintf("%d coming", coming))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.record(ctx, "alarm.response", u, d, map[string]any{"alarm": id, "response": req.Response, "eta_s": req.ETASeconds}, state)
	if acked {
		s.record(ctx, "alarm.acknowledged", nil, nil, map[string]any{"alarm": id}, api.AlarmAcknowledged)
	}
	return s.publish(ctx, id, false)
}

// End ends an alarm (the raiser or a dispatcher); ended alarms are
// immutable. The held escalation ciphertext is deleted and the reminders
// of the alarm's messages stop.
func (s *Service) End(ctx context.Context, u *wache.User, d *wache.Device, id string, req api.EndAlarmRequest) (*api.Alarm, error) {
	if err := checkAlarmID(id); err != nil {
		return nil, err
	}
	if err := s.mustSee(ctx, u, id); err != nil {
		return nil, err
	}
	state := api.AlarmEnded
	if req.FalseAlarm {
		state = api.AlarmFalse
	}
	a0, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	now := s.nowMS()
	err = s.inTx(ctx, func(tx *sqldb.Tx) error {
		r, err := s.lockAlarm(ctx, tx, id)
		if err != nil {
			return err
		}
		if r.raisedBy != u.ID && !u.HasRole(wache.RoleDispatcher) {
			return wache.Errorf(wache.EFORBIDDEN, "only the officer who raised the alarm or a dispatcher ends it")
		}
		if !active(r.state) {
			return wache.Errorf(wache.ECONFLICT, "the alarm has already ended")
		}
		if _, err := tx.Exec(ctx, `UPDATE alarms SET state = ?, ended_at = ?, ended_by = ?, held_payload = NULL WHERE id = ?`,
			state, now, u.ID, id); err != nil {
			return fmt.Errorf("end alarm: %w", err)
		}
		if err := s.closeRequests(ctx, tx, a0.Envelopes, now); err != nil {
			return err
		}
		return s.addEvent(ctx, tx, id, now, state, u.ID, "")
	})
	if err != nil {
		return nil, err
	}
	s.record(ctx, "alarm."+state, u, d, map[string]any{"alarm": id}, state)
	return s.publish(ctx, id, false)
}

// ReplaceEscalation swaps the held escalation ciphertext for one made in
// the escalation group's newer epoch (the raiser, while the alarm is raised).
func (s *Service) ReplaceEscalation(ctx context.Context, u *wache.User, d *wache.Device, id string, e api.AlarmEnvelope) (*api.Alarm, error) {
	if err := checkAlarmID(id); err != nil {
		return nil, err
	}
	if err := checkAlarmEnvelope("escalation", &e); err != nil {
		return nil, err
	}
	if err := s.mustSee(ctx, u, id); err != nil {
		return nil, err
	}
	now := s.nowMS()
	err := s.inTx(ctx, func(tx *sqldb.Tx) error {
		r, err := s.lockAlarm(ctx, tx, id)
		if err != nil {
			return err
		}
		if r.raisedBy != u.ID || r.raisedDevice != d.ID {
			return wache.Errorf(wache.EFORBIDDEN, "only the device that raised the alarm replaces its escalation")
		}
		if r.state != api.AlarmRaised {
			return wache.Errorf(wache.ECONFLICT, "the escalation can only be replaced while the alarm is raised")
		}
		if r.escConv == "" || e.ConvID != r.escConv {
			return wache.Errorf(wache.EINVALID, "the escalation envelope must be for the policy's escalation conversation")
		}
		var used int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM envelopes WHERE sender_device = ? AND client_id = ?`, d.ID, e.ClientID).Scan(&used); err != nil {
			return fmt.Errorf("check client id: %w", err)
		}
		if used > 0 {
			return wache.Errorf(wache.ECONFLICT, "client_id already used")
		}
		if _, err := tx.Exec(ctx, `UPDATE alarms SET held_client_id = ?, held_epoch = ?, held_payload = ? WHERE id = ?`,
			e.ClientID, e.Epoch, e.Payload, id); err != nil {
			return fmt.Errorf("replace escalation: %w", err)
		}
		return s.addEvent(ctx, tx, id, now, "escalation_replaced", u.ID, fmt.Sprintf("epoch %d", e.Epoch))
	})
	if err != nil {
		return nil, err
	}
	s.record(ctx, "alarm.escalation_replaced", u, d, map[string]any{"alarm": id, "epoch": e.Epoch}, api.AlarmRaised)
	return s.load(ctx, id)
}

// publish loads the alarm as it now stands, tells everyone about it
// (changed) and returns it.
func (s *Service) publish(ctx context.Context, id string, urgent bool) (*api.Alarm, error) {
	a, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	s.changed(ctx, a, urgent, true)
	return a, nil
}

// changed tells everyone in the alarm's conversations (and the escalation
// conversation once escalated) about the new state (frame false: the
// frame went with the alarm's envelopes); urgent pushes only when an alarm
// is raised or escalates.
func (s *Service) changed(ctx context.Context, a *api.Alarm, urgent, frame bool) {
	convs := slices.Clone(a.ConvIDs)
	if a.EscalatedAt != nil && a.EscalationConvID != "" {
		convs = append(convs, a.EscalationConvID)
	}
	users, err := s.convUsers(ctx, convs)
	if err != nil {
		s.log.WarnContext(ctx, "alarm notify: members", "alarm", a.ID, "err", err)
		return
	}
	if !slices.Contains(users, a.RaisedBy) {
		users = append(users, a.RaisedBy)
	}
	ctx = context.WithoutCancel(ctx)
	if frame {
		s.notifyUsers(ctx, users, api.Frame{Type: api.FrameAlarm, Alarm: frameAlarm(a)})
	}
	if urgent {
		others := slices.DeleteFunc(slices.Clone(users), func(id string) bool { return id == a.RaisedBy })
		s.pushUsers(ctx, others, Notification{Kind: "alarm", Urgency: "high"})
	}
}

// convUsers lists the members of the conversations.
func (s *Service) convUsers(ctx context.Context, convs []string) ([]string, error) {
	if len(convs) == 0 {
		return nil, nil
	}
	args := make([]any, len(convs))
	for i, c := range convs {
		args[i] = c
	}
	rows, err := s.db.Query(ctx, `SELECT DISTINCT user_id FROM members WHERE conv_id IN (`+marks(len(convs))+`) LIMIT 200000`, args...)
	if err != nil {
		return nil, fmt.Errorf("conversation members: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("conversation members: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// Bounds of the alarm copy in a frame (frames are at most 256 KiB); the
// full alarm is one GET away.
const (
	frameEvents    = 200
	frameResponses = 500
)

// frameAlarm is the copy of a that frames carry: the newest events and
// responses within the bounds, Partial when some were left out.
func frameAlarm(a *api.Alarm) *api.Alarm {
	c := *a
	if n := len(c.Timeline); n > frameEvents {
		c.Timeline, c.Partial = c.Timeline[n-frameEvents:], true
	}
	if n := len(c.Responses); n > frameResponses {
		c.Responses, c.Partial = c.Responses[n-frameResponses:], true
	}
	return &c
}

// deviceLock returns the mutex stripe of a device.
func (s *Service) deviceLock(deviceID string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(deviceID))
	return &s.raiseMu[h.Sum32()%uint32(len(s.raiseMu))]
}
