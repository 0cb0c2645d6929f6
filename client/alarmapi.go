package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
)

// API calls of priority messages, receipts and alarms (issue 6). The
// server learns states and who answered, never content.

func envelopePath(convID string, seq int64) string {
	return fmt.Sprintf("/conversations/%s/envelopes/%d", url.PathEscape(convID), seq)
}

// PostReceipt records this user's delivered, read or acknowledged state
// for an ack-required message (monotonic and idempotent on the server).
func (c *Client) PostReceipt(ctx context.Context, convID string, seq int64, state string) error {
	return c.do(ctx, "POST", envelopePath(convID, seq)+"/receipt", api.ReceiptRequest{State: state}, nil)
}

// ReceiptsQuery selects a page of members of Receipts.
type ReceiptsQuery struct {
	Pending bool   // only members who have not acknowledged
	Limit   int    // 0: server default (200), at most 1000
	After   string // the last user id of the previous page
}

// Receipts returns the counts and one page of per-member states of an
// ack-required message (sender and conversation admins only).
func (c *Client) Receipts(ctx context.Context, convID string, seq int64, q ReceiptsQuery) (*api.Receipts, error) {
	v := url.Values{}
	if q.Pending {
		v.Set("pending", "1")
	}
	if q.Limit > 0 {
		v.Set("limit", fmt.Sprint(q.Limit))
	}
	if q.After != "" {
		v.Set("after", q.After)
	}
	path := envelopePath(convID, seq) + "/receipts"
	if len(v) > 0 {
		path += "?" + v.Encode()
	}
	var out api.Receipts
	return &out, c.do(ctx, "GET", path, nil, &out)
}

// CloseAckRequest stops the reminders of an ack-required message.
func (c *Client) CloseAckRequest(ctx context.Context, convID string, seq int64) error {
	return c.do(ctx, "POST", envelopePath(convID, seq)+"/close", nil, nil)
}

// Units lists the organisation's units.
func (c *Client) Units(ctx context.Context) ([]api.Unit, error) {
	// The answer is a list, or an object holding it under "units".
	var raw json.RawMessage
	if err := c.do(ctx, "GET", "/units", nil, &raw); err != nil {
		return nil, err
	}
	var out []api.Unit
	if json.Unmarshal(raw, &out) == nil {
		return out, nil
	}
	var wrapped struct {
		Units []api.Unit `json:"units"`
	}
	if err := json.Unmarshal(raw, &wrapped); err != nil {
		return nil, &wache.Error{Code: wache.EUNAVAILABLE, Message: "unreadable server response", Err: err}
	}
	return wrapped.Units, nil
}

// AlarmPolicy returns the alarm policy of the caller's unit.
func (c *Client) AlarmPolicy(ctx context.Context) (*api.AlarmPolicy, error) {
	var out api.AlarmPolicy
	return &out, c.do(ctx, "GET", "/alarms/policy", nil, &out)
}

// SetAlarmPolicy sets a unit's alarm policy (admins).
func (c *Client) SetAlarmPolicy(ctx context.Context, p api.AlarmPolicy) (*api.AlarmPolicy, error) {
	if p.UnitID == "" {
		return nil, wache.Errorf(wache.EINVALID, "which unit?")
	}
	var out api.AlarmPolicy
	return &out, c.do(ctx, "PUT", "/units/"+url.PathEscape(p.UnitID)+"/alarm-policy", p, &out)
}

// RaiseAlarm sends one alarm request once (see Messenger.RaiseSOS).
func (c *Client) RaiseAlarm(ctx context.Context, r api.RaiseAlarmRequest) (*api.Alarm, error) {
	var out api.Alarm
	return &out, c.do(ctx, "POST", "/alarms", r, &out)
}

// ReplaceEscalation swaps the held escalation ciphertext for one made in
// the escalation group's current epoch (raiser only, while raised).
func (c *Client) ReplaceEscalation(ctx context.Context, alarmID string, e api.AlarmEnvelope) (*api.Alarm, error) {
	var out api.Alarm
	return &out, c.do(ctx, "PUT", "/alarms/"+url.PathEscape(alarmID)+"/escalation", e, &out)
}

// RespondAlarm answers coming (with an ETA) or cannot.
func (c *Client) RespondAlarm(ctx context.Context, alarmID string, r api.AlarmResponseRequest) (*api.Alarm, error) {
	var out api.Alarm
	return &out, c.do(ctx, "POST", "/alarms/"+url.PathEscape(alarmID)+"/responses", r, &out)
}

// EndAlarm ends an alarm (the raiser or a dispatcher).
func (c *Client) EndAlarm(ctx context.Context, alarmID string, falseAlarm bool) (*api.Alarm, error) {
	var out api.Alarm
	return &out, c.do(ctx, "POST", "/alarms/"+url.PathEscape(alarmID)+"/end", api.EndAlarmRequest{FalseAlarm: falseAlarm}, &out)
}

// Alarms lists alarms the caller may see; all includes ended ones.
func (c *Client) Alarms(ctx context.Context, all bool, limit int) ([]api.Alarm, error) {
	state := "active"
	if all {
		state = "all"
	}
	path := "/alarms?state=" + state
	if limit > 0 {
		path += fmt.Sprintf("&limit=%d", limit)
	}
	var out api.Alarms
	return out.Alarms, c.do(ctx, "GET", path, nil, &out)
}

// Alarm returns one alarm.
func (c *Client) Alarm(ctx context.Context, id string) (*api.Alarm, error) {
	var out api.Alarm
	return &out, c.do(ctx, "GET", "/alarms/"+url.PathEscape(id), nil, &out)
}

// AlarmActive reports whether an alarm state is not final.
func AlarmActive(state string) bool {
	return state == api.AlarmRaised || state == api.AlarmAcknowledged || state == api.AlarmEscalated
}
