//go:build js && wasm

package main

// Run under Node like bridge_test.go; the alarm flow as a whole is
// exercised by web/tests/alarms.mjs (TestBrowserAlarms).

import (
	"context"
	"math"
	"syscall/js"
	"testing"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
	"github.com/wache/wache/client"
)

func TestPositionArg(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	for _, c := range []struct {
		name string
		p    *positionArg
		ok   bool
		nil_ bool
	}{
		{"none", nil, true, true},
		{"fix", &positionArg{Lat: f(52.5163), Lon: f(13.3777), Accuracy: 15}, true, false},
		{"equator and date line", &positionArg{Lat: f(0), Lon: f(180)}, true, false},
		{"latitude out of range", &positionArg{Lat: f(91), Lon: f(6)}, false, false},
		{"longitude out of range", &positionArg{Lat: f(51), Lon: f(-181)}, false, false},
		{"NaN", &positionArg{Lat: f(math.NaN()), Lon: f(6)}, false, false},
		{"negative accuracy", &positionArg{Lat: f(51), Lon: f(6), Accuracy: -1}, false, false},
		{"lat only", &positionArg{Lat: f(51)}, false, false},
	} {
		l, err := c.p.location()
		if c.ok != (err == nil) {
			t.Errorf("%s: err %v", c.name, err)
			continue
		}
		if err != nil {
			if wache.ErrorCode(err) != wache.EINVALID {
				t.Errorf("%s: code %s, want invalid", c.name, wache.ErrorCode(err))
			}
			continue
		}
		if (l == nil) != c.nil_ || (l != nil && l.Time.IsZero()) {
			t.Errorf("%s: %+v", c.name, l)
		}
	}
}

func TestAlarmConvs(t *testing.T) {
	now := time.Now()
	a := &api.Alarm{ConvIDs: []string{"alarm", "dispatch"}, EscalationConvID: "esc", State: api.AlarmRaised}
	if got := alarmConvs(a); len(got) != 2 {
		t.Fatalf("raised: %v", got)
	}
	a.State = api.AlarmEscalated
	if got := alarmConvs(a); len(got) != 3 || got[2] != "esc" {
		t.Fatalf("escalated: %v", got)
	}
	// Ended after escalation: the stop still goes to the escalation group.
	a.State, a.EscalatedAt = api.AlarmEnded, &now
	if got := alarmConvs(a); len(got) != 3 {
		t.Fatalf("ended after escalation: %v", got)
	}
	a.ConvIDs = append(a.ConvIDs, "esc")
	if got := alarmConvs(a); len(got) != 3 {
		t.Fatalf("listed twice: %v", got)
	}
}

func TestAlarmText(t *testing.T) {
	if got := alarmText(nil); got != "🚨 SOS" {
		t.Errorf("%q", got)
	}
	if got := alarmText(&client.AlarmInfo{Note: "Hbf Nord"}); got != "🚨 SOS: Hbf Nord" {
		t.Errorf("%q", got)
	}
}

func TestAlarmRegistration(t *testing.T) {
	b := &bridge{}
	for _, n := range []string{"sos", "updateSOSPosition", "endAlarm", "respond", "alarms", "alarm", "acknowledge",
		"receipts", "sendPriority", "priorityMessages", "pushKey", "subscribePush", "unsubscribePush"} {
		if b.alarmMethods()[n] == nil {
			t.Errorf("%s not registered", n)
		}
	}
	for _, ev := range []string{"alarm", "reminder", "priority"} {
		if !eventNames[ev] {
			t.Errorf("event %s not allowed", ev)
		}
	}
	// Position updates come from watchPosition, not from a person.
	if !passive["updateSOSPosition"] || passive["sos"] {
		t.Error("auto-lock activity flags wrong")
	}
}

// prioSession is a session on an in-memory vault: enough for the priority
// index, which lives in the sealed state.
func prioSession(t *testing.T) (*bridge, *session) {
	t.Helper()
	ctx := context.Background()
	v, err := client.OpenVaultKDF(ctx, &client.MemState{}, []byte("pin-123456"), client.KDFParams{Time: 1, MemoryKiB: 8 * 1024, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	s := &session{vault: v, prof: &client.Profile{UserID: "me", Email: "me@polizei.example"}, hist: client.OpenHistory(v, "me"),
		names: map[string]string{"u-ben": "POK Ben Müller"}}
	b := newBridge()
	b.s = s
	return b, s
}

func entries(t *testing.T, b *bridge, opts map[string]any) []prioEntry {
	t.Helper()
	res, err := b.priorityMessages(context.Background(), []js.Value{js.ValueOf(opts)})
	if err != nil {
		t.Fatal(err)
	}
	return res.([]prioEntry)
}

func TestPriorityIndex(t *testing.T) {
	ctx := context.Background()
	b, s := prioSession(t)
	at := time.Date(2026, 11, 24, 4, 0, 0, 0, time.UTC)
	text := func(x string) client.Payload { return client.Payload{V: 1, Type: client.TypeText, Text: x} }
	for _, m := range []client.Message{
		{ConvID: "c1", Seq: 5, SenderID: "u-ben", Time: at, Priority: api.PriorityUrgent, AckRequired: true, Payload: text("Großlage")},
		{ConvID: "c1", Seq: 5, SenderID: "u-ben", Time: at, Priority: api.PriorityUrgent, AckRequired: true, Payload: text("Großlage")}, // again (two conversations' copies, a replay)
		{ConvID: "c1", Seq: 6, SenderID: "u-ben", Time: at.Add(time.Second), Payload: text("normal")},                                   // no flags: not indexed
		{ConvID: "c1", Seq: 7, SenderID: "u-ben", Time: at, AckRequired: true, Payload: client.Payload{V: 1, Type: client.TypeReceipt}}, // receipts never
		{ConvID: "c2", Seq: 3, SenderID: "u-ben", Time: at.Add(2 * time.Second), Priority: api.PriorityUrgent, Payload: text("nur dringend")},
		{ConvID: "c2", Seq: 4, SenderID: "u-ben", Time: at.Add(3 * time.Second), AckRequired: true, Undecryptable: "no key"},
	} {
		b.alarmOnMessage(ctx, s, m)
	}
	all := entries(t, b, nil)
	if len(all) != 3 || all[0].Seq != 4 || all[1].Seq != 3 || all[2].Seq != 5 {
		t.Fatalf("index: %+v", all)
	}
	if all[2].SenderName != "POK Ben Müller" || all[2].Text != "Großlage" || all[0].Text != "" {
		t.Fatalf("entry: %+v", all[2])
	}
	// Pending: others' ack-required messages not yet acknowledged.
	if p := entries(t, b, map[string]any{"pending": true}); len(p) != 2 {
		t.Fatalf("pending: %+v", p)
	}
	if p := entries(t, b, map[string]any{"convId": "c2"}); len(p) != 2 {
		t.Fatalf("by conversation: %+v", p)
	}

	// An own message learns its sequence number from the history.
	if _, err := s.hist.AddPending(ctx, "c1", "local-1", text("Bitte quittieren"), at); err != nil {
		t.Fatal(err)
	}
	if _, err := updatePrio(ctx, s, func(es []prioEntry) ([]prioEntry, bool) {
		return append(es, prioEntry{ConvID: "c1", LocalID: "local-1", Mine: true, AckRequired: true, SenderID: "me", Time: at.Add(time.Hour)}), true
	}); err != nil {
		t.Fatal(err)
	}
	if e := entries(t, b, nil)[0]; e.Seq != 0 {
		t.Fatalf("seq before sending: %+v", e)
	}
	if _, err := s.hist.MarkSent(ctx, "c1", "local-1", 42, at); err != nil {
		t.Fatal(err)
	}
	if e := entries(t, b, nil)[0]; e.Seq != 42 || !e.Mine {
		t.Fatalf("seq after sending: %+v", e)
	}
	if p := entries(t, b, map[string]any{"pending": true}); len(p) != 2 {
		t.Fatalf("own message counted as pending: %+v", p)
	}

	// Bounded; a damaged index loses flags, not the app.
	if _, err := updatePrio(ctx, s, func(es []prioEntry) ([]prioEntry, bool) {
		for i := 0; i < 2*maxPriority; i++ {
			es = append(es, prioEntry{ConvID: "c3", Seq: int64(i + 1), AckRequired: true, SenderID: "u-ben", Time: at})
		}
		return es, true
	}); err != nil {
		t.Fatal(err)
	}
	if n := len(entries(t, b, nil)); n != maxPriority {
		t.Fatalf("index holds %d entries, want %d", n, maxPriority)
	}
	if err := s.vault.Save(ctx, keyPriority, []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	if n := len(entries(t, b, nil)); n != 0 {
		t.Fatalf("damaged index gave %d entries", n)
	}
}
