package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wache/wache/api"
)

func TestParsePosition(t *testing.T) {
	for _, tc := range []struct {
		line     string
		ok       bool
		lat, acc float64
	}{
		{"51.2277,6.7735", true, 51.2277, 0},
		{" 51.2277 , 6.7735 , 12.5 ", true, 51.2277, 12.5},
		{"-90,180", true, -90, 0},
		{"91,6", false, 0, 0},
		{"51,181", false, 0, 0},
		{"51,6,-1", false, 0, 0},
		{"NaN,6", false, 0, 0},
		{"51;6", false, 0, 0},
		{"51,6,1,2", false, 0, 0},
		{"", false, 0, 0},
		{"Inf,0", false, 0, 0},
	} {
		l, err := parsePosition(tc.line)
		if (err == nil) != tc.ok || (err == nil && (l.Lat != tc.lat || l.Accuracy != tc.acc || l.Time.IsZero())) {
			t.Errorf("%q: %+v, %v", tc.line, l, err)
		}
	}
}

func TestReadPositionFile(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "fix.csv")
	write := func(s string) {
		if err := os.WriteFile(name, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// The last valid line counts; a half-written or forged last line is skipped.
	write("51.1,6.1\n51.2,6.2,5\n99,6\n51.3,")
	l, err := readPositionFile(name)
	if err != nil || l.Lat != 51.2 || l.Accuracy != 5 {
		t.Fatalf("%+v, %v", l, err)
	}
	write("garbage\n")
	if _, err := readPositionFile(name); err == nil {
		t.Fatal("a file without a valid line gave a position")
	}
	// A long file: only its tail is read.
	write(strings.Repeat("1,1\n", 40000) + "52.5,13.4\n")
	if l, err := readPositionFile(name); err != nil || l.Lat != 52.5 {
		t.Fatalf("long file: %+v, %v", l, err)
	}
	if _, err := readPositionFile(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("missing file gave a position")
	}
}

// TestCLIAlarm drives the alarm commands as users would: an admin sets the
// policy, an officer raises SOS with a position file, a colleague answers,
// dispatch watches and ends it; a priority message is acknowledged and its
// receipts read; bad input is refused with exit code 2.
func TestCLIAlarm(t *testing.T) {
	url, data := startServe(t)
	user := func(name string) *cli {
		return &cli{t: t, env: map[string]string{"WACHE_SERVER": url, "WACHE_HOME": filepath.Join(t.TempDir(), name), "WACHE_PASSPHRASE": name + "-pin-1234"}}
	}
	anna, ben, clara, leit, admin := user("anna"), user("ben"), user("clara"), user("leit"), user("admin")
	login(t, anna, data, "anna.schmidt@polizei.example")
	login(t, ben, data, "ben.mueller@polizei.example")
	login(t, clara, data, "clara.wagner@polizei.example")
	login(t, leit, data, "leitstelle@polizei.example")
	login(t, admin, data, "admin@polizei.example")

	newChat := func(name, members string) string {
		var cv api.Conversation
		if err := json.Unmarshal([]byte(anna.ok("chat", "new", "--name", name, "--members", members, "--json")), &cv); err != nil {
			t.Fatal(err)
		}
		return cv.ID
	}
	alarmChat := newChat("Alarm PI Mitte", "ben.mueller@polizei.example,leitstelle@polizei.example")
	dispatchChat := newChat("Leitstelle PI Mitte", "ben.mueller@polizei.example,leitstelle@polizei.example")
	escChat := newChat("Nachbarn", "ben.mueller@polizei.example,clara.wagner@polizei.example")

	if code, _, errs := ben.run("alarms", "policy", "set", "--unit", "PI Mitte", "--alarm-chat", alarmChat, "--dispatch-chat", dispatchChat); code != 3 {
		t.Fatalf("an officer set the policy: exit %d %q", code, errs)
	}
	if code, _, errs := admin.run("alarms", "policy", "set", "--unit", "PI Mitte", "--alarm-chat", alarmChat, "--dispatch-chat", dispatchChat, "--window", "5s"); code != 2 || !strings.Contains(errs, "--window") {
		t.Fatalf("window 5s: exit %d %q", code, errs)
	}
	if code, _, errs := admin.run("alarms", "policy", "set", "--unit", "PI Nirgendwo", "--alarm-chat", alarmChat, "--dispatch-chat", dispatchChat); code == 0 || !strings.Contains(errs, "no unit") {
		t.Fatalf("unknown unit: exit %d %q", code, errs)
	}
	admin.ok("alarms", "policy", "set", "--unit", "PI Mitte", "--alarm-chat", alarmChat, "--dispatch-chat", dispatchChat,
		"--escalation-chat", escChat, "--min-coming", "1", "--window", "10m", "--update", "1s")
	if out := ben.ok("alarms", "policy", "show"); !strings.Contains(out, alarmChat) || !strings.Contains(out, "1 coming within 600s") {
		t.Fatalf("policy show:\n%s", out)
	}

	// Forged positions and bad flags never reach the server.
	for _, args := range [][]string{
		{"sos", "--lat", "91", "--lon", "6"},
		{"sos", "--lat", "51"},
		{"sos", "--lat", "51", "--lon", "6", "--accuracy", "-3"},
		{"sos", "--note", strings.Repeat("x", 501)},
		{"sos", "--position-file", filepath.Join(t.TempDir(), "none")},
		{"respond", "x", "maybe"},
		{"respond", "x", "cannot", "--eta", "5m"},
		{"ack", "Alarm PI Mitte", "zero"},
		{"send", "Alarm PI Mitte", "x", "--priority", "high"},
		{"send", "Alarm PI Mitte", "x", "--remind", "1m"},
	} {
		if code, _, errs := ben.run(args...); code != 2 {
			t.Errorf("wache %s: exit %d %q, want 2", strings.Join(args, " "), code, errs)
		}
	}
	if out := leit.ok("alarms", "--json"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("refused presses made alarms: %s", out)
	}

	// Ben raises SOS from a GPS feed; it runs 3 s here (--duration).
	fix := filepath.Join(t.TempDir(), "fix.csv")
	if err := os.WriteFile(fix, []byte("51.2200,6.7940,8\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := ben.ok("sos", "--note", "Angriff, Hbf Ausgang Nord", "--position-file", fix, "--duration", "3s", "--json")
	var ev struct {
		Event string    `json:"event"`
		Alarm api.Alarm `json:"alarm"`
	}
	if err := json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &ev); err != nil || ev.Event != "raised" || ev.Alarm.State != api.AlarmRaised {
		t.Fatalf("sos output:\n%s", out)
	}
	id := ev.Alarm.ID
	// A second press gives the same alarm.
	out = ben.ok("sos", "--duration", "1s")
	if !strings.Contains(out, "already active: "+id) {
		t.Fatalf("second press:\n%s", out)
	}

	// Anna (alarm group) reads the SOS and answers; Clara (escalation group
	// only) cannot see the alarm before escalation.
	if out := anna.ok("read", "Alarm PI Mitte"); !strings.Contains(out, "🚨 SOS: Angriff, Hbf Ausgang Nord") || !strings.Contains(out, "[ALARM]") {
		t.Fatalf("anna reads:\n%s", out)
	}
	if code, _, _ := clara.run("respond", id, "coming"); code == 0 {
		t.Fatal("clara answered an alarm she cannot see")
	}
	// Dispatch watches while Anna answers.
	var watchOut bytes.Buffer
	watchDone := make(chan int, 1)
	wctx, wcancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer wcancel()
	go func() {
		env := &Env{Stdin: strings.NewReader(""), Stdout: &syncWriter{w: &watchOut}, Stderr: io.Discard, Getenv: func(k string) string { return leit.env[k] }}
		watchDone <- run(wctx, []string{"alarms", "--watch"}, env)
	}()
	time.Sleep(2 * time.Second)
	if out := anna.ok("respond", id[:12], "coming", "--eta", "4m"); !strings.Contains(out, "acknowledged") {
		t.Fatalf("respond:\n%s", out)
	}
	time.Sleep(3 * time.Second)
	wcancel()
	if code := <-watchDone; code != 0 {
		t.Fatalf("alarms --watch: exit %d", code)
	}
	if w := watchOut.String(); strings.Count(w, "=== ") < 2 || !strings.Contains(w, "POKin Anna Schmidt (ETA 4m0s)") {
		t.Fatalf("alarms --watch did not follow the answer:\n%s", w)
	}

	// Dispatch view: state, responder, decrypted note and last position.
	out = leit.ok("alarms")
	for _, want := range []string{id, "BESTÄTIGT", "POK Ben Müller", "Angriff, Hbf Ausgang Nord", "51.22000, 6.79400", "POKin Anna Schmidt (ETA 4m0s)", "raised", "acknowledged"} {
		if !strings.Contains(out, want) {
			t.Errorf("dispatch view lacks %q:\n%s", want, out)
		}
	}
	var views []alarmView
	if err := json.Unmarshal([]byte(leit.ok("alarms", "--json")), &views); err != nil || len(views) != 1 || views[0].Content == nil || views[0].Content.Location == nil || views[0].Content.Updates < 1 {
		t.Fatalf("alarms --json: %+v, %v", views, err)
	}
	if code, _, errs := anna.run("sos", "end", id); code != 3 {
		t.Fatalf("a colleague ended the alarm: exit %d %q", code, errs)
	}
	if out := leit.ok("sos", "end", id); !strings.Contains(out, "beendet") {
		t.Fatalf("dispatch ends:\n%s", out)
	}
	if out := leit.ok("alarms"); !strings.Contains(out, "Keine aktiven Alarme") {
		t.Fatalf("after end:\n%s", out)
	}
	if out := leit.ok("alarms", "--all"); !strings.Contains(out, "BEENDET") {
		t.Fatalf("alarms --all:\n%s", out)
	}

	// A priority message with acknowledgement.
	var sent api.PostEnvelopeResponse
	if err := json.Unmarshal([]byte(leit.ok("send", "Leitstelle PI Mitte", "Großlage Innenstadt: bitte quittieren", "--priority", "urgent", "--ack", "--json")), &sent); err != nil {
		t.Fatal(err)
	}
	seq := fmt.Sprint(sent.Seq)
	if out := anna.ok("read", "Leitstelle PI Mitte"); !strings.Contains(out, "[DRINGEND / URGENT]") || !strings.Contains(out, "wache ack") {
		t.Fatalf("anna reads the urgent message:\n%s", out)
	}
	anna.ok("ack", "Leitstelle PI Mitte", seq)
	var rs api.Receipts
	if err := json.Unmarshal([]byte(leit.ok("receipts", "Leitstelle PI Mitte", seq, "--json")), &rs); err != nil {
		t.Fatal(err)
	}
	if rs.Recipients != 2 || rs.Acknowledged != 1 || rs.Read != 1 || rs.Delivered != 1 || rs.Priority != api.PriorityUrgent {
		t.Fatalf("receipts: %+v", rs)
	}
	if out := leit.ok("receipts", "Leitstelle PI Mitte", seq, "--pending"); !strings.Contains(out, "ben.mueller") || strings.Contains(out, "anna.schmidt") {
		t.Fatalf("pending:\n%s", out)
	}
	if code, _, _ := ben.run("receipts", "Leitstelle PI Mitte", seq); code != 3 {
		t.Fatalf("a recipient read the receipts: exit %d", code)
	}
	if out := leit.ok("receipts", "Leitstelle PI Mitte", seq, "--close"); !strings.Contains(out, "geschlossen") {
		t.Fatalf("close:\n%s", out)
	}
}

// syncWriter serialises writes of a command running in a goroutine.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
