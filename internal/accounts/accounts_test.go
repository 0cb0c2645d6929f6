package accounts

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/internal/store/dbtest"
	"github.com/wache/wache/internal/store/sqldb"
)

func TestNormalizeEmail(t *testing.T) {
	for _, tc := range []struct {
		in, email, domain string
		ok                bool
	}{
		{"Anna.Schmidt@Polizei.Example", "anna.schmidt@polizei.example", "polizei.example", true},
		{"  ben@polizei.example ", "ben@polizei.example", "polizei.example", true},
		{"", "", "", false},
		{"no-at-sign", "", "", false},
		{"Anna <anna@polizei.example>", "", "", false},
		{"a@b@c", "", "", false},
		{strings.Repeat("a", 250) + "@x.de", "", "", false},
		{"\xff@x.de", "", "", false},
	} {
		email, domain, err := NormalizeEmail(tc.in)
		if (err == nil) != tc.ok || email != tc.email || domain != tc.domain {
			t.Errorf("NormalizeEmail(%q) = %q %q %v", tc.in, email, domain, err)
		}
	}
}

func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"a@b.c", "A <a@b.c>", "@", "a@", "\"x\"@y.z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		email, domain, err := NormalizeEmail(s)
		if err != nil {
			return
		}
		if !strings.HasSuffix(email, "@"+domain) || strings.ToLower(email) != email || len(email) > 254 {
			t.Fatalf("NormalizeEmail(%q) = %q, %q", s, email, domain)
		}
	})
}

func TestDisplayName(t *testing.T) {
	for in, want := range map[string]string{"anna.schmidt": "Anna Schmidt", "ben_mueller-k": "Ben Mueller K", "leitstelle": "Leitstelle"} {
		if got := displayName(in); got != want {
			t.Errorf("displayName(%q) = %q, want %q", in, got, want)
		}
	}
}

// testService returns a service on a real SQLite store with a settable clock.
func testService(t *testing.T) (*Service, *time.Time, string) {
	ctx := context.Background()
	st, err := sqldb.NewStore(ctx, dbtest.SQLite(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureOrg(ctx, st, "Polizei", []string{DemoDomain}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s := New(st, &FileMailer{Dir: dir}, DefaultConfig([]string{DemoDomain}), slog.New(slog.NewTextHandler(io.Discard, nil)))
	now := time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	return s, &now, dir
}

var codeRE = regexp.MustCompile(`Anmeldecode: (\d{6})`)

func lastCode(t *testing.T, dir string) string {
	files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	if len(files) == 0 {
		t.Fatal("no mail")
	}
	b, _ := os.ReadFile(files[len(files)-1])
	return codeRE.FindStringSubmatch(string(b))[1]
}

func verifyReq(email, code string) VerifyRequest {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	return VerifyRequest{Email: email, Code: code, DeviceName: "Diensthandy", SigningKey: pub, Signature: ed25519.Sign(priv, RegistrationMessage(email, code))}
}

func TestCodeLifecycle(t *testing.T) {
	ctx := context.Background()
	s, now, dir := testService(t)
	email := "neu.kollege@" + DemoDomain
	if err := s.RequestCode(ctx, email); err != nil {
		t.Fatal(err)
	}
	if err := s.RequestCode(ctx, email); wache.ErrorCode(err) != wache.ERATELIMIT {
		t.Fatalf("second request within cooldown: %v", err)
	}
	*now = now.Add(11 * time.Minute)
	if _, err := s.Verify(ctx, verifyReq(email, lastCode(t, dir))); wache.ErrorCode(err) != wache.EEXPIRED {
		t.Fatalf("expired code: %v", err)
	}
	if err := s.RequestCode(ctx, email); err != nil {
		t.Fatal(err)
	}
	code := lastCode(t, dir)
	sess, err := s.Verify(ctx, verifyReq(email, code))
	if err != nil {
		t.Fatal(err)
	}
	if !sess.User.HasRole(wache.RoleOfficer) || sess.User.DisplayName != "Neu Kollege" || !strings.HasPrefix(sess.Token, "wch_") {
		t.Fatalf("new user: %+v", sess.User)
	}
	if _, err := s.Verify(ctx, verifyReq(email, code)); wache.ErrorCode(err) != wache.EUNAUTHORIZED {
		t.Fatalf("code reused: %v", err)
	}
	u, d, err := s.Authenticate(ctx, sess.Token)
	if err != nil || u.ID != sess.User.ID || d.ID != sess.Device.ID {
		t.Fatalf("authenticate: %v", err)
	}
	if err := s.RevokeDevice(ctx, u, d.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Authenticate(ctx, sess.Token); wache.ErrorCode(err) != wache.EREVOKED {
		t.Fatalf("revoked token: %v", err)
	}
}

func TestRevokeAuthority(t *testing.T) {
	ctx := context.Background()
	s, now, dir := testService(t)
	login := func(email string) *Session {
		if err := s.RequestCode(ctx, email); err != nil {
			t.Fatal(err)
		}
		sess, err := s.Verify(ctx, verifyReq(email, lastCode(t, dir)))
		if err != nil {
			t.Fatal(err)
		}
		*now = now.Add(time.Minute)
		return sess
	}
	a, b := login("a@"+DemoDomain), login("b@"+DemoDomain)
	if err := s.RevokeDevice(ctx, b.User, a.Device.ID); wache.ErrorCode(err) != wache.ENOTFOUND {
		t.Fatalf("officer revoked a colleague's device: %v", err)
	}
	admin := *b.User
	admin.Roles = []wache.Role{wache.RoleAdmin}
	if err := s.RevokeDevice(ctx, &admin, a.Device.ID); err != nil {
		t.Fatalf("admin revoke: %v", err)
	}
}

func TestSMTPURL(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"smtp://user:pw@mail.polizei.example:587?from=wache@polizei.example", true},
		{"smtps://mail.polizei.example?from=wache@polizei.example", true},
		{"smtp://mail.polizei.example", false},
		{"http://mail?from=a@b", false},
		{"::", false},
	} {
		if _, err := NewSMTPMailer(tc.url); (err == nil) != tc.ok {
			t.Errorf("NewSMTPMailer(%q): %v", tc.url, err)
		}
	}
}
