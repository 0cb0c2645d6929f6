package alarm

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
)

// Units lists the caller's organisation's units (for name resolution).
func (s *Service) Units(ctx context.Context, u *wache.User) ([]api.Unit, error) {
	us, err := s.store.Units(ctx, u.OrgID)
	if err != nil {
		return nil, err
	}
	out := make([]api.Unit, 0, len(us))
	for _, x := range us {
		out = append(out, api.Unit{ID: x.ID, Name: x.Name, ParentID: x.ParentID})
	}
	return out, nil
}

// SetPolicy stores a unit's alarm policy (role admin, same organisation).
// The conversations must exist in the organisation; defaults fill zero
// fields.
func (s *Service) SetPolicy(ctx context.Context, u *wache.User, unitID string, p api.AlarmPolicy) (*api.AlarmPolicy, error) {
	if !u.HasRole(wache.RoleAdmin) {
		return nil, wache.Errorf(wache.EFORBIDDEN, "only administrators set alarm policies")
	}
	if p.UnitID != "" && p.UnitID != unitID {
		return nil, wache.Errorf(wache.EINVALID, "unit_id in the body differs from the path")
	}
	if unitID == "" || len(unitID) > 200 {
		return nil, wache.Errorf(wache.EINVALID, "unit id must be 1..200 bytes")
	}
	units, err := s.store.Units(ctx, u.OrgID)
	if err != nil {
		return nil, err
	}
	found := false
	for _, x := range units {
		found = found || x.ID == unitID
	}
	if !found {
		return nil, wache.Errorf(wache.ENOTFOUND, "no such unit")
	}
	p.UnitID = unitID
	if p.MinComing == 0 {
		p.MinComing = api.AlarmMinComingDefault
	}
	if p.WindowSeconds == 0 {
		p.WindowSeconds = api.AlarmWindowDefaultSeconds
	}
	if p.UpdateSeconds == 0 {
		p.UpdateSeconds = api.AlarmUpdateDefaultSeconds
	}
	switch {
	case p.MinComing < 1 || p.MinComing > 1000:
		return nil, wache.Errorf(wache.EINVALID, "min_coming must be 1..1000")
	case p.WindowSeconds < api.AlarmWindowMinSeconds || p.WindowSeconds > api.AlarmWindowMaxSeconds:
		return nil, wache.Errorf(wache.EINVALID, "window_seconds must be %d..%d", api.AlarmWindowMinSeconds, api.AlarmWindowMaxSeconds)
	case p.UpdateSeconds < 1 || p.UpdateSeconds > 600:
		return nil, wache.Errorf(wache.EINVALID, "update_seconds must be 1..600")
	case p.AlarmConvID == "":
		return nil, wache.Errorf(wache.EINVALID, "alarm_conv_id is required")
	case p.DispatchConvID == "":
		return nil, wache.Errorf(wache.EINVALID, "dispatch_conv_id is required")
	case p.EscalationConvID != "" && (p.EscalationConvID == p.AlarmConvID || p.EscalationConvID == p.DispatchConvID):
		return nil, wache.Errorf(wache.EINVALID, "the escalation conversation must differ from the alarm and dispatch conversations")
	}
	for _, id := range []string{p.AlarmConvID, p.DispatchConvID, p.EscalationConvID} {
		if id == "" {
			continue
		}
		if len(id) > 200 {
			return nil, wache.Errorf(wache.EINVALID, "conversation id too long")
		}
		c, err := s.store.Conversation(ctx, id)
		if wache.ErrorCode(err) == wache.ENOTFOUND || (err == nil && c.OrgID != u.OrgID) {
			return nil, wache.Errorf(wache.EINVALID, "conversation %s does not exist", id)
		}
		if err != nil {
			return nil, err
		}
	}
	now := s.nowMS()
	if _, err := s.db.Exec(ctx, `INSERT INTO alarm_policies (unit_id, org_id, alarm_conv_id, dispatch_conv_id, escalation_conv_id,
		min_coming, window_s, update_s, updated_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (unit_id) DO UPDATE SET alarm_conv_id = excluded.alarm_conv_id, dispatch_conv_id = excluded.dispatch_conv_id,
		escalation_conv_id = excluded.escalation_conv_id, min_coming = excluded.min_coming, window_s = excluded.window_s,
		update_s = excluded.update_s, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
		unitID, u.OrgID, p.AlarmConvID, p.DispatchConvID, p.EscalationConvID, p.MinComing, p.WindowSeconds, p.UpdateSeconds, u.ID, now); err != nil {
		return nil, fmt.Errorf("store alarm policy: %w", err)
	}
	s.record(ctx, "alarm.policy", u, nil, map[string]any{"unit": unitID, "min_coming": p.MinComing, "window_s": p.WindowSeconds}, "ok")
	return &p, nil
}

// Policy returns the policy of the caller's unit.
func (s *Service) Policy(ctx context.Context, u *wache.User) (*api.AlarmPolicy, error) {
	if u.UnitID == "" {
		return nil, wache.Errorf(wache.ENOTFOUND, "you belong to no unit")
	}
	return s.policy(ctx, u.OrgID, u.UnitID)
}

func (s *Service) policy(ctx context.Context, orgID, unitID string) (*api.AlarmPolicy, error) {
	p := &api.AlarmPolicy{UnitID: unitID}
	err := s.db.QueryRow(ctx, `SELECT alarm_conv_id, dispatch_conv_id, escalation_conv_id, min_coming, window_s, update_s
		FROM alarm_policies WHERE unit_id = ? AND org_id = ?`, unitID, orgID).
		Scan(&p.AlarmConvID, &p.DispatchConvID, &p.EscalationConvID, &p.MinComing, &p.WindowSeconds, &p.UpdateSeconds)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, wache.Errorf(wache.ENOTFOUND, "no alarm policy for your unit")
	}
	if err != nil {
		return nil, fmt.Errorf("load alarm policy: %w", err)
	}
	return p, nil
}
