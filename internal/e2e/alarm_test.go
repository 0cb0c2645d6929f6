package e2e

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
	"github.com/wache/wache/client"
	"github.com/wache/wache/internal/accounts"
	"github.com/wache/wache/internal/harness"
)

// alarmDevice is a device that also records alarm and reminder frames.
type alarmDevice struct {
	*device
	stop      context.CancelFunc
	fmu       sync.Mutex
	alarms    []api.Alarm
	reminders []string // "conv/seq"
}

func (d *alarmDevice) listen(t *testing.T, ctx context.Context) {
	t.Helper()
	lctx, cancel := context.WithCancel(ctx)
	d.stop = cancel
	synced := make(chan struct{})
	var once sync.Once
	go d.m.Listen(lctx, client.ListenHandler{
		Synced: func() { once.Do(func() { close(synced) }) },
		Alarm: func(a api.Alarm) {
			d.fmu.Lock()
			d.alarms = append(d.alarms, a)
			d.fmu.Unlock()
		},
		Reminder: func(conv string, seq int64) {
			d.fmu.Lock()
			d.reminders = append(d.reminders, fmt.Sprintf("%s/%d", conv, seq))
			d.fmu.Unlock()
		},
	})
	select {
	case <-synced:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: listen did not sync", d.name)
	}
}

// sosCopies returns the decrypted SOS messages of an alarm on this device.
func (d *alarmDevice) sosCopies(clientID string) []client.Message {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []client.Message
	for _, m := range d.got {
		if m.Payload.Type == client.TypeAlarm && m.Payload.Alarm != nil && m.Payload.Alarm.ClientID == clientID {
			out = append(out, m)
		}
	}
	return out
}

func (d *alarmDevice) lastFrame(alarmID string) *api.Alarm {
	d.fmu.Lock()
	defer d.fmu.Unlock()
	for i := len(d.alarms) - 1; i >= 0; i-- {
		if d.alarms[i].ID == alarmID {
			a := d.alarms[i]
			return &a
		}
	}
	return nil
}

func (d *alarmDevice) reminded(conv string, seq int64) bool {
	d.fmu.Lock()
	defer d.fmu.Unlock()
	return slices.Contains(d.reminders, fmt.Sprintf("%s/%d", conv, seq))
}

// unitFixture is a unit of officers with an alarm group (the unit and
// dispatch), a dispatch group, and an escalation group shared with a
// neighbouring unit, plus the unit's alarm policy.
type unitFixture struct {
	n          *harness.Node
	officers   []*alarmDevice
	dispatcher *alarmDevice
	neighbours []*alarmDevice
	admin      *client.Client
	unit       string
	alarmConv  string
	dispatch   string
	escalation string
	window     time.Duration
}

func (f *unitFixture) all() []*alarmDevice {
	return append(append(slices.Clone(f.officers), f.dispatcher), f.neighbours...)
}

// userInUnit creates an officer of a unit (before the first login).
func userInUnit(t *testing.T, n *harness.Node, email, unitID string, role wache.Role) {
	t.Helper()
	u := &wache.User{ID: accounts.NewID(), OrgID: n.App.Org, UnitID: unitID, Email: email,
		DisplayName: "Officer " + email[:strings.IndexByte(email, '@')], Roles: []wache.Role{role}, CreatedAt: time.Now().UTC()}
	if err := n.App.Store.CreateUser(context.Background(), u); err != nil {
		t.Fatalf("create %s: %v", email, err)
	}
}

func newUnitFixture(t *testing.T, ctx context.Context, officers, neighbours int) *unitFixture {
	t.Helper()
	n := harness.Start(t, harness.Options{})
	st := n.App.Store
	f := &unitFixture{n: n, window: api.AlarmWindowMinSeconds * time.Second}
	unit := &wache.Unit{ID: accounts.NewID(), OrgID: n.App.Org, Name: "PI Altstadt (Test)"}
	near := &wache.Unit{ID: accounts.NewID(), OrgID: n.App.Org, Name: "PI Hafen (Test)"}
	for _, u := range []*wache.Unit{unit, near} {
		if err := st.CreateUnit(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	f.unit = unit.ID
	var officerMails, neighbourMails []string
	for i := 0; i < officers; i++ {
		e := fmt.Sprintf("altstadt%02d@%s", i, harness.Domain)
		userInUnit(t, n, e, unit.ID, wache.RoleOfficer)
		officerMails = append(officerMails, e)
	}
	for i := 0; i < neighbours; i++ {
		e := fmt.Sprintf("hafen%02d@%s", i, harness.Domain)
		userInUnit(t, n, e, near.ID, wache.RoleOfficer)
		neighbourMails = append(neighbourMails, e)
	}
	mk := func(email string) *alarmDevice {
		d := &alarmDevice{device: newDevice(t, n, email)}
		d.listen(t, ctx)
		return d
	}
	for _, e := range officerMails {
		f.officers = append(f.officers, mk(e))
	}
	f.dispatcher = mk("leitstelle@" + harness.Domain)
	for _, e := range neighbourMails {
		f.neighbours = append(f.neighbours, mk(e))
	}
	f.admin, _ = n.Login(t, "admin@"+harness.Domain)

	create := func(creator *alarmDevice, name string, members []string) string {
		conv, err := creator.m.CreateChat(ctx, api.CreateConversationRequest{Kind: "group", Name: name, Members: members})
		if err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		return conv.ID
	}
	leit := "leitstelle@" + harness.Domain
	f.alarmConv = create(f.officers[0], "Alarm PI Altstadt", append(slices.Clone(officerMails[1:]), leit))
	f.dispatch = create(f.dispatcher, "Leitstelle – PI Altstadt", officerMails)
	f.escalation = create(f.officers[0], "Nachbarschaftshilfe Altstadt/Hafen", append(slices.Clone(officerMails[1:]), neighbourMails...))
	// Every device must hold all three groups before an alarm can reach it.
	for _, d := range f.all() {
		for _, c := range []string{f.alarmConv, f.dispatch, f.escalation} {
			if d == f.dispatcher && c == f.escalation || slices.Contains(f.neighbours, d) && c != f.escalation {
				continue
			}
			waitFor(t, d.name+" to join "+c, 60*time.Second, func() bool { g, _ := d.m.Group(ctx, c); return g != nil })
		}
	}
	if _, err := f.admin.SetAlarmPolicy(ctx, api.AlarmPolicy{UnitID: unit.ID, AlarmConvID: f.alarmConv, DispatchConvID: f.dispatch,
		EscalationConvID: f.escalation, MinComing: 3, WindowSeconds: int(f.window / time.Second), UpdateSeconds: 1}); err != nil {
		t.Fatalf("set policy: %v", err)
	}
	return f
}

func sosAt(note string, lat, lon float64) client.SOS {
	return client.SOS{Note: note, Location: &client.Location{Lat: lat, Lon: lon, Accuracy: 12, Time: time.Now().UTC()}}
}

// waitSOS waits until every device decrypted the alarm's SOS once.
func waitSOS(t *testing.T, devs []*alarmDevice, a *api.Alarm, within time.Duration) {
	t.Helper()
	for _, d := range devs {
		waitFor(t, d.name+" to decrypt the SOS", within, func() bool { return len(d.sosCopies(a.ClientID)) > 0 })
		m := d.sosCopies(a.ClientID)[0]
		if m.Undecryptable != "" || m.Priority != api.PriorityAlarm || !m.AckRequired || m.SenderID != a.RaisedBy {
			t.Fatalf("%s got %+v", d.name, m)
		}
	}
}

// TestAlarmUnit is the scenario on one node (SQLite): a unit of 50
// officers, a dispatcher and a neighbouring unit.
//   - SOS, 3 answer "coming" within the window: acknowledged, the
//     escalation group never receives it.
//   - SOS, nobody answers: after the window the neighbours decrypt the
//     escalation copy, once.
//   - priority message with acknowledgement: per-member delivered, read,
//     acknowledged; reminders as frames for those who did not acknowledge.
//   - bad input: forged positions refused on the device; repeated presses
//     give the same alarm; responses and ends without the right refused.
//   - the server restarts mid-alarm (same data directory); the timer still
//     fires, once.
func TestAlarmUnit(t *testing.T) {
	if testing.Short() {
		t.Skip("50-officer alarm scenario")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	f := newUnitFixture(t, ctx, 50, 5)
	unit := append(slices.Clone(f.officers), f.dispatcher)

	t.Run("coming in time, no escalation", func(t *testing.T) {
		raiser := f.officers[1]
		a, err := raiser.m.RaiseSOS(ctx, sosAt("Angriff mit Messer, Altmarkt 3", 51.2277, 6.7735))
		if err != nil {
			t.Fatal(err)
		}
		if a.State != api.AlarmRaised || a.Duplicate || a.RaisedBy != raiser.m.Profile().UserID || len(a.Envelopes) != 2 {
			t.Fatalf("raised %+v", a)
		}
		others := slices.DeleteFunc(slices.Clone(unit), func(d *alarmDevice) bool { return d == raiser })
		waitSOS(t, others, a, 20*time.Second)
		got := f.dispatcher.sosCopies(a.ClientID)[0].Payload.Alarm
		if got.Note != "Angriff mit Messer, Altmarkt 3" || got.Location.Lat != 51.2277 || got.Location.Lon != 6.7735 {
			t.Fatalf("dispatch decrypted %+v", got)
		}
		// Live positions reach the dispatch view.
		for i, lat := range []float64{51.2280, 51.2285} {
			if n, err := raiser.m.SendAlarmPosition(ctx, a, client.Location{Lat: lat, Lon: 6.774, Accuracy: 5, Time: time.Now().UTC().Add(time.Duration(i) * time.Millisecond)}); err != nil || n != 2 {
				t.Fatalf("live position: sent to %d conversations, %v", n, err)
			}
		}
		waitFor(t, "dispatch to see the last position", 10*time.Second, func() bool {
			c, _ := f.dispatcher.m.AlarmContent(ctx, a)
			return c != nil && c.Location != nil && c.Location.Lat == 51.2285 && c.Updates == 2 && c.Note != ""
		})
		// Three answer coming in time.
		var last *api.Alarm
		for i, d := range f.officers[10:13] {
			last, err = d.m.API.RespondAlarm(ctx, a.ID, api.AlarmResponseRequest{Response: api.ResponseComing, ETASeconds: 120 + 60*i})
			if err != nil {
				t.Fatal(err)
			}
		}
		if _, err := f.officers[13].m.API.RespondAlarm(ctx, a.ID, api.AlarmResponseRequest{Response: api.ResponseCannot}); err != nil {
			t.Fatal(err)
		}
		if last.State != api.AlarmAcknowledged {
			t.Fatalf("after 3 coming: state %s", last.State)
		}
		waitFor(t, "the raiser to see who is coming", 10*time.Second, func() bool {
			fr := raiser.lastFrame(a.ID)
			return fr != nil && fr.State == api.AlarmAcknowledged && len(fr.Responses) == 4
		})
		// Past the window: still acknowledged, the neighbours never got it.
		time.Sleep(time.Until(a.Deadline) + 3*time.Second)
		now, err := f.dispatcher.m.API.Alarm(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if now.State != api.AlarmAcknowledged || now.EscalatedAt != nil {
			t.Fatalf("after the window: %+v", now)
		}
		for _, d := range f.neighbours {
			if n := len(d.sosCopies(a.ClientID)); n != 0 {
				t.Fatalf("%s (escalation group) received the alarm %d times without escalation", d.name, n)
			}
			if d.lastFrame(a.ID) != nil {
				t.Fatalf("%s saw the alarm without escalation", d.name)
			}
		}
		// Every recipient's device said "delivered" by itself.
		var seq int64
		for _, e := range a.Envelopes {
			if e.ConvID == f.alarmConv {
				seq = e.Seq
			}
		}
		waitFor(t, "delivered receipts from the whole alarm group", 20*time.Second, func() bool {
			r, err := raiser.m.API.Receipts(ctx, f.alarmConv, seq, client.ReceiptsQuery{})
			return err == nil && r.Recipients == 50 && r.Delivered == 50
		})
		// Dispatch ends it; the raiser's device stops its live position.
		ended, err := f.dispatcher.m.EndAlarm(ctx, a.ID, false)
		if err != nil || ended.State != api.AlarmEnded {
			t.Fatalf("end: %+v, %v", ended, err)
		}
		if err := raiser.m.FinishAlarm(ctx, ended); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "dispatch to see the live position end", 10*time.Second, func() bool {
			c, _ := f.dispatcher.m.AlarmContent(ctx, a)
			return c != nil && c.Stopped
		})
	})

	t.Run("nobody answers, escalation", func(t *testing.T) {
		raiser := f.officers[2]
		a, err := raiser.m.RaiseSOS(ctx, sosAt("Schüsse, Bahnhofsvorplatz", 51.2200, 6.7940))
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.neighbours {
			if len(d.sosCopies(a.ClientID)) != 0 {
				t.Fatalf("%s got the alarm before escalation", d.name)
			}
		}
		for _, d := range f.neighbours {
			waitFor(t, d.name+" (escalation group) to decrypt the alarm", f.window+15*time.Second, func() bool { return len(d.sosCopies(a.ClientID)) > 0 })
			m := d.sosCopies(a.ClientID)[0]
			if m.Undecryptable != "" || m.Payload.Alarm.Note != "Schüsse, Bahnhofsvorplatz" || m.Payload.Alarm.Location.Lat != 51.22 || m.Priority != api.PriorityAlarm {
				t.Fatalf("%s got %+v", d.name, m)
			}
			if m.Time.Before(a.Deadline.Add(-time.Second)) {
				t.Fatalf("escalation released at %v, before the deadline %v", m.Time, a.Deadline)
			}
			waitFor(t, d.name+" to get the alarm frame", 10*time.Second, func() bool {
				fr := d.lastFrame(a.ID)
				return fr != nil && fr.State == api.AlarmEscalated
			})
		}
		now, err := raiser.m.API.Alarm(ctx, a.ID)
		if err != nil || now.State != api.AlarmEscalated || now.EscalatedAt == nil || now.EscalatedAt.Before(a.Deadline) {
			t.Fatalf("escalated alarm %+v, %v", now, err)
		}
		// A neighbour may now answer; escalated stays escalated.
		if x, err := f.neighbours[0].m.API.RespondAlarm(ctx, a.ID, api.AlarmResponseRequest{Response: api.ResponseComing, ETASeconds: 300}); err != nil || x.State != api.AlarmEscalated {
			t.Fatalf("neighbour responds: %+v, %v", x, err)
		}
		// Live positions now go to the escalation group as well.
		if n, err := raiser.m.SendAlarmPosition(ctx, now, client.Location{Lat: 51.2201, Lon: 6.7941, Time: time.Now().UTC()}); err != nil || n != 3 {
			t.Fatalf("live position after escalation: %d conversations, %v", n, err)
		}
		time.Sleep(2 * time.Second)
		for _, d := range f.neighbours {
			if n := len(d.sosCopies(a.ClientID)); n != 1 {
				t.Fatalf("%s decrypted the escalation %d times", d.name, n)
			}
		}
		if x, err := raiser.m.EndAlarm(ctx, a.ID, false); err != nil || x.State != api.AlarmEnded {
			t.Fatalf("raiser ends: %+v, %v", x, err)
		}
	})

	t.Run("acknowledgement flow", func(t *testing.T) {
		leit := f.dispatcher
		res, err := leit.m.SendWith(ctx, f.dispatch, text("Lagemeldung: Großlage Innenstadt, alle Kräfte quittieren"),
			client.SendOptions{Priority: api.PriorityUrgent, AckRequired: true, RemindAfter: api.RemindMinSeconds * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		sentAt := time.Now()
		received := func(d *alarmDevice) *client.Message {
			d.mu.Lock()
			defer d.mu.Unlock()
			for _, m := range d.got {
				if m.ConvID == f.dispatch && m.Seq == res.Seq {
					return &m
				}
			}
			return nil
		}
		for _, d := range f.officers {
			waitFor(t, d.name+" to receive the urgent message", 20*time.Second, func() bool { return received(d) != nil })
			if m := received(d); m.Priority != api.PriorityUrgent || !m.AckRequired {
				t.Fatalf("%s: priority %q ack %v", d.name, m.Priority, m.AckRequired)
			}
		}
		// The CLI shows messages to 10 officers (read); 5 acknowledge.
		for i, d := range f.officers[:10] {
			if err := d.m.MarkRead(ctx, *received(d)); err != nil {
				t.Fatal(err)
			}
			if i < 5 {
				if err := d.m.Acknowledge(ctx, f.dispatch, res.Seq); err != nil {
					t.Fatal(err)
				}
			}
		}
		var r *api.Receipts
		waitFor(t, "receipt counts", 20*time.Second, func() bool {
			r, err = leit.m.API.Receipts(ctx, f.dispatch, res.Seq, client.ReceiptsQuery{})
			return err == nil && r.Delivered == 50 && r.Read == 10 && r.Acknowledged == 5
		})
		if r.Recipients != 50 || r.Priority != api.PriorityUrgent || len(r.Members) != 50 {
			t.Fatalf("receipts %+v", r)
		}
		byMail := map[string]api.MemberReceipt{}
		for _, mr := range r.Members {
			byMail[mr.Email] = mr
		}
		for i, d := range f.officers {
			mr := byMail[d.name]
			wantRead, wantAck := i < 10, i < 5
			if mr.DeliveredAt == nil || (mr.ReadAt != nil) != wantRead || (mr.AcknowledgedAt != nil) != wantAck {
				t.Fatalf("%s: delivered %v read %v acknowledged %v", d.name, mr.DeliveredAt, mr.ReadAt, mr.AcknowledgedAt)
			}
		}
		pend, err := leit.m.API.Receipts(ctx, f.dispatch, res.Seq, client.ReceiptsQuery{Pending: true, Limit: 20})
		if err != nil || len(pend.Members) != 20 || pend.Acknowledged != 5 {
			t.Fatalf("pending page: %+v, %v", pend, err)
		}
		for _, mr := range pend.Members {
			if mr.AcknowledgedAt != nil {
				t.Fatalf("pending lists %s who acknowledged", mr.Email)
			}
		}
		// Only the sender and the chat's admins see receipts.
		if _, err := f.officers[20].m.API.Receipts(ctx, f.dispatch, res.Seq, client.ReceiptsQuery{}); wache.ErrorCode(err) != wache.EFORBIDDEN {
			t.Fatalf("a member reads receipts: %v", err)
		}
		// Reminders arrive as frames for those who did not acknowledge.
		waitFor(t, "reminders", time.Until(sentAt.Add(api.RemindMinSeconds*time.Second))+20*time.Second, func() bool {
			return f.officers[20].reminded(f.dispatch, res.Seq) && f.officers[7].reminded(f.dispatch, res.Seq)
		})
		for _, d := range append(slices.Clone(f.officers[:5]), leit) {
			if d.reminded(f.dispatch, res.Seq) {
				t.Fatalf("%s was reminded although it acknowledged or sent", d.name)
			}
		}
		if err := leit.m.API.CloseAckRequest(ctx, f.dispatch, res.Seq); err != nil {
			t.Fatal(err)
		}
		if r, err := leit.m.API.Receipts(ctx, f.dispatch, res.Seq, client.ReceiptsQuery{Limit: 1}); err != nil || r.ClosedAt == nil {
			t.Fatalf("after close: %+v, %v", r, err)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		raiser := f.officers[4]
		before, err := f.dispatcher.m.API.Alarms(ctx, true, 0)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		long := strings.Repeat("x", client.MaxAlarmNote+1)
		for _, tc := range []struct {
			name string
			sos  client.SOS
		}{
			{"latitude 91", client.SOS{Location: &client.Location{Lat: 91, Lon: 6, Time: now}}},
			{"latitude -90.5", client.SOS{Location: &client.Location{Lat: -90.5, Lon: 6, Time: now}}},
			{"longitude 181", client.SOS{Location: &client.Location{Lat: 51, Lon: 181, Time: now}}},
			{"longitude -Inf", client.SOS{Location: &client.Location{Lat: 51, Lon: math.Inf(-1), Time: now}}},
			{"NaN", client.SOS{Location: &client.Location{Lat: math.NaN(), Lon: 6, Time: now}}},
			{"negative accuracy", client.SOS{Location: &client.Location{Lat: 51, Lon: 6, Accuracy: -1, Time: now}}},
			{"no time", client.SOS{Location: &client.Location{Lat: 51, Lon: 6}}},
			{"note too long", client.SOS{Note: long}},
			{"note not UTF-8", client.SOS{Note: "\xff\xfe"}},
		} {
			if _, err := raiser.m.RaiseSOS(ctx, tc.sos); wache.ErrorCode(err) != wache.EINVALID {
				t.Errorf("%s: %v, want EINVALID", tc.name, err)
			}
		}
		after, err := f.dispatcher.m.API.Alarms(ctx, true, 0)
		if err != nil || len(after) != len(before) {
			t.Fatalf("refused presses created alarms: %d → %d (%v)", len(before), len(after), err)
		}

		// A flood of presses, at once and after each other: one alarm.
		var wg sync.WaitGroup
		ids := make([]string, 6)
		dups := make([]bool, 6)
		errs := make([]error, 6)
		for i := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a, err := raiser.m.RaiseSOS(ctx, sosAt("Hilfe", 51.23, 6.78))
				if err == nil {
					ids[i], dups[i] = a.ID, a.Duplicate
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		for i := range ids {
			if errs[i] != nil || ids[i] != ids[0] {
				t.Fatalf("press %d: %s, %v (first: %s)", i, ids[i], errs[i], ids[0])
			}
		}
		if n := len(slices.DeleteFunc(slices.Clone(dups), func(d bool) bool { return d })); n != 1 {
			t.Fatalf("%d presses created an alarm, want 1", n)
		}
		a, err := raiser.m.RaiseSOS(ctx, sosAt("Hilfe", 51.23, 6.78))
		if err != nil || a.ID != ids[0] || !a.Duplicate {
			t.Fatalf("a later press: %+v, %v", a, err)
		}
		// Forged live positions never leave the device.
		for _, l := range []client.Location{{Lat: 95, Lon: 6, Time: now}, {Lat: 51, Lon: -200, Time: now}, {Lat: 51, Lon: 6, Accuracy: math.NaN(), Time: now}} {
			if _, err := raiser.m.SendAlarmPosition(ctx, a, l); wache.ErrorCode(err) != wache.EINVALID {
				t.Errorf("position %+v: %v, want EINVALID", l, err)
			}
		}
		// No answering one's own alarm; neighbours see nothing before
		// escalation; only the raiser or dispatch ends it.
		if _, err := raiser.m.API.RespondAlarm(ctx, a.ID, api.AlarmResponseRequest{Response: api.ResponseComing}); err == nil {
			t.Error("the raiser answered their own alarm")
		}
		if _, err := f.neighbours[0].m.API.RespondAlarm(ctx, a.ID, api.AlarmResponseRequest{Response: api.ResponseComing}); err == nil {
			t.Error("a neighbour answered an alarm that was not escalated")
		}
		if _, err := f.officers[30].m.API.RespondAlarm(ctx, a.ID, api.AlarmResponseRequest{Response: "maybe"}); wache.ErrorCode(err) != wache.EINVALID {
			t.Errorf("response maybe: %v", err)
		}
		if _, err := f.officers[30].m.API.RespondAlarm(ctx, a.ID, api.AlarmResponseRequest{Response: api.ResponseComing, ETASeconds: -5}); wache.ErrorCode(err) != wache.EINVALID {
			t.Errorf("negative ETA: %v", err)
		}
		if _, err := f.officers[30].m.API.EndAlarm(ctx, a.ID, false); wache.ErrorCode(err) != wache.EFORBIDDEN {
			t.Errorf("a colleague ends the alarm: %v, want EFORBIDDEN", err)
		}
		if _, err := f.neighbours[0].m.API.EndAlarm(ctx, a.ID, true); err == nil {
			t.Error("a neighbour ended the alarm")
		}
		x, err := raiser.m.EndAlarm(ctx, a.ID, true)
		if err != nil || x.State != api.AlarmFalse {
			t.Fatalf("false alarm: %+v, %v", x, err)
		}
		if _, err := f.dispatcher.m.API.EndAlarm(ctx, a.ID, false); wache.ErrorCode(err) != wache.ECONFLICT {
			t.Errorf("ending an ended alarm: %v, want ECONFLICT", err)
		}
		if act, _ := raiser.m.ActiveAlarm(ctx); act != nil {
			t.Errorf("the device still holds its ended alarm: %+v", act)
		}
	})

	t.Run("lost answers: the kept request is sent again, one alarm", func(t *testing.T) {
		raiser := f.officers[5]
		real := raiser.m.API
		defer func() { raiser.m.API = real }()
		// A proxy that forwards everything but loses the answer to every
		// alarm request: the server has the alarm, the device does not know.
		target, _ := url.Parse(f.n.URL)
		rp := httputil.NewSingleHostReverseProxy(target)
		proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == "POST" && r.URL.Path == api.Version+"/alarms" {
				rp.ServeHTTP(httptest.NewRecorder(), r)
				http.Error(w, "gateway lost the answer", http.StatusBadGateway)
				return
			}
			rp.ServeHTTP(w, r)
		}))
		defer proxy.Close()
		via, err := client.New(proxy.URL, raiser.m.Profile().Token)
		if err != nil {
			t.Fatal(err)
		}
		raiser.m.API = via
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		_, err = raiser.m.RaiseSOS(pctx, sosAt("Funkloch", 51.24, 6.79))
		pcancel()
		if wache.ErrorCode(err) != wache.EUNAVAILABLE {
			t.Fatalf("press behind a lossy link: %v, want EUNAVAILABLE", err)
		}
		// Back on a good link (or after a restart: the request is in the
		// device state), the outbox flush sends the same request again.
		raiser.m.API = real
		if left, err := raiser.m.FlushOutbox(ctx); err != nil || left != 0 {
			t.Fatalf("flush: %d left, %v", left, err)
		}
		act, err := raiser.m.ActiveAlarm(ctx)
		if err != nil || act == nil {
			t.Fatalf("no active alarm after the flush: %v", err)
		}
		a, err := raiser.m.RaiseSOS(ctx, sosAt("Funkloch", 51.24, 6.79))
		if err != nil || a.ID != act.AlarmID || !a.Duplicate {
			t.Fatalf("next press: %+v, %v (kept alarm %s)", a, err, act.AlarmID)
		}
		mine := 0
		list, err := f.dispatcher.m.API.Alarms(ctx, true, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range list {
			if x.RaisedBy == raiser.m.Profile().UserID {
				mine++
			}
		}
		if mine != 1 {
			t.Fatalf("%d alarms for one emergency", mine)
		}
		waitSOS(t, []*alarmDevice{f.dispatcher}, a, 10*time.Second)
		time.Sleep(time.Second)
		// Dispatch is in the alarm group and the dispatch group: one copy each.
		per := map[string]int{}
		for _, m := range f.dispatcher.sosCopies(a.ClientID) {
			per[m.ConvID]++
		}
		if len(per) != 2 || per[f.alarmConv] != 1 || per[f.dispatch] != 1 {
			t.Fatalf("dispatch decrypted the SOS per conversation: %v", per)
		}
		if _, err := raiser.m.EndAlarm(ctx, a.ID, false); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("server restart mid-alarm", func(t *testing.T) {
		raiser := f.officers[3]
		a, err := raiser.m.RaiseSOS(ctx, sosAt("Verfolgung zu Fuß, Rheinufer", 51.2300, 6.7700))
		if err != nil {
			t.Fatal(err)
		}
		// The node goes down before the deadline and comes back after it.
		for _, d := range f.all() {
			d.stop()
		}
		f.n.Stop()
		time.Sleep(time.Until(a.Deadline) + time.Second)
		n2 := harness.Start(t, harness.Options{DataDir: f.n.Data})
		for _, d := range f.all() {
			cl, err := client.New(n2.URL, d.m.Profile().Token)
			if err != nil {
				t.Fatal(err)
			}
			d.m.API = cl
			d.listen(t, ctx)
		}
		for _, d := range f.neighbours {
			waitFor(t, d.name+" to decrypt the escalation after the restart", 20*time.Second, func() bool { return len(d.sosCopies(a.ClientID)) > 0 })
		}
		time.Sleep(3 * time.Second) // time for a second firing, which must not happen
		for _, d := range f.neighbours {
			if n := len(d.sosCopies(a.ClientID)); n != 1 {
				t.Fatalf("%s decrypted the escalation %d times", d.name, n)
			}
		}
		x, err := f.dispatcher.m.API.Alarm(ctx, a.ID)
		if err != nil || x.State != api.AlarmEscalated {
			t.Fatalf("after restart: %+v, %v", x, err)
		}
		escalations := 0
		for _, e := range x.Timeline {
			if e.Event == "escalated" {
				escalations++
			}
		}
		if escalations != 1 {
			t.Fatalf("timeline has %d escalations: %+v", escalations, x.Timeline)
		}
	})
}
