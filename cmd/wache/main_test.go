package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wache/wache/internal/harness"
)

// cli runs one wache command as a user would and returns its outputs.
type cli struct {
	t   *testing.T
	env map[string]string
}

func (c *cli) run(args ...string) (code int, stdout, stderr string) {
	c.t.Helper()
	var out, errb bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return c.env[k] }}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code = run(ctx, args, env)
	return code, out.String(), errb.String()
}

func (c *cli) ok(args ...string) string {
	c.t.Helper()
	code, out, errs := c.run(args...)
	if code != 0 {
		c.t.Fatalf("wache %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// startServe runs `wache serve --demo` in-process on a free port.
func startServe(t *testing.T) (url, data string) {
	data = t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	var out bytes.Buffer
	env := &Env{Stdout: &out, Stderr: &bytes.Buffer{}, Getenv: func(string) string { return "" }}
	go func() {
		done <- serve(ctx, serveConfig{data: data, addr: "127.0.0.1:0", demo: true, brokerSpec: "inproc",
			orgName: "Polizei", logLevel: "info", logFormat: "text", authRate: 1000}, env, ready)
	}()
	select {
	case addr := <-ready:
		url = "http://" + addr
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve ended with %v", err)
		}
	})
	if !strings.Contains(out.String(), "anna.schmidt@polizei.example") {
		t.Errorf("serve --demo does not print the demo logins:\n%s", out.String())
	}
	return url, data
}

func login(t *testing.T, c *cli, data, email string) {
	t.Helper()
	out := c.ok("login", email) // not a terminal: requests the code and says how to go on
	if !strings.Contains(out, "--code CODE") {
		t.Fatalf("login without a terminal should explain the next step, got %q", out)
	}
	c.ok("login", "--code", harness.LatestCode(t, data, email), email)
}

func TestCLIConversation(t *testing.T) {
	url, data := startServe(t)
	anna := &cli{t: t, env: map[string]string{"WACHE_SERVER": url, "WACHE_HOME": filepath.Join(t.TempDir(), "anna"), "WACHE_PASSPHRASE": "anna-pin-1234"}}
	ben := &cli{t: t, env: map[string]string{"WACHE_SERVER": url, "WACHE_HOME": filepath.Join(t.TempDir(), "ben"), "WACHE_PASSPHRASE": "ben-pin-5678"}}
	login(t, anna, data, "anna.schmidt@polizei.example")
	login(t, ben, data, "ben.mueller@polizei.example")

	if out := anna.ok("chat", "new", "--name", "Streife 12", "--members", "ben.mueller@polizei.example"); !strings.Contains(out, "Created group") {
		t.Fatalf("chat new: %q", out)
	}
	anna.ok("send", "Streife 12", "Treffpunkt Hauptbahnhof, Ausgang Nord")
	anna.ok("send", "Streife 12", "Bitte quittieren")

	var chats []struct {
		Name   string `json:"name"`
		Unread int    `json:"unread"`
	}
	if err := json.Unmarshal([]byte(ben.ok("chats", "--json")), &chats); err != nil {
		t.Fatal(err)
	}
	if len(chats) != 1 || chats[0].Name != "Streife 12" || chats[0].Unread != 2 {
		t.Fatalf("ben's chats: %+v", chats)
	}
	out := ben.ok("read", "Streife 12", "--json")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("read printed %d messages, want 2:\n%s", len(lines), out)
	}
	var m struct {
		Sender, Text, Type string
		SenderEmail        string `json:"sender_email"`
	}
	if err := json.Unmarshal([]byte(lines[0]), &m); err != nil {
		t.Fatal(err)
	}
	if m.Text != "Treffpunkt Hauptbahnhof, Ausgang Nord" || m.Sender != "POKin Anna Schmidt" || m.SenderEmail != "anna.schmidt@polizei.example" || m.Type != "text" {
		t.Fatalf("first message: %+v", m)
	}
	if out := ben.ok("read", "Streife 12", "--json"); out != "" {
		t.Fatalf("second read repeats messages: %q", out)
	}
	if err := json.Unmarshal([]byte(ben.ok("chats", "--json")), &chats); err != nil || chats[0].Unread != 0 {
		t.Fatalf("unread after read: %+v %v", chats, err)
	}

	// A location and a file, end-to-end encrypted.
	anna.ok("send-location", "Streife 12", "51.2277", "6.7735", "--accuracy", "12")
	photo := filepath.Join(t.TempDir(), "Lagebild.jpg")
	content := bytes.Repeat([]byte("\xff\xd8\xff\xe0 JPEG-ish content "), 20000)
	if err := os.WriteFile(photo, content, 0o600); err != nil {
		t.Fatal(err)
	}
	anna.ok("send-file", "Streife 12", photo)
	out = ben.ok("read", "Streife 12", "--json")
	var loc, file struct {
		Seq        int64
		Type       string
		Location   *struct{ Lat, Lon float64 }
		Attachment *struct {
			Name string
			Size int64
		}
	}
	lines = strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || json.Unmarshal([]byte(lines[0]), &loc) != nil || json.Unmarshal([]byte(lines[1]), &file) != nil {
		t.Fatalf("read after location and file:\n%s", out)
	}
	if loc.Type != "location" || loc.Location.Lat != 51.2277 || file.Type != "attachment" || file.Attachment.Name != "Lagebild.jpg" || file.Attachment.Size != int64(len(content)) {
		t.Fatalf("location %+v, file %+v", loc, file)
	}
	saved := filepath.Join(t.TempDir(), "saved.jpg")
	ben.ok("fetch", "Streife 12", fmt.Sprint(file.Seq), saved)
	if got, err := os.ReadFile(saved); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("fetched file differs: %v", err)
	}
	if code, _, errs := ben.run("fetch", "Streife 12", fmt.Sprint(loc.Seq), saved+"2"); code == 0 || !strings.Contains(errs, "not an attachment") {
		t.Fatalf("fetch of a location: exit %d %q", code, errs)
	}
	if code, _, errs := anna.run("send-location", "Streife 12", "91", "6"); code != 2 || !strings.Contains(errs, "latitude") {
		t.Fatalf("latitude 91: exit %d %q", code, errs)
	}

	// Membership commands and their errors.
	anna.ok("chat", "add", "Streife 12", "clara.wagner@polizei.example")
	if out := anna.ok("chat", "show", "Streife 12"); !strings.Contains(out, "clara.wagner@polizei.example") {
		t.Fatalf("chat show lacks the new member:\n%s", out)
	}
	anna.ok("chat", "remove", "Streife 12", "clara.wagner@polizei.example")
	if code, _, errs := ben.run("chat", "add", "Streife 12", "deniz.yilmaz@polizei.example"); code == 0 || !strings.Contains(errs, "only admins") {
		t.Fatalf("a member added someone: exit %d, %q", code, errs)
	}
	if out := ben.ok("devices"); !strings.Contains(out, "(this device)") {
		t.Fatalf("devices: %q", out)
	}
	ben.ok("logout")
	if code, _, errs := ben.run("chats"); code != 3 || !strings.Contains(errs, "not logged in") {
		t.Fatalf("after logout: exit %d, %q", code, errs)
	}
}

func TestCLIErrors(t *testing.T) {
	home := t.TempDir()
	c := &cli{t: t, env: map[string]string{"WACHE_HOME": home}}
	for _, tc := range []struct {
		args     []string
		wantCode int
		wantErr  string
	}{
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"chats"}, 3, "not logged in"},
		{[]string{"login"}, 2, "expected one EMAIL"},
		{[]string{"login", "a@b.c"}, 2, "which server"},
		{[]string{"login", "--server", "ftp://x", "a@b.c"}, 2, "http(s) URL"},
		{[]string{"login", "--server", "http://127.0.0.1:1", "anna@polizei.example"}, 4, "unreachable"},
		{[]string{"send", "x"}, 2, "expected CHAT and TEXT"},
		{[]string{"serve"}, 2, "--allowed-domains is required"},
		{[]string{"serve", "--demo", "--tls-cert", "x"}, 2, "go together"},
		{[]string{"serve", "--log-format", "xml", "--demo"}, 2, "text or json"},
		{[]string{"chat", "rename"}, 2, "unknown subcommand"},
	} {
		code, _, errs := c.run(tc.args...)
		if code != tc.wantCode || !strings.Contains(errs, tc.wantErr) {
			t.Errorf("wache %s: exit %d %q; want %d and %q", strings.Join(tc.args, " "), code, errs, tc.wantCode, tc.wantErr)
		}
	}
	if code, out, _ := c.run("--help"); code != 0 || !strings.Contains(out, "end-to-end encrypted") {
		t.Errorf("--help must work and explain the encryption: %d %q", code, out)
	}
}

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		wantJSON bool
		wantPos  []string
	}{
		{[]string{"chat", "--json"}, true, []string{"chat"}},
		{[]string{"--json", "chat"}, true, []string{"chat"}},
		{[]string{"chat", "text"}, false, []string{"chat", "text"}},
		{[]string{"chat", "--", "-5 Grad", "--json"}, false, []string{"chat", "-5 Grad", "--json"}},
		{nil, false, nil},
	} {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		j := fs.Bool("json", false, "")
		if err := parseArgs(fs, tc.args); err != nil {
			t.Fatal(err)
		}
		if *j != tc.wantJSON || strings.Join(fs.Args(), "|") != strings.Join(tc.wantPos, "|") {
			t.Errorf("%q: json=%v pos=%q; want %v %q", tc.args, *j, fs.Args(), tc.wantJSON, tc.wantPos)
		}
	}
}
