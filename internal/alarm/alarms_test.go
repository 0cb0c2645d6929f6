package alarm

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
	"github.com/wache/wache/internal/relay"
)

// unitSetup is a unit with an alarm group, a dispatch group and an
// escalation group shared with a neighbouring unit.
type unitSetup struct {
	officers            []person
	dispatcher, admin   person
	neighbour, outsider person
	alarmC, dispatchC   *wache.Conversation
	escC                *wache.Conversation
	policy              api.AlarmPolicy
}

func (f *fixture) setup(n int) *unitSetup {
	f.t.Helper()
	s := &unitSetup{}
	for i := 0; i < n; i++ {
		s.officers = append(s.officers, f.person(fmt.Sprintf("officer%d", i), f.unit))
	}
	s.dispatcher = f.person("leitstelle", f.other, wache.RoleDispatcher)
	s.admin = f.person("admin", f.other, wache.RoleAdmin)
	s.neighbour = f.person("neighbour", f.other)
	s.outsider = f.person("outsider", f.other)
	s.alarmC = f.group(s.officers...)
	s.dispatchC = f.group(append([]person{s.dispatcher}, s.officers...)...)
	s.escC = f.group(append(slices.Clone(s.officers), s.neighbour)...)
	p, err := f.svc.SetPolicy(f.ctx, s.admin.u, f.unit, api.AlarmPolicy{AlarmConvID: s.alarmC.ID, DispatchConvID: s.dispatchC.ID,
		EscalationConvID: s.escC.ID, MinComing: 2, WindowSeconds: 60})
	must(f.t, err)
	s.policy = *p
	return s
}

func (s *unitSetup) raiseReq(clientID string) api.RaiseAlarmRequest {
	return api.RaiseAlarmRequest{ClientID: clientID,
		Envelopes: []api.AlarmEnvelope{
			{ConvID: s.alarmC.ID, ClientID: clientID + "-a", Payload: []byte("mls-alarm")},
			{ConvID: s.dispatchC.ID, ClientID: clientID + "-d", Payload: []byte("mls-dispatch")},
		},
		Escalation: &api.AlarmEnvelope{ConvID: s.escC.ID, ClientID: clientID + "-e", Payload: []byte("mls-escalation")}}
}

func events(a *api.Alarm) []string {
	var out []string
	for _, e := range a.Timeline {
		out = append(out, e.Event)
	}
	return out
}

func TestPolicy(t *testing.T) {
	forEachDB(t, func(t *testing.T, f *fixture) {
		s := f.setup(2)
		p, err := f.svc.Policy(f.ctx, s.officers[0].u)
		must(t, err)
		if p.MinComing != 2 || p.WindowSeconds != 60 || p.UpdateSeconds != api.AlarmUpdateDefaultSeconds || p.EscalationConvID != s.escC.ID {
			t.Fatalf("policy %+v", p)
		}
		_, err = f.svc.Policy(f.ctx, s.dispatcher.u) // the other unit has none
		wantCode(t, err, wache.ENOTFOUND)
		good := s.policy
		for _, tc := range []struct {
			name string
			who  person
			unit string
			mod  func(p *api.AlarmPolicy)
			code string
		}{
			{"officer may not", s.officers[0], f.unit, nil, wache.EFORBIDDEN},
			{"dispatcher may not", s.dispatcher, f.unit, nil, wache.EFORBIDDEN},
			{"unknown unit", s.admin, "nope", func(p *api.AlarmPolicy) { p.UnitID = "" }, wache.ENOTFOUND},
			{"window too short", s.admin, f.unit, func(p *api.AlarmPolicy) { p.WindowSeconds = 9 }, wache.EINVALID},
			{"window too long", s.admin, f.unit, func(p *api.AlarmPolicy) { p.WindowSeconds = 3601 }, wache.EINVALID},
			{"negative min", s.admin, f.unit, func(p *api.AlarmPolicy) { p.MinComing = -1 }, wache.EINVALID},
			{"no alarm conv", s.admin, f.unit, func(p *api.AlarmPolicy) { p.AlarmConvID = "" }, wache.EINVALID},
			{"unknown conv", s.admin, f.unit, func(p *api.AlarmPolicy) { p.DispatchConvID = "nope" }, wache.EINVALID},
			{"escalation equals alarm", s.admin, f.unit, func(p *api.AlarmPolicy) { p.EscalationConvID = p.AlarmConvID }, wache.EINVALID},
			{"unit mismatch", s.admin, f.unit, func(p *api.AlarmPolicy) { p.UnitID = f.other }, wache.EINVALID},
			{"ok", s.admin, f.unit, func(p *api.AlarmPolicy) { p.MinComing = 3 }, ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p := good
				if tc.mod != nil {
					tc.mod(&p)
				}
				_, err := f.svc.SetPolicy(f.ctx, tc.who.u, tc.unit, p)
				wantCode(t, err, tc.code)
			})
		}
		units, err := f.svc.Units(f.ctx, s.officers[0].u)
		must(t, err)
		if len(units) != 2 {
			t.Fatalf("units %v", units)
		}
	})
}

func TestAlarmAcknowledged(t *testing.T) {
	forEachDB(t, func(t *testing.T, f *fixture) {
		s := f.setup(5)
		raiser := s.officers[0]
		a, err := f.svc.Raise(f.ctx, raiser.u, raiser.d, s.raiseReq("sos1"))
		must(t, err)
		if a.State != api.AlarmRaised || a.Duplicate || len(a.Envelopes) != 2 || len(a.ConvIDs) != 2 || a.RaisedByEmail != raiser.u.Email {
			t.Fatalf("raised %+v", a)
		}
		if !a.Deadline.Equal(a.RaisedAt.Add(60 * time.Second)) {
			t.Fatalf("deadline %v raised %v", a.Deadline, a.RaisedAt)
		}
		// The envelopes went out as alarm priority, ack required.
		for _, ref := range a.Envelopes {
			envs, err := f.st.Envelopes(f.ctx, ref.ConvID, ref.Seq-1, 1)
			must(t, err)
			if len(envs) != 1 || envs[0].Priority != relay.PriorityAlarm || !envs[0].AckRequired {
				t.Fatalf("posted envelope %+v", envs)
			}
		}
		// Everyone in the alarm's conversations was told, with an urgent
		// push: the alarm went out with the SOS envelopes, in one frame per
		// device, not as a frame of its own.
		for _, c := range a.ConvIDs {
			if got, ok := f.sent.alarm(c); !ok || got.ID != a.ID || got.State != api.AlarmRaised {
				t.Fatalf("envelope to %s carried alarm %+v (%v), want %s raised", c, got, ok, a.ID)
			}
		}
		if got := f.frames.usersOf(t, api.FrameAlarm, 1); len(got) != 0 {
			t.Fatalf("raise also sent as a frame to %d users", len(got))
		}
		if f.push.count("alarm") == 0 {
			t.Fatal("no alarm push")
		}

		// Retry and flood: the same alarm comes back.
		d1, err := f.svc.Raise(f.ctx, raiser.u, raiser.d, s.raiseReq("sos1"))
		must(t, err)
		d2, err := f.svc.Raise(f.ctx, raiser.u, raiser.d, s.raiseReq("sos2"))
		must(t, err)
		if !d1.Duplicate || !d2.Duplicate || d1.ID != a.ID || d2.ID != a.ID {
			t.Fatalf("duplicates: %v %v", d1.ID, d2.ID)
		}

		// Bad responses.
		for _, tc := range []struct {
			name string
			who  person
			req  api.AlarmResponseRequest
			code string
		}{
			{"raiser answers own alarm", raiser, api.AlarmResponseRequest{Response: "coming"}, wache.EFORBIDDEN},
			{"outsider", s.outsider, api.AlarmResponseRequest{Response: "coming"}, wache.ENOTFOUND},
			{"neighbour before escalation", s.neighbour, api.AlarmResponseRequest{Response: "coming"}, wache.ENOTFOUND},
			{"unknown response", s.officers[1], api.AlarmResponseRequest{Response: "maybe"}, wache.EINVALID},
			{"negative eta", s.officers[1], api.AlarmResponseRequest{Response: "coming", ETASeconds: -1}, wache.EINVALID},
			{"eta too large", s.officers[1], api.AlarmResponseRequest{Response: "coming", ETASeconds: 86401}, wache.EINVALID},
			{"eta with cannot", s.officers[1], api.AlarmResponseRequest{Response: "cannot", ETASeconds: 60}, wache.EINVALID},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := f.svc.Respond(f.ctx, tc.who.u, tc.who.d, a.ID, tc.req)
				wantCode(t, err, tc.code)
			})
		}
		_, err = f.svc.Get(f.ctx, s.outsider.u, a.ID)
		wantCode(t, err, wache.ENOTFOUND)

		// One cannot (said twice: replaced, not added), one coming: still raised.
		_, err = f.svc.Respond(f.ctx, s.officers[2].u, s.officers[2].d, a.ID, api.AlarmResponseRequest{Response: "cannot"})
		must(t, err)
		_, err = f.svc.Respond(f.ctx, s.officers[2].u, s.officers[2].d, a.ID, api.AlarmResponseRequest{Response: "cannot"})
		must(t, err)
		a2, err := f.svc.Respond(f.ctx, s.officers[1].u, s.officers[1].d, a.ID, api.AlarmResponseRequest{Response: "coming", ETASeconds: 120})
		must(t, err)
		if a2.State != api.AlarmRaised || len(a2.Responses) != 2 {
			t.Fatalf("after 1 coming: %s, %d responses", a2.State, len(a2.Responses))
		}
		// The dispatcher (not in the alarm group, but in dispatch) answers.
		a3, err := f.svc.Respond(f.ctx, s.dispatcher.u, s.dispatcher.d, a.ID, api.AlarmResponseRequest{Response: "coming", ETASeconds: 300})
		must(t, err)
		if a3.State != api.AlarmAcknowledged {
			t.Fatalf("after 2 coming: %s", a3.State)
		}
		if n := f.count(`SELECT COUNT(*) FROM alarms WHERE id = ? AND held_payload IS NULL`, a.ID); n != 1 {
			t.Fatal("held ciphertext kept after the alarm was acknowledged")
		}
		// The deadline passing no longer escalates.
		f.clk.Add(2 * time.Minute)
		must(t, f.svc.RunDue(f.ctx))
		a4, err := f.svc.Get(f.ctx, s.officers[3].u, a.ID)
		must(t, err)
		if a4.State != api.AlarmAcknowledged || a4.EscalatedAt != nil {
			t.Fatalf("acknowledged alarm escalated: %s", a4.State)
		}
		if n := f.count(`SELECT COUNT(*) FROM envelopes WHERE conv_id = ?`, s.escC.ID); n != 0 {
			t.Fatalf("%d envelopes released to the escalation group", n)
		}

		// Ending: not by another officer; by the raiser; then immutable.
		_, err = f.svc.End(f.ctx, s.officers[1].u, s.officers[1].d, a.ID, api.EndAlarmRequest{})
		wantCode(t, err, wache.EFORBIDDEN)
		_, err = f.svc.End(f.ctx, s.outsider.u, s.outsider.d, a.ID, api.EndAlarmRequest{})
		wantCode(t, err, wache.ENOTFOUND)
		e, err := f.svc.End(f.ctx, raiser.u, raiser.d, a.ID, api.EndAlarmRequest{})
		must(t, err)
		if e.State != api.AlarmEnded || e.EndedBy != raiser.u.ID || e.EndedAt == nil {
			t.Fatalf("ended %+v", e)
		}
		_, err = f.svc.End(f.ctx, s.dispatcher.u, s.dispatcher.d, a.ID, api.EndAlarmRequest{FalseAlarm: true})
		wantCode(t, err, wache.ECONFLICT)
		_, err = f.svc.Respond(f.ctx, s.officers[4].u, s.officers[4].d, a.ID, api.AlarmResponseRequest{Response: "coming"})
		wantCode(t, err, wache.ECONFLICT)
		if n := f.count(`SELECT COUNT(*) FROM alarms WHERE id = ? AND held_payload IS NULL`, a.ID); n != 1 {
			t.Fatal("held ciphertext kept after the alarm ended")
		}
		// Reminders of the alarm's messages stop with it.
		if n := f.count(`SELECT COUNT(*) FROM ack_requests WHERE closed_at IS NULL`); n != 0 {
			t.Fatalf("%d ack requests still open", n)
		}

		want := []string{"raised", "response", "response", "response", "response", "acknowledged", "ended"}
		if got := events(e); !slices.Equal(got, want) {
			t.Fatalf("timeline %v, want %v", got, want)
		}
		acts := strings.Join(f.auditActions(), " ")
		for _, w := range []string{"alarm.policy", "alarm.raised", "alarm.response", "alarm.acknowledged", "alarm.ended"} {
			if !strings.Contains(acts, w) {
				t.Fatalf("audit log lacks %s: %s", w, acts)
			}
		}
		// No content reaches the audit log: criteria carry ids and states only.
		var crit string
		must(t, f.db.QueryRow(f.ctx, `SELECT criteria FROM audit_log WHERE action = 'alarm.raised'`).Scan(&crit))
		if strings.Contains(crit, "mls-") {
			t.Fatalf("payload in audit: %s", crit)
		}

		// Visibility of lists.
		for _, tc := range []struct {
			who   person
			state string
			n     int
		}{
			{s.officers[3], "all", 1}, {s.officers[3], "active", 0}, {s.dispatcher, "all", 1},
			{s.outsider, "all", 0}, {s.neighbour, "all", 0},
		} {
			l, err := f.svc.List(f.ctx, tc.who.u, tc.state, 0)
			must(t, err)
			if len(l.Alarms) != tc.n {
				t.Fatalf("%s sees %d alarms (%s), want %d", tc.who.u.DisplayName, len(l.Alarms), tc.state, tc.n)
			}
		}
		_, err = f.svc.List(f.ctx, s.dispatcher.u, "bogus", 0)
		wantCode(t, err, wache.EINVALID)
	})
}

func TestRaiseErrors(t *testing.T) {
	forEachDB(t, func(t *testing.T, f *fixture) {
		s := f.setup(2)
		raiser := s.officers[0]
		noUnit := f.person("nounit", "")
		otherUnit := f.person("other", f.other)
		for _, tc := range []struct {
			name string
			who  person
			mod  func(r *api.RaiseAlarmRequest)
			code string
		}{
			{"no client id", raiser, func(r *api.RaiseAlarmRequest) { r.ClientID = "" }, wache.EINVALID},
			{"bad client id", raiser, func(r *api.RaiseAlarmRequest) { r.ClientID = "a b" }, wache.EINVALID},
			{"no envelopes", raiser, func(r *api.RaiseAlarmRequest) { r.Envelopes = nil }, wache.EINVALID},
			{"too many envelopes", raiser, func(r *api.RaiseAlarmRequest) {
				for i := 0; i < 4; i++ {
					r.Envelopes = append(r.Envelopes, api.AlarmEnvelope{ConvID: fmt.Sprint("c", i), ClientID: fmt.Sprint("x", i), Payload: []byte("p")})
				}
			}, wache.EINVALID},
			{"empty payload", raiser, func(r *api.RaiseAlarmRequest) { r.Envelopes[0].Payload = nil }, wache.EINVALID},
			{"huge payload", raiser, func(r *api.RaiseAlarmRequest) { r.Envelopes[0].Payload = make([]byte, wache.MaxPayload+1) }, wache.ETOOLARGE},
			{"same conv twice", raiser, func(r *api.RaiseAlarmRequest) { r.Envelopes[1].ConvID = r.Envelopes[0].ConvID }, wache.EINVALID},
			{"same client id twice", raiser, func(r *api.RaiseAlarmRequest) { r.Envelopes[1].ClientID = r.Envelopes[0].ClientID }, wache.EINVALID},
			{"negative epoch", raiser, func(r *api.RaiseAlarmRequest) { r.Envelopes[0].Epoch = -1 }, wache.EINVALID},
			{"foreign conversation", raiser, func(r *api.RaiseAlarmRequest) { r.Envelopes[1].ConvID = "elsewhere" }, wache.EINVALID},
			{"only dispatch", raiser, func(r *api.RaiseAlarmRequest) { r.Envelopes = r.Envelopes[1:] }, wache.EINVALID},
			{"escalation to wrong conv", raiser, func(r *api.RaiseAlarmRequest) { r.Escalation.ConvID = "elsewhere" }, wache.EINVALID},
			{"escalation into alarm conv", raiser, func(r *api.RaiseAlarmRequest) { r.Escalation.ConvID = r.Envelopes[0].ConvID }, wache.EINVALID},
			{"no unit", noUnit, nil, wache.EINVALID},
			{"unit without policy", otherUnit, nil, wache.EINVALID},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := s.raiseReq("bad-" + strings.ReplaceAll(tc.name, " ", "-"))
				if tc.mod != nil {
					tc.mod(&r)
				}
				_, err := f.svc.Raise(f.ctx, tc.who.u, tc.who.d, r)
				wantCode(t, err, tc.code)
			})
		}
		if n := f.count(`SELECT COUNT(*) FROM alarms`); n != 0 {
			t.Fatalf("%d alarms after bad requests", n)
		}
		// A raiser who is not in the escalation group cannot have it held.
		_, err := f.db.Exec(f.ctx, `DELETE FROM members WHERE conv_id = ? AND user_id = ?`, s.escC.ID, s.officers[1].u.ID)
		must(t, err)
		_, err = f.svc.Raise(f.ctx, s.officers[1].u, s.officers[1].d, s.raiseReq("noesc"))
		wantCode(t, err, wache.EFORBIDDEN)

		// Rate limit: three alarms in ten minutes, then ERATELIMIT.
		for i := 0; i < MaxAlarmsPerDevice; i++ {
			a, err := f.svc.Raise(f.ctx, raiser.u, raiser.d, s.raiseReq(fmt.Sprint("rl", i)))
			must(t, err)
			if a.Duplicate {
				t.Fatal("unexpected duplicate")
			}
			_, err = f.svc.End(f.ctx, raiser.u, raiser.d, a.ID, api.EndAlarmRequest{FalseAlarm: true})
			must(t, err)
		}
		_, err = f.svc.Raise(f.ctx, raiser.u, raiser.d, s.raiseReq("rl-over"))
		wantCode(t, err, wache.ERATELIMIT)
		// A retry of an earlier one is still answered.
		d, err := f.svc.Raise(f.ctx, raiser.u, raiser.d, s.raiseReq("rl0"))
		must(t, err)
		if !d.Duplicate || d.State != api.AlarmFalse {
			t.Fatalf("retry after end: %+v", d)
		}
		f.clk.Add(RateWindow + time.Second)
		_, err = f.svc.Raise(f.ctx, raiser.u, raiser.d, s.raiseReq("rl-later"))
		must(t, err)
	})
}

func TestSOSFlood(t *testing.T) {
	forEachDB(t, func(t *testing.T, f *fixture) {
		s := f.setup(2)
		raiser := s.officers[0]
		// Twenty presses at once with different client ids: one alarm.
		var wg sync.WaitGroup
		ids := make([]string, 20)
		errs := make([]error, 20)
		for i := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a, err := f.svc.Raise(f.ctx, raiser.u, raiser.d, s.raiseReq(fmt.Sprint("flood", i)))
				errs[i] = err
				if err == nil {
					ids[i] = a.ID
				}
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil && wache.ErrorCode(err) != wache.ERATELIMIT {
				t.Fatalf("press %d: %v", i, err)
			}
		}
		if n := f.count(`SELECT COUNT(*) FROM alarms`); n != 1 {
			t.Fatalf("%d alarms from one device's flood, want 1", n)
		}
		if n := f.count(`SELECT COUNT(*) FROM envelopes WHERE conv_id = ?`, s.alarmC.ID); n != 1 {
			t.Fatalf("%d envelopes in the alarm group from one flood, want 1", n)
		}
		for _, id := range ids {
			if id != "" && id != ids[slices.IndexFunc(ids, func(s string) bool { return s != "" })] {
				t.Fatalf("different alarms returned: %v", ids)
			}
		}
	})
}

func TestEscalation(t *testing.T) {
	forEachDB(t, func(t *testing.T, f *fixture) {
		s := f.setup(4)
		raiser := s.officers[0]
		a, err := f.svc.Raise(f.ctx, raiser.u, raiser.d, s.raiseReq("esc"))
		must(t, err)
		_, err = f.svc.Respond(f.ctx, s.officers[1].u, s.officers[1].d, a.ID, api.AlarmResponseRequest{Response: "coming", ETASeconds: 30})
		must(t, err)

		// Replacing the held ciphertext: raiser's device only, while raised.
		_, err = f.svc.ReplaceEscalation(f.ctx, s.officers[1].u, s.officers[1].d, a.ID, api.AlarmEnvelope{ConvID: s.escC.ID, ClientID: "esc-e2", Epoch: 1, Payload: []byte("x")})
		wantCode(t, err, wache.EFORBIDDEN)
		_, err = f.svc.ReplaceEscalation(f.ctx, raiser.u, raiser.d, a.ID, api.AlarmEnvelope{ConvID: s.alarmC.ID, ClientID: "esc-e2", Epoch: 1, Payload: []byte("x")})
		wantCode(t, err, wache.EINVALID)
		_, err = f.svc.ReplaceEscalation(f.ctx, raiser.u, raiser.d, a.ID, api.AlarmEnvelope{ConvID: s.escC.ID, ClientID: "esc-a", Epoch: 1, Payload: []byte("x")})
		wantCode(t, err, wache.ECONFLICT) // client id of a posted envelope
		_, err = f.svc.ReplaceEscalation(f.ctx, raiser.u, raiser.d, a.ID, api.AlarmEnvelope{ConvID: s.escC.ID, ClientID: "esc-e2", Epoch: 1, Payload: []byte("mls-escalation-2")})
		must(t, err)

		// Before the deadline nothing happens.
		f.clk.Add(59 * time.Second)
		must(t, f.svc.RunDue(f.ctx))
		if n := f.count(`SELECT COUNT(*) FROM envelopes WHERE conv_id = ?`, s.escC.ID); n != 0 {
			t.Fatal("released before the deadline")
		}
		// The node "restarts": a new service and relay on the same
		// database, plus a second node; both look at once.
		f.clk.Add(2 * time.Second)
		restarted, second := f.node(), f.node()
		var wg sync.WaitGroup
		counts := make([]int, 2)
		for i, n := range []*Service{restarted, second} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := n.escalateDue(context.Background())
				if err != nil {
					t.Error(err)
				}
				counts[i] = c
			}()
		}
		wg.Wait()
		if counts[0]+counts[1] != 1 {
			t.Fatalf("escalations %v, want exactly one", counts)
		}
		for i := 0; i < 3; i++ {
			must(t, restarted.RunDue(f.ctx))
			must(t, second.RunDue(f.ctx))
		}
		envs, err := f.st.Envelopes(f.ctx, s.escC.ID, 0, 10)
		must(t, err)
		if len(envs) != 1 || string(envs[0].Payload) != "mls-escalation-2" || envs[0].SenderDevice != raiser.d.ID ||
			envs[0].Priority != relay.PriorityAlarm || !envs[0].AckRequired {
			t.Fatalf("escalation envelopes %+v", envs)
		}
		e, err := f.svc.Get(f.ctx, s.neighbour.u, a.ID) // the neighbour now sees it
		must(t, err)
		if e.State != api.AlarmEscalated || e.EscalatedAt == nil {
			t.Fatalf("state %s", e.State)
		}
		want := []string{"raised", "response", "escalation_replaced", "escalated", "escalation_posted"}
		if got := events(e); !slices.Equal(got, want) {
			t.Fatalf("timeline %v, want %v", got, want)
		}
		if !slices.Contains(e.Envelopes, api.AlarmEnvelopeRef{ConvID: s.escC.ID, Seq: envs[0].Seq}) {
			t.Fatalf("envelopes %v lack the escalation", e.Envelopes)
		}
		if !f.frames.reached(api.FrameAlarm, s.neighbour.u.ID) {
			t.Fatal("the escalation group got no alarm frame")
		}
		// Escalated stays escalated; the neighbour may answer now.
		_, err = f.svc.Respond(f.ctx, s.neighbour.u, s.neighbour.d, a.ID, api.AlarmResponseRequest{Response: "coming", ETASeconds: 600})
		must(t, err)
		e, err = f.svc.Respond(f.ctx, s.officers[2].u, s.officers[2].d, a.ID, api.AlarmResponseRequest{Response: "coming"})
		must(t, err)
		if e.State != api.AlarmEscalated || len(e.Responses) != 3 {
			t.Fatalf("after escalation: %s with %d responses", e.State, len(e.Responses))
		}
		_, err = f.svc.ReplaceEscalation(f.ctx, raiser.u, raiser.d, a.ID, api.AlarmEnvelope{ConvID: s.escC.ID, ClientID: "esc-e3", Payload: []byte("x")})
		wantCode(t, err, wache.ECONFLICT)
		// The dispatcher ends it as a false alarm.
		e, err = f.svc.End(f.ctx, s.dispatcher.u, s.dispatcher.d, a.ID, api.EndAlarmRequest{FalseAlarm: true})
		must(t, err)
		if e.State != api.AlarmFalse {
			t.Fatalf("state %s", e.State)
		}
		for _, act := range []string{"alarm.escalated", "alarm.escalation_posted", "alarm.false_alarm"} {
			if n := strings.Count(strings.Join(f.auditActions(), " ")+" ", act+" "); n != 1 {
				t.Fatalf("%d %s audit entries, want 1", n, act)
			}
		}
	})
}

// TestEscalationFailure: a revoked raising device cannot release the held
// ciphertext; the alarm still escalates and records why.
func TestEscalationFailure(t *testing.T) {
	f := newFixture(t, backends()[0].open(t))
	s := f.setup(2)
	raiser := s.officers[0]
	a, err := f.svc.Raise(f.ctx, raiser.u, raiser.d, s.raiseReq("revoked"))
	must(t, err)
	must(t, f.st.RevokeDevice(f.ctx, raiser.d.ID, time.Now()))
	f.clk.Add(61 * time.Second)
	must(t, f.svc.RunDue(f.ctx))
	must(t, f.svc.RunDue(f.ctx))
	e, err := f.svc.Get(f.ctx, s.dispatcher.u, a.ID)
	must(t, err)
	if e.State != api.AlarmEscalated || !slices.Equal(events(e), []string{"raised", "escalated", "escalation_failed"}) {
		t.Fatalf("%s %v", e.State, events(e))
	}
	if n := f.count(`SELECT COUNT(*) FROM envelopes WHERE conv_id = ?`, s.escC.ID); n != 0 {
		t.Fatal("posted for a revoked device")
	}
}

// TestRealTimer runs the polling loop with the real clock: the alarm is
// raised at the real time, then the service's clock runs 9 s ahead so
// that the 10-second minimum window ends about a second later.
func TestRealTimer(t *testing.T) {
	f := newFixture(t, backends()[0].open(t))
	s := f.setup(2)
	svc := f.node()
	svc.now = time.Now
	svc.poll = 100 * time.Millisecond
	_, err := svc.SetPolicy(f.ctx, s.admin.u, f.unit, api.AlarmPolicy{AlarmConvID: s.alarmC.ID, DispatchConvID: s.dispatchC.ID,
		EscalationConvID: s.escC.ID, MinComing: 1, WindowSeconds: 10})
	must(t, err)
	a, err := svc.Raise(f.ctx, s.officers[0].u, s.officers[0].d, s.raiseReq("real"))
	must(t, err)
	svc.now = func() time.Time { return time.Now().Add(9 * time.Second) }
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan struct{})
	go func() { defer close(done); svc.Run(ctx) }()
	defer func() { cancel(); <-done }()
	start := time.Now()
	for {
		e, err := svc.Get(f.ctx, s.dispatcher.u, a.ID)
		must(t, err)
		if e.State == api.AlarmEscalated && slices.Contains(events(e), "escalation_posted") {
			if time.Since(start) < 500*time.Millisecond {
				t.Fatalf("escalated after %v, before the window closed", time.Since(start))
			}
			break
		}
		if time.Since(start) > 8*time.Second {
			t.Fatalf("not escalated by the running timer: %s %v", e.State, events(e))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
