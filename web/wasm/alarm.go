//go:build js && wasm

package main

// Issue 6 in the browser: SOS with live positions, answers, the dispatch
// view, priority messages with acknowledgement and their receipts, and Web
// Push registration. The CLI's `wache sos` loop (cmd/wache/alarm.go) is the
// model: raise through the client core's RaiseSOS, then send the newest
// position every UpdateSeconds until the alarm ends. The positions come
// from the UI (navigator.geolocation.watchPosition) through
// updateSOSPosition; the bridge only sends them.

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
	"sync"
	"syscall/js"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
	"github.com/wache/wache/client"
)

func init() {
	// Calls the UI makes by itself (on events, from watchPosition) are no
	// sign of a person at the device: they do not hold off the auto-lock.
	for _, n := range []string{"alarms", "alarm", "receipts", "priorityMessages", "markPriorityRead",
		"updateSOSPosition", "pushKey"} {
		passive[n] = true
	}
	eventNames["reminder"] = true
	eventNames["priority"] = true
}

func (b *bridge) alarmMethods() map[string]method {
	return map[string]method{
		"sos": b.sos, "updateSOSPosition": b.updateSOSPosition, "endAlarm": b.endAlarm,
		"respond": b.respond, "alarms": b.alarms, "alarm": b.alarm, "acknowledgeAlarm": b.acknowledgeAlarm,
		"acknowledge": b.acknowledge, "markPriorityRead": b.markPriorityRead, "receipts": b.receiptsOf,
		"closeAck": b.closeAck, "sendPriority": b.sendPriority, "priorityMessages": b.priorityMessages,
		"pushKey": b.pushKey, "subscribePush": b.subscribePush, "unsubscribePush": b.unsubscribePush,
	}
}

// alarmView is an alarm as the UI gets it: the server's state plus what
// this device decrypted (note, newest position of the raiser).
type alarmView struct {
	Alarm      api.Alarm             `json:"alarm"`
	Mine       bool                  `json:"mine"`
	Coming     int                   `json:"coming"`
	MyResponse string                `json:"my_response,omitempty"`
	Content    *client.AlarmSighting `json:"content,omitempty"`
	Names      map[string]string     `json:"names"` // user id → name, for the timeline
}

func (b *bridge) view(ctx context.Context, s *session, a *api.Alarm) alarmView {
	v := alarmView{Alarm: *a, Mine: a.RaisedBy == s.prof.UserID, Names: map[string]string{}}
	if v.Alarm.Responses == nil {
		v.Alarm.Responses = []api.AlarmResponse{}
	}
	if v.Alarm.Timeline == nil {
		v.Alarm.Timeline = []api.AlarmEvent{}
	}
	v.Names[a.RaisedBy] = a.RaisedByName
	for _, r := range a.Responses {
		if r.Response == api.ResponseComing {
			v.Coming++
		}
		if r.UserID == s.prof.UserID {
			v.MyResponse = r.Response
		}
		v.Names[r.UserID] = r.DisplayName
	}
	for _, e := range a.Timeline {
		if _, ok := v.Names[e.By]; e.By != "" && !ok {
			v.Names[e.By] = s.name(e.By, "")
		}
	}
	if c, err := s.m.AlarmContent(ctx, a); err == nil {
		v.Content = c
	}
	return v
}

// The running SOS of this device: one at a time (the server allows one
// active alarm per device).
type sosRun struct {
	mu     sync.Mutex
	s      *session
	alarm  *api.Alarm
	pos    *client.Location
	every  time.Duration
	sent   map[string]bool // conversations that got live positions
	kick   chan struct{}
	cancel context.CancelFunc
}

var sosState sosRun

func (r *sosRun) current(s *session) *api.Alarm {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.s != s || r.alarm == nil {
		return nil
	}
	a := *r.alarm
	return &a
}

func (r *sosRun) poke() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// startSOS starts (or keeps) the live position loop of this device's alarm.
func (b *bridge) startSOS(s *session, a *api.Alarm, every time.Duration, pos *client.Location) {
	r := &sosState
	r.mu.Lock()
	defer r.mu.Unlock()
	if pos != nil {
		r.pos = pos
	}
	if r.s == s && r.alarm != nil && r.alarm.ID == a.ID {
		r.alarm = a
		return
	}
	if r.cancel != nil {
		r.cancel()
	}
	if every <= 0 {
		every = api.AlarmUpdateDefaultSeconds * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.s, r.alarm, r.every, r.sent, r.cancel = s, a, every, map[string]bool{}, cancel
	r.kick = make(chan struct{}, 1)
	go b.sosLoop(ctx, s, r.kick)
	// The session ending (lock, logout) stops the loop; unlocking resumes it
	// (alarms() finds the device's active alarm).
	go func() {
		for {
			if b.sessionGone(s) {
				cancel()
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}()
}

func (b *bridge) sessionGone(s *session) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.s != s
}

func (b *bridge) sosLoop(ctx context.Context, s *session, kick chan struct{}) {
	r := &sosState
	r.mu.Lock()
	every := r.every
	r.mu.Unlock()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-kick:
		}
		r.mu.Lock()
		if r.s != s || r.alarm == nil {
			r.mu.Unlock()
			return
		}
		a := *r.alarm
		var pos *client.Location
		if r.pos != nil {
			p := *r.pos
			pos = &p
		}
		r.mu.Unlock()
		if !client.AlarmActive(a.State) {
			b.finishSOS(ctx, s, &a)
			return
		}
		if pos != nil && !b.positionsBacklogged(ctx, s, &a) {
			b.sendSOSPosition(ctx, s, &a, *pos)
		}
		rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		if _, err := s.m.RefreshEscalation(rctx, &a); err != nil && ctx.Err() == nil {
			b.log.Warn("escalation copy not renewed", "alarm", a.ID, "err", err)
		}
		cancel()
	}
}

// alarmConvs are where live positions go: the alarm's conversations and,
// once released, the escalation group.
func alarmConvs(a *api.Alarm) []string {
	convs := slices.Clone(a.ConvIDs)
	if a.EscalationConvID != "" && (a.State == api.AlarmEscalated || a.EscalatedAt != nil) && !slices.Contains(convs, a.EscalationConvID) {
		convs = append(convs, a.EscalationConvID)
	}
	return convs
}

// sendSOSPosition queues one live position per alarm conversation through
// the app's outbox and history (so it goes out when the link allows, and
// the officer's own chat shows it). LiveUntil rolls forward with every fix
// so receivers fold the fixes into one live entry instead of one message
// each; the stop at the end closes it.
func (b *bridge) sendSOSPosition(ctx context.Context, s *session, a *api.Alarm, pos client.Location) {
	now := time.Now().UTC()
	until := now.Add(time.Hour)
	pos.Time, pos.LiveUntil = now, &until
	if client.ValidateLocation(&pos) != nil {
		return
	}
	for _, conv := range alarmConvs(a) {
		if g, err := s.m.Group(ctx, conv); err != nil || g == nil {
			continue // e.g. the dispatch group this device is not in
		}
		loc := pos
		if _, err := b.queue(ctx, s, conv, "", client.Payload{V: 1, Type: client.TypeLiveLocation, Location: &loc, AlarmID: a.ID}); err != nil {
			b.log.Warn("alarm position", "conv", conv, "err", err)
			continue
		}
		sosState.mu.Lock()
		if sosState.sent != nil {
			sosState.sent[conv] = true
		}
		sosState.mu.Unlock()
	}
}

// positionsBacklogged: without a link, positions would pile up in the
// outbox (one per conversation per tick for as long as the link is down).
// While the outbox already holds a round of them, no more are queued; the
// newest fix goes out on the first tick after the link returns.
func (b *bridge) positionsBacklogged(ctx context.Context, s *session, a *api.Alarm) bool {
	n, err := s.m.OutboxLen(ctx)
	return err == nil && n >= 2*len(alarmConvs(a))
}

// finishSOS ends the live positions of an ended alarm: a stop to every
// conversation that got positions, and the device forgets the alarm.
func (b *bridge) finishSOS(ctx context.Context, s *session, a *api.Alarm) {
	r := &sosState
	r.mu.Lock()
	if r.s != s || r.alarm == nil || r.alarm.ID != a.ID {
		r.mu.Unlock()
		return
	}
	sent := r.sent
	r.alarm, r.pos, r.sent = nil, nil, nil
	if r.cancel != nil {
		r.cancel()
		r.cancel = nil
	}
	r.mu.Unlock()
	ctx = context.WithoutCancel(ctx)
	for conv := range sent {
		if _, err := b.queue(ctx, s, conv, "", client.Payload{V: 1, Type: client.TypeLiveStop, AlarmID: a.ID}); err != nil {
			b.log.Warn("alarm live stop", "conv", conv, "err", err)
		}
	}
	if err := s.m.ForgetActiveAlarm(ctx, a.ID); err != nil {
		b.reportError(err)
	}
	b.emit("alarm", map[string]any{"alarm": b.view(ctx, s, a)})
}

type positionArg struct {
	Lat      *float64 `json:"lat"`
	Lon      *float64 `json:"lon"`
	Accuracy float64  `json:"accuracy_m"`
}

func (p *positionArg) location() (*client.Location, error) {
	if p == nil {
		return nil, nil
	}
	if p.Lat == nil || p.Lon == nil {
		return nil, wache.Errorf(wache.EINVALID, "a position needs lat and lon")
	}
	l := &client.Location{Lat: *p.Lat, Lon: *p.Lon, Accuracy: p.Accuracy, Time: time.Now().UTC()}
	if err := client.ValidateLocation(l); err != nil {
		return nil, wache.Errorf(wache.EINVALID, "position refused: %s", err)
	}
	return l, nil
}

// sos({note?, position?}) raises an alarm and starts the live positions.
// Pressing again while the alarm is active gives the same alarm back.
func (b *bridge) sos(ctx context.Context, args []js.Value) (any, error) {
	s, err := b.current()
	if err != nil {
		return nil, err
	}
	var o struct {
		Note     string       `json:"note"`
		Position *positionArg `json:"position"`
	}
	if err := arg(args, 0, &o); err != nil {
		return nil, err
	}
	loc, err := o.Position.location()
	if err != nil {
		return nil, err
	}
	// RaiseSOS retries a lost link until its context ends; the request is
	// kept and sent again (same ids) by the next press.
	rctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	a, err := s.m.RaiseSOS(rctx, client.SOS{Note: o.Note, Location: loc})
	if err != nil {
		return nil, err
	}
	every := time.Duration(api.AlarmUpdateDefaultSeconds) * time.Second
	if act, _ := s.m.ActiveAlarm(ctx); act != nil && act.AlarmID == a.ID && act.UpdateSeconds > 0 {
		every = time.Duration(act.UpdateSeconds) * time.Second
	}
	if a.RaisedDevice == s.prof.DeviceID { // not an alarm of this user's other device
		b.startSOS(s, a, every, loc)
	}
	v := b.view(ctx, s, a)
	b.emit("alarm", map[string]any{"alarm": v})
	return v, nil
}

// updateSOSPosition feeds the newest position (from watchPosition); the
// loop sends it on its next tick. Without an active SOS it does nothing.
func (b *bridge) updateSOSPosition(ctx context.Context, args []js.Value) (any, error) {
	s, err := b.current()
	if err != nil {
		return nil, err
	}
	var p positionArg
	if err := arg(args, 0, &p); err != nil {
		return nil, err
	}
	loc, err := p.location()
	if err != nil {
		return nil, err
	}
	r := &sosState
	r.mu.Lock()
	first := r.pos == nil
	if r.s == s && r.alarm != nil {
		r.pos = loc
	}
	active := r.s == s && r.alarm != nil
	r.mu.Unlock()
	if active && first {
		r.poke() // the SOS went out without a position: send the first at once
	}
	return map[string]bool{"active": active}, nil
}

func (b *bridge) endAlarm(ctx context.Context, args []js.Value) (any, error) {
	s, id, err := b.currentWith(args)
	if err != nil {
		return nil, err
	}
	var o struct {
		FalseAlarm bool `json:"falseAlarm"`
	}
	if err := arg(args, 1, &o); err != nil {
		return nil, err
	}
	a, err := s.m.API.EndAlarm(ctx, id, o.FalseAlarm)
	if err != nil {
		return nil, err
	}
	b.alarmChanged(ctx, s, a)
	if cur := sosState.current(s); cur == nil || cur.ID != a.ID {
		_ = s.m.ForgetActiveAlarm(ctx, a.ID)
	}
	return b.view(ctx, s, a), nil
}

// alarmChanged updates the running SOS with the server's newest state;
// an ended alarm stops its live positions.
func (b *bridge) alarmChanged(ctx context.Context, s *session, a *api.Alarm) {
	r := &sosState
	r.mu.Lock()
	mine := r.s == s && r.alarm != nil && r.alarm.ID == a.ID
	if mine {
		x := *a
		r.alarm = &x
	}
	r.mu.Unlock()
	if mine && !client.AlarmActive(a.State) {
		b.finishSOS(ctx, s, a)
	}
}

// onAlarmFrame receives the server's alarm frames (any change of an alarm
// this user can see).
func (b *bridge) onAlarmFrame(s *session, a api.Alarm) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b.alarmChanged(ctx, s, &a)
	// This device's SOS that the core sent again by itself after the link
	// returned (the press had given up): its live positions start now.
	if a.RaisedDevice == s.prof.DeviceID && client.AlarmActive(a.State) && sosState.current(s) == nil {
		b.resumeSOS(ctx, s, []api.Alarm{a})
	}
	b.emit("alarm", map[string]any{"alarm": b.view(ctx, s, &a)})
}

func (b *bridge) onReminder(s *session, conv string, seq int64) {
	b.emit("reminder", map[string]any{"conv_id": conv, "seq": seq})
}

func (b *bridge) respond(ctx context.Context, args []js.Value) (any, error) {
	s, id, err := b.currentWith(args)
	if err != nil {
		return nil, err
	}
	resp, err := argString(args, 1)
	if err != nil {
		return nil, err
	}
	var eta int64
	if len(args) > 2 && args[2].Type() == js.TypeNumber {
		if eta, err = argInt(args, 2); err != nil {
			return nil, err
		}
	}
	if resp != api.ResponseComing && resp != api.ResponseCannot {
		return nil, wache.Errorf(wache.EINVALID, "answer coming or cannot")
	}
	if eta < 0 || eta > 86400 || (eta != 0 && resp != api.ResponseComing) {
		return nil, wache.Errorf(wache.EINVALID, "the ETA is 0 to 86400 seconds and goes with coming")
	}
	a, err := s.m.API.RespondAlarm(ctx, id, api.AlarmResponseRequest{Response: resp, ETASeconds: int(eta)})
	if err != nil {
		return nil, err
	}
	// An answer is an acknowledgement of the SOS message: the server stops
	// reminding this user of it.
	go func(refs []api.AlarmEnvelopeRef) {
		for _, e := range refs {
			actx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = s.m.API.PostReceipt(actx, e.ConvID, e.Seq, api.ReceiptAcknowledged)
			cancel()
		}
	}(a.Envelopes)
	v := b.view(ctx, s, a)
	b.emit("alarm", map[string]any{"alarm": v})
	return v, nil
}

// acknowledgeAlarm(id) confirms the SOS messages of an alarm without
// answering coming or cannot (dispatch: "taken note"); the server stops
// reminding this user of them.
func (b *bridge) acknowledgeAlarm(ctx context.Context, args []js.Value) (any, error) {
	s, id, err := b.currentWith(args)
	if err != nil {
		return nil, err
	}
	a, err := s.m.API.Alarm(ctx, id)
	if err != nil {
		return nil, err
	}
	n := 0
	var last error
	for _, e := range a.Envelopes {
		if err := s.m.API.PostReceipt(ctx, e.ConvID, e.Seq, api.ReceiptAcknowledged); err != nil {
			last = err // not a member of that conversation, or closed
			continue
		}
		n++
	}
	if n == 0 && last != nil {
		return nil, last
	}
	return map[string]int{"acknowledged": n}, nil
}

func (b *bridge) alarms(ctx context.Context, args []js.Value) (any, error) {
	s, err := b.current()
	if err != nil {
		return nil, err
	}
	var o struct {
		All   bool `json:"all"`
		Limit int  `json:"limit"`
	}
	if err := arg(args, 0, &o); err != nil {
		return nil, err
	}
	if o.Limit <= 0 || o.Limit > 200 {
		o.Limit = 50
	}
	list, err := s.m.API.Alarms(ctx, o.All, o.Limit)
	if err != nil {
		return nil, err
	}
	b.resumeSOS(ctx, s, list)
	out := make([]alarmView, 0, len(list))
	for i := range list {
		out = append(out, b.view(ctx, s, &list[i]))
	}
	return out, nil
}

// resumeSOS restarts the live positions of this device's alarm after a
// reload or an unlock; an alarm that ended meanwhile is forgotten.
func (b *bridge) resumeSOS(ctx context.Context, s *session, list []api.Alarm) {
	act, err := s.m.ActiveAlarm(ctx)
	if err != nil || act == nil || sosState.current(s) != nil {
		return
	}
	for i := range list {
		if list[i].ID == act.AlarmID && client.AlarmActive(list[i].State) {
			b.startSOS(s, &list[i], time.Duration(act.UpdateSeconds)*time.Second, nil)
			return
		}
	}
	if a, err := s.m.API.Alarm(ctx, act.AlarmID); err == nil && !client.AlarmActive(a.State) {
		_ = s.m.ForgetActiveAlarm(ctx, a.ID)
	} else if err == nil {
		b.startSOS(s, a, time.Duration(act.UpdateSeconds)*time.Second, nil)
	}
}

func (b *bridge) alarm(ctx context.Context, args []js.Value) (any, error) {
	s, id, err := b.currentWith(args)
	if err != nil {
		return nil, err
	}
	a, err := s.m.API.Alarm(ctx, id)
	if err != nil {
		return nil, err
	}
	return b.view(ctx, s, a), nil
}

// alarmText is how an SOS reads in the chat (the history shows it as a
// note; the alarm screen shows the rest).
func alarmText(a *client.AlarmInfo) string {
	if a == nil {
		return "🚨 SOS"
	}
	if a.Note != "" {
		return "🚨 SOS: " + a.Note
	}
	return "🚨 SOS"
}

// Priority messages. The history keeps the text; this index keeps which
// messages carry a priority or ask for acknowledgement (the envelope says
// so, not the payload), whether this user acknowledged them, and for own
// ones the sequence number for the receipts view. Sealed by the vault like
// the rest of the state; bounded.

const (
	keyPriority = "priority_index"
	maxPriority = 300
)

type prioEntry struct {
	ConvID      string     `json:"conv_id"`
	Seq         int64      `json:"seq"`
	LocalID     string     `json:"local_id,omitempty"`
	Mine        bool       `json:"mine"`
	Priority    string     `json:"priority,omitempty"`
	AckRequired bool       `json:"ack_required"`
	SenderID    string     `json:"sender_id"`
	SenderName  string     `json:"sender_name"`
	Time        time.Time  `json:"time"`
	Text        string     `json:"text"`
	AckedAt     *time.Time `json:"acknowledged_at,omitempty"`
	ReadSent    bool       `json:"read_sent,omitempty"`
}

var prioMu sync.Mutex

func loadPrio(ctx context.Context, s *session) ([]prioEntry, error) {
	raw, err := s.vault.Load(ctx, keyPriority)
	if err != nil || len(raw) == 0 {
		return nil, err
	}
	var es []prioEntry
	if json.Unmarshal(raw, &es) != nil {
		return nil, nil // a damaged index loses flags, never messages
	}
	return es, nil
}

func savePrio(ctx context.Context, s *session, es []prioEntry) error {
	if len(es) > maxPriority {
		es = es[len(es)-maxPriority:]
	}
	raw, err := json.Marshal(es)
	if err != nil {
		return err
	}
	return s.vault.Save(ctx, keyPriority, raw)
}

func updatePrio(ctx context.Context, s *session, fn func([]prioEntry) ([]prioEntry, bool)) ([]prioEntry, error) {
	prioMu.Lock()
	defer prioMu.Unlock()
	es, err := loadPrio(ctx, s)
	if err != nil {
		return nil, err
	}
	es, changed := fn(es)
	if changed {
		if err := savePrio(ctx, s, es); err != nil {
			return nil, err
		}
	}
	return es, nil
}

// alarmOnMessage sees every decrypted message (hooked into onMessage):
// priority messages go into the index; alarm traffic tells the alarm
// views to refresh (a new position).
func (b *bridge) alarmOnMessage(ctx context.Context, s *session, m client.Message) {
	p := m.Payload
	if m.Undecryptable == "" && (p.Type == client.TypeAlarm || p.AlarmID != "") {
		// The UI updates its view from this (no request to the server for
		// every live position of every alarm on every device).
		ev := map[string]any{"position": true, "conv_id": m.ConvID, "sender_id": m.SenderID}
		switch {
		case p.Type == client.TypeAlarm && p.Alarm != nil:
			ev["client_id"], ev["note"] = p.Alarm.ClientID, p.Alarm.Note
			if p.Alarm.Location != nil {
				ev["location"] = p.Alarm.Location
			}
		case p.Type == client.TypeLiveLocation && p.Location != nil:
			ev["alarm_id"], ev["location"] = p.AlarmID, p.Location
		case p.Type == client.TypeLiveStop:
			ev["alarm_id"], ev["stopped"] = p.AlarmID, true
		}
		b.emit("alarm", ev)
	}
	if (m.Priority == "" && !m.AckRequired) || p.Type == client.TypeReceipt || p.Type == client.TypeAlarm || m.Seq <= 0 {
		return
	}
	text := p.Text
	switch {
	case m.Undecryptable != "":
		text = ""
	case p.Type != client.TypeText:
		text = preview(p)
	}
	e := prioEntry{ConvID: m.ConvID, Seq: m.Seq, Mine: m.SenderID == s.prof.UserID, Priority: m.Priority, AckRequired: m.AckRequired,
		SenderID: m.SenderID, SenderName: s.name(m.SenderID, m.SenderEmail), Time: m.Time, Text: excerpt(text, 500)}
	_, err := updatePrio(ctx, s, func(es []prioEntry) ([]prioEntry, bool) {
		if slices.ContainsFunc(es, func(x prioEntry) bool { return x.ConvID == e.ConvID && x.Seq == e.Seq }) {
			return es, false
		}
		return append(es, e), true
	})
	if err != nil {
		b.reportError(err)
		return
	}
	b.emit("priority", map[string]any{"conv_id": m.ConvID, "seq": m.Seq})
}

func (b *bridge) sendPriority(ctx context.Context, args []js.Value) (any, error) {
	s, conv, err := b.currentWith(args)
	if err != nil {
		return nil, err
	}
	var o struct {
		Text        string `json:"text"`
		Priority    string `json:"priority"`
		AckRequired bool   `json:"ackRequired"`
		RemindAfter int    `json:"remindAfterS"`
	}
	if err := arg(args, 1, &o); err != nil {
		return nil, err
	}
	if o.Priority == "normal" {
		o.Priority = api.PriorityNormal
	}
	opts := client.SendOptions{Priority: o.Priority, AckRequired: o.AckRequired, RemindAfter: time.Duration(o.RemindAfter) * time.Second}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	p := client.Payload{V: 1, Type: client.TypeText, Text: o.Text}
	if err := p.Validate(); err != nil {
		return nil, wache.Errorf(wache.EINVALID, "%s", err)
	}
	localID := client.NewClientID()
	s.sendMu.Lock()
	_, err = s.m.QueueWith(ctx, conv, localID, p, opts)
	s.sendMu.Unlock()
	if err != nil {
		return nil, err
	}
	es, err := s.hist.AddPending(ctx, conv, localID, p, time.Now())
	if err != nil {
		return nil, err
	}
	s.wake()
	var out msg
	for _, e := range es {
		out = s.toMsg(e)
		b.emit("message", map[string]any{"conv_id": conv, "message": out})
	}
	b.chatsChanged()
	if o.Priority != "" || o.AckRequired {
		pe := prioEntry{ConvID: conv, LocalID: localID, Mine: true, Priority: o.Priority, AckRequired: o.AckRequired,
			SenderID: s.prof.UserID, SenderName: s.name(s.prof.UserID, s.prof.Email), Time: time.Now().UTC(), Text: excerpt(o.Text, 500)}
		if _, err := updatePrio(ctx, s, func(es []prioEntry) ([]prioEntry, bool) { return append(es, pe), true }); err != nil {
			return nil, err
		}
		b.emit("priority", map[string]any{"conv_id": conv})
	}
	_ = s.drafts.Save(ctx, conv, "")
	return out, nil
}

// priorityMessages({convId?, pending?}) lists priority and ack-required
// messages, newest first. pending: only others' messages this user has not
// acknowledged yet.
func (b *bridge) priorityMessages(ctx context.Context, args []js.Value) (any, error) {
	s, err := b.current()
	if err != nil {
		return nil, err
	}
	var o struct {
		ConvID  string `json:"convId"`
		Pending bool   `json:"pending"`
	}
	if err := arg(args, 0, &o); err != nil {
		return nil, err
	}
	es, err := updatePrio(ctx, s, func(es []prioEntry) ([]prioEntry, bool) {
		// Own messages learn their sequence number from the history once
		// the server stored them.
		changed := false
		for i := range es {
			if !es[i].Mine || es[i].Seq > 0 || es[i].LocalID == "" {
				continue
			}
			hs, err := s.hist.Messages(ctx, es[i].ConvID, 0, 200)
			if err != nil {
				continue
			}
			for _, h := range hs {
				if h.LocalID == es[i].LocalID && h.Seq > 0 {
					es[i].Seq, changed = h.Seq, true
				}
			}
		}
		return es, changed
	})
	if err != nil {
		return nil, err
	}
	out := make([]prioEntry, 0, len(es))
	for _, e := range es {
		if o.ConvID != "" && e.ConvID != o.ConvID {
			continue
		}
		if o.Pending && (e.Mine || !e.AckRequired || e.AckedAt != nil) {
			continue
		}
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	return out, nil
}

func convSeqArgs(args []js.Value) (string, int64, error) {
	conv, err := argString(args, 0)
	if err != nil {
		return "", 0, err
	}
	seq, err := argInt(args, 1)
	if err != nil {
		return "", 0, err
	}
	if seq <= 0 {
		return "", 0, wache.Errorf(wache.EINVALID, "message number must be positive")
	}
	return conv, seq, nil
}

// acknowledge(convId, seq): "Quittieren".
func (b *bridge) acknowledge(ctx context.Context, args []js.Value) (any, error) {
	s, err := b.current()
	if err != nil {
		return nil, err
	}
	conv, seq, err := convSeqArgs(args)
	if err != nil {
		return nil, err
	}
	actx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := s.m.Acknowledge(actx, conv, seq); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	if _, err := updatePrio(ctx, s, func(es []prioEntry) ([]prioEntry, bool) {
		for i := range es {
			if es[i].ConvID == conv && es[i].Seq == seq {
				es[i].AckedAt = &now
				return es, true
			}
		}
		return es, false
	}); err != nil {
		return nil, err
	}
	b.emit("priority", map[string]any{"conv_id": conv, "seq": seq})
	return map[string]any{"conv_id": conv, "seq": seq, "acknowledged_at": now}, nil
}

// markPriorityRead(convId, seq) tells the sender's receipts that this user
// has seen the message (the UI calls it when it shows it).
func (b *bridge) markPriorityRead(ctx context.Context, args []js.Value) (any, error) {
	s, err := b.current()
	if err != nil {
		return nil, err
	}
	conv, seq, err := convSeqArgs(args)
	if err != nil {
		return nil, err
	}
	var sender string
	es, err := updatePrio(ctx, s, func(es []prioEntry) ([]prioEntry, bool) {
		for i := range es {
			if es[i].ConvID == conv && es[i].Seq == seq && !es[i].Mine && !es[i].ReadSent {
				sender = es[i].SenderID
				es[i].ReadSent = true
				return es, true
			}
		}
		return es, false
	})
	if err != nil || sender == "" {
		_ = es
		return nil, err
	}
	return nil, s.m.MarkRead(ctx, client.Message{ConvID: conv, Seq: seq, SenderID: sender, AckRequired: true})
}

// receipts(convId, seq, {pending}) → counts and one page of members
// (sender and conversation admins only; the server checks).
func (b *bridge) receiptsOf(ctx context.Context, args []js.Value) (any, error) {
	s, err := b.current()
	if err != nil {
		return nil, err
	}
	conv, seq, err := convSeqArgs(args)
	if err != nil {
		return nil, err
	}
	var o struct {
		Pending bool   `json:"pending"`
		Limit   int    `json:"limit"`
		After   string `json:"after"`
	}
	if err := arg(args, 2, &o); err != nil {
		return nil, err
	}
	if o.Limit <= 0 || o.Limit > 1000 {
		o.Limit = 200
	}
	rs, err := s.m.API.Receipts(ctx, conv, seq, client.ReceiptsQuery{Pending: o.Pending, Limit: o.Limit, After: o.After})
	if err != nil {
		return nil, err
	}
	if rs.Members == nil {
		rs.Members = []api.MemberReceipt{}
	}
	return rs, nil
}

func (b *bridge) closeAck(ctx context.Context, args []js.Value) (any, error) {
	s, err := b.current()
	if err != nil {
		return nil, err
	}
	conv, seq, err := convSeqArgs(args)
	if err != nil {
		return nil, err
	}
	return nil, s.m.API.CloseAckRequest(ctx, conv, seq)
}

// Web Push: the UI subscribes through the service worker's pushManager with
// this key and hands the subscription (PushSubscription.toJSON()) here.

func (b *bridge) pushKey(ctx context.Context, args []js.Value) (any, error) {
	s, err := b.current()
	if err != nil {
		return nil, err
	}
	return s.m.API.VAPIDKey(ctx)
}

func (b *bridge) subscribePush(ctx context.Context, args []js.Value) (any, error) {
	s, err := b.current()
	if err != nil {
		return nil, err
	}
	var sub api.PushSubscription
	if len(args) > 0 && args[0].Type() == js.TypeString {
		if err := json.Unmarshal([]byte(args[0].String()), &sub); err != nil {
			return nil, wache.Errorf(wache.EINVALID, "subscription: %v", err)
		}
	} else if err := arg(args, 0, &sub); err != nil {
		return nil, err
	}
	if sub.Endpoint == "" {
		return nil, wache.Errorf(wache.EINVALID, "subscription without endpoint")
	}
	n, err := s.m.API.SubscribePush(ctx, sub)
	if err != nil {
		return nil, err
	}
	return map[string]int{"count": n}, nil
}

func (b *bridge) unsubscribePush(ctx context.Context, args []js.Value) (any, error) {
	s, ep, err := b.currentWith(args)
	if err != nil {
		return nil, err
	}
	return nil, s.m.API.UnsubscribePush(ctx, ep)
}
