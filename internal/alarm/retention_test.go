package alarm

import (
	"fmt"
	"testing"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
)

// TestRetention: ended and false alarms older than the cut go with their
// responses, conversations and timeline; newer ones and active alarms stay
// however old they are.
func TestRetention(t *testing.T) {
	forEachDB(t, func(t *testing.T, f *fixture) {
		s := f.setup(4)
		raise := func(who person, id string) *api.Alarm {
			a, err := f.svc.Raise(f.ctx, who.u, who.d, s.raiseReq(id))
			must(t, err)
			return a
		}
		old := raise(s.officers[0], "old")
		_, err := f.svc.Respond(f.ctx, s.officers[1].u, s.officers[1].d, old.ID, api.AlarmResponseRequest{Response: "coming", ETASeconds: 120})
		must(t, err)
		_, err = f.svc.End(f.ctx, s.officers[0].u, s.officers[0].d, old.ID, api.EndAlarmRequest{})
		must(t, err)
		falseOld := raise(s.officers[1], "false")
		_, err = f.svc.End(f.ctx, s.officers[1].u, s.officers[1].d, falseOld.ID, api.EndAlarmRequest{FalseAlarm: true})
		must(t, err)
		active := raise(s.officers[2], "active") // raised long ago, never ended

		f.clk.Add(40 * 24 * time.Hour)
		recent := raise(s.officers[3], "recent")
		_, err = f.svc.End(f.ctx, s.officers[3].u, s.officers[3].d, recent.ID, api.EndAlarmRequest{})
		must(t, err)

		n, err := f.svc.DeleteEndedBefore(f.ctx, f.clk.Now().Add(-30*24*time.Hour))
		must(t, err)
		if n != 2 {
			t.Fatalf("deleted %d alarms, want 2", n)
		}
		for _, tc := range []struct {
			name string
			id   string
			gone bool
		}{{"ended 40 days ago", old.ID, true}, {"false alarm 40 days ago", falseOld.ID, true},
			{"active for 40 days", active.ID, false}, {"ended today", recent.ID, false}} {
			_, err := f.svc.Get(f.ctx, s.dispatcher.u, tc.id)
			if gone := wache.ErrorCode(err) == wache.ENOTFOUND; gone != tc.gone {
				t.Errorf("%s: gone %v (%v), want %v", tc.name, gone, err, tc.gone)
			}
			// Its conversations and timeline (and responses) go with it.
			for _, table := range []string{"alarm_convs", "alarm_events", "alarm_responses"} {
				var rows int
				must(t, f.db.QueryRow(f.ctx, `SELECT COUNT(*) FROM `+table+` WHERE alarm_id = ?`, tc.id).Scan(&rows))
				if tc.gone && rows != 0 || !tc.gone && rows == 0 && table != "alarm_responses" {
					t.Errorf("%s: %d rows in %s", tc.name, rows, table)
				}
			}
		}
		// Idempotent: nothing more to delete.
		if n, err := f.svc.DeleteEndedBefore(f.ctx, f.clk.Now().Add(-30*24*time.Hour)); err != nil || n != 0 {
			t.Fatalf("second run deleted %d (%v)", n, err)
		}
	})
}

// TestFrameAlarmBounds: a frame carries the newest events and responses
// within its bounds and says when it left some out.
func TestFrameAlarmBounds(t *testing.T) {
	mk := func(events, responses int) *api.Alarm {
		a := &api.Alarm{ID: "a"}
		for i := 0; i < events; i++ {
			a.Timeline = append(a.Timeline, api.AlarmEvent{Event: "response", Detail: fmt.Sprint(i)})
		}
		for i := 0; i < responses; i++ {
			a.Responses = append(a.Responses, api.AlarmResponse{UserID: fmt.Sprint(i), Response: "coming"})
		}
		return a
	}
	for _, tc := range []struct {
		name              string
		events, responses int
		partial           bool
	}{
		{"fresh alarm", 1, 0, false},
		{"at the bounds", frameEvents, frameResponses, false},
		{"long timeline", frameEvents + 1, 3, true},
		{"many responders", 5, frameResponses + 7, true},
	} {
		a := mk(tc.events, tc.responses)
		f := frameAlarm(a)
		if f.Partial != tc.partial || len(f.Timeline) != min(tc.events, frameEvents) || len(f.Responses) != min(tc.responses, frameResponses) {
			t.Errorf("%s: partial %v, %d events, %d responses", tc.name, f.Partial, len(f.Timeline), len(f.Responses))
		}
		if tc.events > frameEvents && f.Timeline[len(f.Timeline)-1].Detail != fmt.Sprint(tc.events-1) {
			t.Errorf("%s: the newest event was dropped", tc.name)
		}
		if a.Partial || len(a.Timeline) != tc.events {
			t.Errorf("%s: the alarm itself was changed", tc.name)
		}
	}
}
