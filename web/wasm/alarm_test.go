//go:build js && wasm

package main

// Run under Node like bridge_test.go; the alarm flow as a whole is
// exercised by web/tests/alarms.mjs (TestBrowserAlarms).

import (
	"math"
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
