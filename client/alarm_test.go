package client

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/api"
)

func FuzzDecodeAlarmPayload(f *testing.F) {
	now := time.Unix(1.7e9, 0).UTC()
	sos, _ := EncodePayload(Payload{Type: TypeAlarm, Alarm: &AlarmInfo{ClientID: "c1", Kind: AlarmKindSOS, Note: "Hilfe",
		Location: &Location{Lat: 51.2, Lon: 6.7, Accuracy: 9, Time: now}}})
	f.Add(sos)
	live, _ := EncodePayload(Payload{Type: TypeLiveLocation, AlarmID: "a1", Location: &Location{Lat: 51.2, Lon: 6.7, Time: now}})
	f.Add(live)
	f.Add([]byte(`{"v":1,"type":"alarm","alarm":{"client_id":"c","kind":"sos","location":{"lat":-91,"lon":0,"time":"2026-01-01T00:00:00Z"}}}`))
	f.Add([]byte(`{"v":1,"type":"alarm","alarm":{"client_id":"","kind":"sos"}}`))
	f.Add([]byte(`{"v":1,"type":"alarm"}`))
	f.Add([]byte(`{"v":1,"type":"text","text":"x","alarm_id":"a"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := DecodePayload(b)
		if p.Type == TypeUnsupported {
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("decoded an invalid payload: %v", err)
		}
		if p.Type == TypeAlarm && (p.Alarm == nil || len(p.Alarm.Note) > MaxAlarmNote) {
			t.Fatalf("alarm payload without valid content: %+v", p.Alarm)
		}
		if _, err := EncodePayload(p); err != nil {
			t.Fatalf("a decoded payload does not encode: %v", err)
		}
	})
}

func TestAlarmPayloads(t *testing.T) {
	now := time.Now().UTC()
	loc := &Location{Lat: 51.2277, Lon: 6.7735, Accuracy: 8, Time: now}
	for _, tc := range []struct {
		name string
		p    Payload
		ok   bool
	}{
		{"sos", Payload{Type: TypeAlarm, Alarm: &AlarmInfo{ClientID: "c1", Kind: AlarmKindSOS, Note: "Angriff", Location: loc}}, true},
		{"sos without position", Payload{Type: TypeAlarm, Alarm: &AlarmInfo{ClientID: "c1", Kind: AlarmKindSOS}}, true},
		{"no content", Payload{Type: TypeAlarm}, false},
		{"other kind", Payload{Type: TypeAlarm, Alarm: &AlarmInfo{ClientID: "c1", Kind: "fire"}}, false},
		{"no client id", Payload{Type: TypeAlarm, Alarm: &AlarmInfo{Kind: AlarmKindSOS}}, false},
		{"long client id", Payload{Type: TypeAlarm, Alarm: &AlarmInfo{ClientID: strings.Repeat("c", 65), Kind: AlarmKindSOS}}, false},
		{"note 500 bytes", Payload{Type: TypeAlarm, Alarm: &AlarmInfo{ClientID: "c", Kind: AlarmKindSOS, Note: strings.Repeat("ä", 250)}}, true},
		{"note 501 bytes", Payload{Type: TypeAlarm, Alarm: &AlarmInfo{ClientID: "c", Kind: AlarmKindSOS, Note: strings.Repeat("x", 501)}}, false},
		{"note not UTF-8", Payload{Type: TypeAlarm, Alarm: &AlarmInfo{ClientID: "c", Kind: AlarmKindSOS, Note: "\xc3"}}, false},
		{"forged latitude", Payload{Type: TypeAlarm, Alarm: &AlarmInfo{ClientID: "c", Kind: AlarmKindSOS, Location: &Location{Lat: 90.01, Time: now}}}, false},
		{"forged accuracy", Payload{Type: TypeAlarm, Alarm: &AlarmInfo{ClientID: "c", Kind: AlarmKindSOS, Location: &Location{Lat: 1, Accuracy: math.Inf(1), Time: now}}}, false},
		{"live position of an alarm", Payload{Type: TypeLiveLocation, AlarmID: "a1", Location: loc}, true},
		{"live stop of an alarm", Payload{Type: TypeLiveStop, AlarmID: "a1"}, true},
		{"alarm reference on text", Payload{Type: TypeText, Text: "x", AlarmID: "a1"}, false},
		{"long alarm reference", Payload{Type: TypeLiveStop, AlarmID: strings.Repeat("a", 65)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := EncodePayload(tc.p)
			if (err == nil) != tc.ok {
				t.Fatalf("EncodePayload: %v", err)
			}
			if err == nil {
				got := DecodePayload(b)
				if got.Type != tc.p.Type || got.AlarmID != tc.p.AlarmID || (tc.p.Alarm != nil && got.Alarm.Note != tc.p.Alarm.Note) {
					t.Fatalf("round trip: %+v", got)
				}
			}
		})
	}
}

func TestSendOptionsAndSOSValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    SendOptions
		ok   bool
	}{
		{"normal", SendOptions{}, true},
		{"urgent with ack", SendOptions{Priority: api.PriorityUrgent, AckRequired: true}, true},
		{"alarm, remind 30s", SendOptions{Priority: api.PriorityAlarm, AckRequired: true, RemindAfter: 30 * time.Second}, true},
		{"unknown priority", SendOptions{Priority: "high"}, false},
		{"remind without ack", SendOptions{RemindAfter: time.Minute}, false},
		{"remind too often", SendOptions{AckRequired: true, RemindAfter: 29 * time.Second}, false},
		{"remind beyond a day", SendOptions{AckRequired: true, RemindAfter: 25 * time.Hour}, false},
	} {
		if err := tc.o.Validate(); (err == nil) != tc.ok || (err != nil && wache.ErrorCode(err) != wache.EINVALID) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	now := time.Now()
	for _, tc := range []struct {
		name string
		s    SOS
		ok   bool
	}{
		{"no position", SOS{Note: "Hilfe"}, true},
		{"position", SOS{Location: &Location{Lat: -33.9, Lon: 151.2, Time: now}}, true},
		{"poles and date line", SOS{Location: &Location{Lat: 90, Lon: -180, Time: now}}, true},
		{"latitude out of range", SOS{Location: &Location{Lat: -91, Time: now}}, false},
		{"longitude NaN", SOS{Location: &Location{Lat: 1, Lon: math.NaN(), Time: now}}, false},
		{"long note", SOS{Note: strings.Repeat("n", MaxAlarmNote+1)}, false},
	} {
		if err := tc.s.Validate(); (err == nil) != tc.ok || (err != nil && wache.ErrorCode(err) != wache.EINVALID) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// TestAlarmSightings: positions of an alarm count only from its raiser,
// once per fix, newest wins; the store stays bounded.
func TestAlarmSightings(t *testing.T) {
	ctx := context.Background()
	m := &Messenger{st: &MemState{}}
	now := time.Now().UTC()
	rec := func(sender string, p Payload) {
		t.Helper()
		if err := m.recordAlarmLocked(ctx, &Message{ConvID: "c", SenderID: sender, Time: now, Payload: p}); err != nil {
			t.Fatal(err)
		}
	}
	rec("raiser", Payload{Type: TypeAlarm, Alarm: &AlarmInfo{ClientID: "cid", Kind: AlarmKindSOS, Note: "Hilfe", Location: &Location{Lat: 1, Lon: 1, Time: now}}})
	fix := func(lat float64, at time.Time) Payload {
		return Payload{Type: TypeLiveLocation, AlarmID: "aid", Location: &Location{Lat: lat, Lon: 1, Time: at}}
	}
	rec("raiser", fix(2, now.Add(time.Second)))
	rec("raiser", fix(2, now.Add(time.Second))) // the same update from a second conversation
	rec("raiser", fix(3, now.Add(2*time.Second)))
	rec("raiser", fix(9, now)) // late, older fix
	rec("intruder", fix(50, now.Add(time.Hour)))
	a := &api.Alarm{ID: "aid", ClientID: "cid", RaisedBy: "raiser"}
	got, err := m.AlarmContent(ctx, a)
	if err != nil || got == nil {
		t.Fatal(got, err)
	}
	if got.Note != "Hilfe" || got.Location.Lat != 3 || got.Updates != 2 || got.Stopped {
		t.Fatalf("content %+v, location %+v", got, got.Location)
	}
	rec("raiser", Payload{Type: TypeLiveStop, AlarmID: "aid"})
	if got, _ := m.AlarmContent(ctx, a); !got.Stopped {
		t.Fatal("live stop not recorded")
	}
	if got, _ := m.AlarmContent(ctx, &api.Alarm{ID: "other", ClientID: "x", RaisedBy: "raiser"}); got != nil {
		t.Fatalf("content of an unknown alarm: %+v", got)
	}
	for i := range maxSightings + 50 {
		rec("raiser", Payload{Type: TypeLiveStop, AlarmID: strings.Repeat("z", 10) + string(rune('a'+i%26)) + string(rune('a'+i/26))})
	}
	m.mu.Lock()
	s, _ := m.sightingsLocked(ctx)
	m.mu.Unlock()
	if len(s) > maxSightings {
		t.Fatalf("%d sightings kept, bound %d", len(s), maxSightings)
	}
}
