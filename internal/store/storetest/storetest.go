// Package storetest is the behaviour suite every store.Store implementation
// must pass. Each subtest opens a fresh, empty store.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/internal/store"
)

// Run runs the suite; open must return a fresh, empty store and arrange
// for it to be closed when the test ends.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, f *fixture)
	}{
		{"Ping", testPing},
		{"Orgs", testOrgs},
		{"Units", testUnits},
		{"Users", testUsers},
		{"UpdateUser", testUpdateUser},
		{"UserSearch", testUserSearch},
		{"LoginCodes", testLoginCodes},
		{"Devices", testDevices},
		{"Conversations", testConversations},
		{"DirectConversations", testDirect},
		{"Append", testAppend},
		{"AppendDuplicates", testAppendDuplicates},
		{"AppendPerItemErrors", testAppendErrors},
		{"AppendConcurrent", testAppendConcurrent},
		{"AppendConcurrentDuplicates", testAppendConcurrentDuplicates},
		{"EnvelopesPaging", testEnvelopesPaging},
		{"CursorsNewDevice", testCursorsNewDevice},
		{"AddRemoveMember", testAddRemoveMember},
		{"Ack", testAck},
		{"Retention", testRetention},
		{"CommitEpochs", testCommitEpochs},
		{"CommitRace", testCommitRace},
		{"KeyPackages", testKeyPackages},
		{"DeviceMessages", testDeviceMessages},
		{"AckBatch", testAckBatch},
		{"Priority", testPriority},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			tc.fn(t, newFixture(t, s))
		})
	}
}

// --- fixture ---

type fixture struct {
	s   store.Store
	ctx context.Context
	org *wache.Org
	n   int
}

func newFixture(t *testing.T, s store.Store) *fixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	f := &fixture{s: s, ctx: ctx}
	f.org = &wache.Org{ID: "org-1", Name: "PP Musterstadt", Domains: []string{"polizei.example"}}
	must(t, s.CreateOrg(ctx, f.org))
	return f
}

func (f *fixture) id(prefix string) string {
	f.n++
	return fmt.Sprintf("%s-%d", prefix, f.n)
}

func (f *fixture) user(t *testing.T, name string) *wache.User {
	t.Helper()
	u := &wache.User{ID: f.id("u"), OrgID: f.org.ID, Email: name + "@polizei.example", DisplayName: name,
		Roles: []wache.Role{wache.RoleOfficer}}
	must(t, f.s.CreateUser(f.ctx, u))
	return u
}

func tokenHash(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

func (f *fixture) device(t *testing.T, u *wache.User) *wache.Device {
	t.Helper()
	d := &wache.Device{ID: f.id("d"), UserID: u.ID, Name: "phone", SigningKey: bytes.Repeat([]byte{7}, 32)}
	must(t, f.s.CreateDevice(f.ctx, d, tokenHash("token-"+d.ID)))
	return d
}

func (f *fixture) group(t *testing.T, us ...*wache.User) *wache.Conversation {
	t.Helper()
	c := &wache.Conversation{ID: f.id("c"), OrgID: f.org.ID, Kind: wache.ConvGroup, Name: "Gruppe", CreatedBy: us[0].ID}
	var ms []wache.Member
	for i, u := range us {
		r := wache.MemberReader
		if i == 0 {
			r = wache.MemberAdmin
		}
		ms = append(ms, wache.Member{UserID: u.ID, Role: r})
	}
	must(t, f.s.CreateConversation(f.ctx, c, ms))
	return c
}

func env(c *wache.Conversation, d *wache.Device, clientID string) *wache.Envelope {
	return &wache.Envelope{ConvID: c.ID, SenderID: d.UserID, SenderDevice: d.ID, ClientID: clientID,
		Payload: []byte("ciphertext " + clientID)}
}

// appendOK appends a batch and fails the test on any per-item error.
func (f *fixture) appendOK(t *testing.T, envs ...*wache.Envelope) []store.AppendResult {
	t.Helper()
	res, err := f.s.AppendEnvelopes(f.ctx, envs)
	must(t, err)
	if len(res) != len(envs) {
		t.Fatalf("got %d results for %d envelopes", len(res), len(envs))
	}
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("envelope %d: %v", i, r.Err)
		}
	}
	return res
}

func (f *fixture) cursor(t *testing.T, d *wache.Device, c *wache.Conversation) (store.Cursor, bool) {
	t.Helper()
	cs, err := f.s.Cursors(f.ctx, d.ID)
	must(t, err)
	for _, cu := range cs {
		if cu.ConvID == c.ID {
			return cu, true
		}
	}
	return store.Cursor{}, false
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := wache.ErrorCode(err); got != code {
		t.Fatalf("error %v: code %q, want %q", err, got, code)
	}
}

func seqs(es []wache.Envelope) []int64 {
	var s []int64
	for _, e := range es {
		s = append(s, e.Seq)
	}
	return s
}

func seqRange(from, to int64) []int64 {
	var s []int64
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

// --- tests ---

func testPing(t *testing.T, f *fixture) {
	must(t, f.s.Ping(f.ctx))
}

func testOrgs(t *testing.T, f *fixture) {
	o2 := &wache.Org{ID: "org-2", Name: "LKA", Domains: []string{"LKA.Example", "lka.example", "bund.example"}}
	must(t, f.s.CreateOrg(f.ctx, o2))
	if want := []string{"bund.example", "lka.example"}; !slices.Equal(o2.Domains, want) {
		t.Errorf("normalised domains %v, want %v", o2.Domains, want)
	}
	got, err := f.s.Org(f.ctx, "org-2")
	must(t, err)
	if !reflect.DeepEqual(got, o2) {
		t.Errorf("Org = %+v, want %+v", got, o2)
	}
	got, err = f.s.OrgByDomain(f.ctx, "LKA.EXAMPLE")
	must(t, err)
	if got.ID != "org-2" {
		t.Errorf("OrgByDomain = %s, want org-2", got.ID)
	}
	all, err := f.s.Orgs(f.ctx)
	must(t, err)
	if len(all) != 2 || all[0].ID != "org-2" || all[1].ID != "org-1" || len(all[1].Domains) != 1 {
		t.Errorf("Orgs = %+v", all)
	}

	errs := []struct {
		name string
		err  error
		code string
	}{
		{"unknown id", second(f.s.Org(f.ctx, "nope")), wache.ENOTFOUND},
		{"unknown domain", second(f.s.OrgByDomain(f.ctx, "other.example")), wache.ENOTFOUND},
		{"same id", f.s.CreateOrg(f.ctx, &wache.Org{ID: "org-2", Name: "x"}), wache.ECONFLICT},
		{"domain of another org", f.s.CreateOrg(f.ctx, &wache.Org{ID: "org-3", Name: "x", Domains: []string{"Polizei.example"}}), wache.ECONFLICT},
		{"empty id", f.s.CreateOrg(f.ctx, &wache.Org{Name: "x"}), wache.EINVALID},
		{"bad domain", f.s.CreateOrg(f.ctx, &wache.Org{ID: "org-4", Name: "x", Domains: []string{"a@b"}}), wache.EINVALID},
	}
	for _, e := range errs {
		t.Run(e.name, func(t *testing.T) { wantCode(t, e.err, e.code) })
	}
	// The clash rolled back the whole org.
	wantCode(t, second(f.s.Org(f.ctx, "org-3")), wache.ENOTFOUND)
}

func second[T any](_ T, err error) error { return err }

func testUnits(t *testing.T, f *fixture) {
	top := &wache.Unit{ID: "unit-b", OrgID: f.org.ID, Name: "Direktion"}
	must(t, f.s.CreateUnit(f.ctx, top))
	sub := &wache.Unit{ID: "unit-a", OrgID: f.org.ID, ParentID: top.ID, Name: "Altstadt"}
	must(t, f.s.CreateUnit(f.ctx, sub))
	us, err := f.s.Units(f.ctx, f.org.ID)
	must(t, err)
	if want := []wache.Unit{*sub, *top}; !reflect.DeepEqual(us, want) {
		t.Errorf("Units = %+v, want %+v", us, want)
	}
	if us, _ := f.s.Units(f.ctx, "other"); len(us) != 0 {
		t.Errorf("Units(other) = %+v", us)
	}
	must(t, f.s.CreateOrg(f.ctx, &wache.Org{ID: "org-2", Name: "x"}))
	for _, tc := range []struct {
		name string
		u    wache.Unit
		code string
	}{
		{"duplicate", wache.Unit{ID: "unit-a", OrgID: f.org.ID, Name: "x"}, wache.ECONFLICT},
		{"unknown org", wache.Unit{ID: "unit-x", OrgID: "nope", Name: "x"}, wache.ENOTFOUND},
		{"unknown parent", wache.Unit{ID: "unit-x", OrgID: f.org.ID, ParentID: "nope", Name: "x"}, wache.ENOTFOUND},
		{"parent in other org", wache.Unit{ID: "unit-x", OrgID: "org-2", ParentID: "unit-a", Name: "x"}, wache.ENOTFOUND},
		{"no id", wache.Unit{OrgID: f.org.ID, Name: "x"}, wache.EINVALID},
	} {
		t.Run(tc.name, func(t *testing.T) { wantCode(t, f.s.CreateUnit(f.ctx, &tc.u), tc.code) })
	}
}

func testUsers(t *testing.T, f *fixture) {
	unit := &wache.Unit{ID: "unit-1", OrgID: f.org.ID, Name: "Wache Nord"}
	must(t, f.s.CreateUnit(f.ctx, unit))
	u := &wache.User{ID: "u-1", OrgID: f.org.ID, UnitID: unit.ID, Email: " Anna.Schmidt@Polizei.Example ", DisplayName: "Anna Schmidt",
		Roles: []wache.Role{wache.RoleOfficer, wache.RoleAdmin, wache.RoleOfficer}, CreatedAt: time.Date(2025, 3, 1, 8, 0, 0, 123456789, time.UTC)}
	must(t, f.s.CreateUser(f.ctx, u))
	if u.Email != "anna.schmidt@polizei.example" {
		t.Errorf("email stored as %q", u.Email)
	}
	if !u.CreatedAt.Equal(time.Date(2025, 3, 1, 8, 0, 0, 123000000, time.UTC)) {
		t.Errorf("CreatedAt normalised to %v", u.CreatedAt)
	}
	for _, get := range []func() (*wache.User, error){
		func() (*wache.User, error) { return f.s.User(f.ctx, "u-1") },
		func() (*wache.User, error) { return f.s.UserByEmail(f.ctx, "ANNA.SCHMIDT@polizei.example") },
	} {
		got, err := get()
		must(t, err)
		if !reflect.DeepEqual(got, u) {
			t.Errorf("read %+v, want %+v", got, u)
		}
		if !got.HasRole(wache.RoleAdmin) || len(got.Roles) != 2 {
			t.Errorf("roles %v", got.Roles)
		}
	}
	for _, tc := range []struct {
		name string
		u    wache.User
		code string
	}{
		{"email in other case", wache.User{ID: "u-2", OrgID: f.org.ID, Email: "ANNA.schmidt@polizei.example"}, wache.ECONFLICT},
		{"same id", wache.User{ID: "u-1", OrgID: f.org.ID, Email: "x@polizei.example"}, wache.ECONFLICT},
		{"unknown role", wache.User{ID: "u-3", OrgID: f.org.ID, Email: "y@polizei.example", Roles: []wache.Role{"god"}}, wache.EINVALID},
		{"no email", wache.User{ID: "u-3", OrgID: f.org.ID}, wache.EINVALID},
		{"email without @", wache.User{ID: "u-3", OrgID: f.org.ID, Email: "nobody"}, wache.EINVALID},
		{"unknown org", wache.User{ID: "u-3", OrgID: "nope", Email: "z@polizei.example"}, wache.ENOTFOUND},
		{"unknown unit", wache.User{ID: "u-3", OrgID: f.org.ID, UnitID: "nope", Email: "z@polizei.example"}, wache.ENOTFOUND},
	} {
		t.Run(tc.name, func(t *testing.T) { wantCode(t, f.s.CreateUser(f.ctx, &tc.u), tc.code) })
	}
	wantCode(t, second(f.s.User(f.ctx, "nope")), wache.ENOTFOUND)
	wantCode(t, second(f.s.UserByEmail(f.ctx, "nope@polizei.example")), wache.ENOTFOUND)
}

func testUpdateUser(t *testing.T, f *fixture) {
	u := f.user(t, "bernd")
	other := f.user(t, "clara")
	must(t, f.s.CreateUnit(f.ctx, &wache.Unit{ID: "unit-1", OrgID: f.org.ID, Name: "Leitstelle"}))
	created := u.CreatedAt
	disabled := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	u.DisplayName = "Bernd Bauer"
	u.UnitID = "unit-1"
	u.Roles = []wache.Role{wache.RoleDispatcher}
	u.DisabledAt = &disabled
	u.Email = "Bernd.Bauer@polizei.example"
	must(t, f.s.UpdateUser(f.ctx, u))
	got, err := f.s.User(f.ctx, u.ID)
	must(t, err)
	if !reflect.DeepEqual(got, u) || !got.CreatedAt.Equal(created) || got.Email != "bernd.bauer@polizei.example" {
		t.Errorf("after update %+v, want %+v", got, u)
	}
	// Re-enable.
	u.DisabledAt = nil
	must(t, f.s.UpdateUser(f.ctx, u))
	if got, _ := f.s.User(f.ctx, u.ID); got.DisabledAt != nil {
		t.Errorf("still disabled")
	}
	clash := *other
	clash.Email = "BERND.bauer@polizei.example"
	wantCode(t, f.s.UpdateUser(f.ctx, &clash), wache.ECONFLICT)
	missing := *u
	missing.ID = "nope"
	missing.Email = "nope@polizei.example"
	wantCode(t, f.s.UpdateUser(f.ctx, &missing), wache.ENOTFOUND)
}

func testUserSearch(t *testing.T, f *fixture) {
	mk := func(id, email, name string) {
		must(t, f.s.CreateUser(f.ctx, &wache.User{ID: id, OrgID: f.org.ID, Email: email, DisplayName: name}))
	}
	mk("u-z", "zoe.mueller@polizei.example", "Zoë Müller")
	mk("u-a", "anna.maier@polizei.example", "Anna Maier")
	mk("u-p", "percent@polizei.example", "100% Sicher")
	mk("u-u", "under_score@polizei.example", "Unter Strich")
	mk("u-m", "max@polizei.example", "MAX MÜLLER")
	must(t, f.s.CreateOrg(f.ctx, &wache.Org{ID: "org-2", Name: "x", Domains: []string{"lka.example"}}))
	must(t, f.s.CreateUser(f.ctx, &wache.User{ID: "u-x", OrgID: "org-2", Email: "mueller@lka.example", DisplayName: "Müller"}))

	for _, tc := range []struct {
		query string
		limit int
		want  []string
	}{
		{"", 100, []string{"u-a", "u-m", "u-p", "u-u", "u-z"}},
		{"MÜLLER", 100, []string{"u-m", "u-z"}},
		{"mueller", 100, []string{"u-z"}},
		{"ANNA", 100, []string{"u-a"}},
		{"%", 100, []string{"u-p"}},
		{"_", 100, []string{"u-u"}},
		{"a_m", 100, nil},
		{`\`, 100, nil},
		{"polizei", 2, []string{"u-a", "u-m"}},
		{"polizei", 0, []string{"u-a"}}, // clamped to at least one
		{"nobody", 100, nil},
	} {
		t.Run(fmt.Sprintf("%q/%d", tc.query, tc.limit), func(t *testing.T) {
			us, err := f.s.Users(f.ctx, f.org.ID, tc.query, tc.limit)
			must(t, err)
			var ids []string
			for _, u := range us {
				ids = append(ids, u.ID)
			}
			if !slices.Equal(ids, tc.want) {
				t.Errorf("Users(%q) = %v, want %v", tc.query, ids, tc.want)
			}
		})
	}
}

func testLoginCodes(t *testing.T, f *fixture) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	c := &store.LoginCode{Email: "Anna@Polizei.example", CodeHash: tokenHash("123456"), CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
	must(t, f.s.PutLoginCode(f.ctx, c))
	got, err := f.s.LoginCode(f.ctx, "ANNA@polizei.example")
	must(t, err)
	if !reflect.DeepEqual(got, c) || got.Email != "anna@polizei.example" {
		t.Errorf("LoginCode = %+v, want %+v", got, c)
	}
	for want := 1; want <= 3; want++ {
		n, err := f.s.IncLoginAttempts(f.ctx, "anna@polizei.example")
		must(t, err)
		if n != want {
			t.Errorf("attempts = %d, want %d", n, want)
		}
	}
	// A new code replaces the old one, attempts included.
	c2 := &store.LoginCode{Email: "anna@polizei.example", CodeHash: tokenHash("654321"), CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
	must(t, f.s.PutLoginCode(f.ctx, c2))
	got, err = f.s.LoginCode(f.ctx, "anna@polizei.example")
	must(t, err)
	if got.Attempts != 0 || !bytes.Equal(got.CodeHash, c2.CodeHash) || !got.ExpiresAt.Equal(c2.ExpiresAt) {
		t.Errorf("after replace %+v", got)
	}
	must(t, f.s.DeleteLoginCode(f.ctx, "Anna@polizei.example"))
	wantCode(t, second(f.s.LoginCode(f.ctx, "anna@polizei.example")), wache.ENOTFOUND)
	wantCode(t, second(f.s.IncLoginAttempts(f.ctx, "anna@polizei.example")), wache.ENOTFOUND)
	must(t, f.s.DeleteLoginCode(f.ctx, "anna@polizei.example")) // idempotent
	wantCode(t, f.s.PutLoginCode(f.ctx, &store.LoginCode{Email: "x@polizei.example", ExpiresAt: now}), wache.EINVALID)
}

func testDevices(t *testing.T, f *fixture) {
	u := f.user(t, "anna")
	d := &wache.Device{ID: "d-1", UserID: u.ID, Name: "Diensthandy", SigningKey: bytes.Repeat([]byte{1}, 32),
		CreatedAt: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	must(t, f.s.CreateDevice(f.ctx, d, tokenHash("t1")))
	if !d.LastSeenAt.Equal(d.CreatedAt) {
		t.Errorf("LastSeenAt %v, want CreatedAt", d.LastSeenAt)
	}
	d2 := f.device(t, u)
	got, err := f.s.Device(f.ctx, "d-1")
	must(t, err)
	if !reflect.DeepEqual(got, d) {
		t.Errorf("Device = %+v, want %+v", got, d)
	}
	got, err = f.s.DeviceByTokenHash(f.ctx, tokenHash("t1"))
	must(t, err)
	if got.ID != "d-1" {
		t.Errorf("DeviceByTokenHash = %s", got.ID)
	}
	ds, err := f.s.Devices(f.ctx, u.ID)
	must(t, err)
	if len(ds) != 2 || ds[0].ID != "d-1" || ds[1].ID != d2.ID {
		t.Errorf("Devices = %+v", ds)
	}

	seen := time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)
	must(t, f.s.TouchDevice(f.ctx, "d-1", seen))
	must(t, f.s.TouchDevice(f.ctx, "d-1", seen.Add(-time.Hour))) // never backwards
	if got, _ := f.s.Device(f.ctx, "d-1"); !got.LastSeenAt.Equal(seen) {
		t.Errorf("LastSeenAt = %v, want %v", got.LastSeenAt, seen)
	}

	revoked := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	must(t, f.s.RevokeDevice(f.ctx, "d-1", revoked))
	must(t, f.s.RevokeDevice(f.ctx, "d-1", revoked.Add(time.Hour))) // keeps the first time
	got, err = f.s.DeviceByTokenHash(f.ctx, tokenHash("t1"))
	must(t, err)
	if !got.Revoked() || !got.RevokedAt.Equal(revoked) {
		t.Errorf("revoked device: %+v", got)
	}

	for _, tc := range []struct {
		name string
		err  error
		code string
	}{
		{"same token", f.s.CreateDevice(f.ctx, &wache.Device{ID: "d-9", UserID: u.ID, SigningKey: []byte{1}}, tokenHash("t1")), wache.ECONFLICT},
		{"same id", f.s.CreateDevice(f.ctx, &wache.Device{ID: "d-1", UserID: u.ID, SigningKey: []byte{1}}, tokenHash("t9")), wache.ECONFLICT},
		{"unknown user", f.s.CreateDevice(f.ctx, &wache.Device{ID: "d-8", UserID: "nope", SigningKey: []byte{1}}, tokenHash("t8")), wache.ENOTFOUND},
		{"no key", f.s.CreateDevice(f.ctx, &wache.Device{ID: "d-7", UserID: u.ID}, tokenHash("t7")), wache.EINVALID},
		{"no token", f.s.CreateDevice(f.ctx, &wache.Device{ID: "d-7", UserID: u.ID, SigningKey: []byte{1}}, nil), wache.EINVALID},
		{"unknown token", second(f.s.DeviceByTokenHash(f.ctx, tokenHash("nope"))), wache.ENOTFOUND},
		{"unknown id", second(f.s.Device(f.ctx, "nope")), wache.ENOTFOUND},
		{"revoke unknown", f.s.RevokeDevice(f.ctx, "nope", revoked), wache.ENOTFOUND},
		{"touch unknown", f.s.TouchDevice(f.ctx, "nope", revoked), wache.ENOTFOUND},
		{"cursors unknown", second(f.s.Cursors(f.ctx, "nope")), wache.ENOTFOUND},
	} {
		t.Run(tc.name, func(t *testing.T) { wantCode(t, tc.err, tc.code) })
	}
}

func testConversations(t *testing.T, f *fixture) {
	a, b, c := f.user(t, "anna"), f.user(t, "bernd"), f.user(t, "clara")
	da := f.device(t, a)
	db := f.device(t, b)
	dbRevoked := f.device(t, b)
	must(t, f.s.RevokeDevice(f.ctx, dbRevoked.ID, time.Now()))

	conv := &wache.Conversation{ID: "c-1", OrgID: f.org.ID, Kind: wache.ConvChannel, Name: "Lage", CreatedBy: a.ID, LastSeq: 99,
		CreatedAt: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} // older than g below: activity order is fixed
	members := []wache.Member{{UserID: a.ID, Role: wache.MemberAdmin}, {UserID: b.ID, Role: wache.MemberReader}}
	must(t, f.s.CreateConversation(f.ctx, conv, members))
	if conv.LastSeq != 0 || members[0].ConvID != "c-1" || !members[1].JoinedAt.Equal(conv.CreatedAt) {
		t.Errorf("normalised %+v %+v", conv, members)
	}
	got, err := f.s.Conversation(f.ctx, "c-1")
	must(t, err)
	if !reflect.DeepEqual(got, conv) {
		t.Errorf("Conversation = %+v, want %+v", got, conv)
	}
	ms, err := f.s.Members(f.ctx, "c-1")
	must(t, err)
	slices.SortFunc(ms, func(x, y wache.Member) int { return cmpStr(x.UserID, y.UserID) })
	if !reflect.DeepEqual(ms, members) {
		t.Errorf("Members = %+v, want %+v", ms, members)
	}
	m, err := f.s.Member(f.ctx, "c-1", b.ID)
	must(t, err)
	if m.Role != wache.MemberReader || m.FromSeq != 0 {
		t.Errorf("Member = %+v", m)
	}
	// Cursors at 0 for the members' devices.
	for _, d := range []*wache.Device{da, db} {
		cu, ok := f.cursor(t, d, conv)
		if !ok || cu != (store.Cursor{ConvID: "c-1"}) {
			t.Errorf("cursor of %s = %+v, %v", d.ID, cu, ok)
		}
	}

	g := f.group(t, b, c)
	f.appendOK(t, env(g, db, "m1"))
	sums, err := f.s.Conversations(f.ctx, b.ID)
	must(t, err)
	if len(sums) != 2 || sums[0].ID != g.ID || sums[0].Role != wache.MemberAdmin || sums[0].MemberCount != 2 || sums[0].LastSeq != 1 ||
		sums[1].ID != "c-1" || sums[1].Role != wache.MemberReader || sums[1].Kind != wache.ConvChannel {
		t.Errorf("Conversations(b) = %+v", sums)
	}
	if sums, _ := f.s.Conversations(f.ctx, c.ID); len(sums) != 1 {
		t.Errorf("Conversations(c) = %+v", sums)
	}

	for _, tc := range []struct {
		name    string
		c       wache.Conversation
		members []wache.Member
		code    string
	}{
		{"same id", wache.Conversation{ID: "c-1", OrgID: f.org.ID, Kind: wache.ConvGroup}, []wache.Member{{UserID: a.ID, Role: wache.MemberAdmin}}, wache.ECONFLICT},
		{"bad kind", wache.Conversation{ID: "c-9", OrgID: f.org.ID, Kind: "forum"}, []wache.Member{{UserID: a.ID, Role: wache.MemberAdmin}}, wache.EINVALID},
		{"bad role", wache.Conversation{ID: "c-9", OrgID: f.org.ID, Kind: wache.ConvGroup}, []wache.Member{{UserID: a.ID, Role: "boss"}}, wache.EINVALID},
		{"no members", wache.Conversation{ID: "c-9", OrgID: f.org.ID, Kind: wache.ConvGroup}, nil, wache.EINVALID},
		{"duplicate member", wache.Conversation{ID: "c-9", OrgID: f.org.ID, Kind: wache.ConvGroup},
			[]wache.Member{{UserID: a.ID, Role: wache.MemberAdmin}, {UserID: a.ID, Role: wache.MemberReader}}, wache.EINVALID},
		{"unknown user", wache.Conversation{ID: "c-9", OrgID: f.org.ID, Kind: wache.ConvGroup},
			[]wache.Member{{UserID: a.ID, Role: wache.MemberAdmin}, {UserID: "nope", Role: wache.MemberReader}}, wache.ENOTFOUND},
		{"unknown org", wache.Conversation{ID: "c-9", OrgID: "nope", Kind: wache.ConvGroup}, []wache.Member{{UserID: a.ID, Role: wache.MemberAdmin}}, wache.ENOTFOUND},
	} {
		t.Run(tc.name, func(t *testing.T) { wantCode(t, f.s.CreateConversation(f.ctx, &tc.c, tc.members), tc.code) })
	}
	// Failed creations left nothing behind.
	wantCode(t, second(f.s.Conversation(f.ctx, "c-9")), wache.ENOTFOUND)
	wantCode(t, second(f.s.Conversation(f.ctx, "nope")), wache.ENOTFOUND)
	wantCode(t, second(f.s.Member(f.ctx, "c-1", c.ID)), wache.ENOTFOUND)
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func testDirect(t *testing.T, f *fixture) {
	a, b, c := f.user(t, "anna"), f.user(t, "bernd"), f.user(t, "clara")
	dm := func(id string, us ...*wache.User) error {
		var ms []wache.Member
		for _, u := range us {
			ms = append(ms, wache.Member{UserID: u.ID, Role: wache.MemberAdmin})
		}
		return f.s.CreateConversation(f.ctx, &wache.Conversation{ID: id, OrgID: f.org.ID, Kind: wache.ConvDirect, CreatedBy: us[0].ID}, ms)
	}
	must(t, dm("dm-ab", a, b))
	must(t, dm("dm-ac", c, a))
	f.group(t, a, b) // a group of the same two users is not their direct chat
	for _, tc := range []struct {
		x, y *wache.User
		want string
	}{
		{a, b, "dm-ab"}, {b, a, "dm-ab"}, {a, c, "dm-ac"}, {c, a, "dm-ac"}, {b, c, ""}, {a, a, ""},
	} {
		got, err := f.s.DirectConversation(f.ctx, tc.x.ID, tc.y.ID)
		if tc.want == "" {
			wantCode(t, err, wache.ENOTFOUND)
			continue
		}
		must(t, err)
		if got.ID != tc.want || got.Kind != wache.ConvDirect {
			t.Errorf("DirectConversation(%s, %s) = %+v, want %s", tc.x.ID, tc.y.ID, got, tc.want)
		}
	}
	wantCode(t, dm("dm-ba", b, a), wache.ECONFLICT) // one direct chat per pair
	wantCode(t, dm("dm-abc", a, b, c), wache.EINVALID)
	wantCode(t, dm("dm-a", a), wache.EINVALID)
	wantCode(t, f.s.AddMember(f.ctx, &wache.Member{ConvID: "dm-ab", UserID: c.ID, Role: wache.MemberReader}), wache.EINVALID)
	// One of the pair may leave and come back.
	must(t, f.s.RemoveMember(f.ctx, "dm-ab", b.ID))
	must(t, f.s.AddMember(f.ctx, &wache.Member{ConvID: "dm-ab", UserID: b.ID, Role: wache.MemberAdmin}))
}

func testAppend(t *testing.T, f *fixture) {
	a, b := f.user(t, "anna"), f.user(t, "bernd")
	da, db := f.device(t, a), f.device(t, b)
	c1, c2 := f.group(t, a, b), f.group(t, a, b)
	before := time.Now().Add(-time.Second)

	batch := []*wache.Envelope{env(c1, da, "a1"), env(c2, da, "a2"), env(c1, db, "b1"), env(c1, da, "a3")}
	batch[3].Payload = nil // empty payloads are fine
	res := f.appendOK(t, batch...)
	wantSeq := []int64{1, 1, 2, 3}
	for i, r := range res {
		if r.Seq != wantSeq[i] || r.Duplicate || r.CreatedAt.Before(before) || r.CreatedAt.After(time.Now().Add(time.Second)) {
			t.Errorf("result %d = %+v, want seq %d", i, r, wantSeq[i])
		}
		if batch[i].Seq != r.Seq || !batch[i].CreatedAt.Equal(r.CreatedAt) || r.CreatedAt.Location() != time.UTC {
			t.Errorf("envelope %d not filled in: %+v", i, batch[i])
		}
	}
	res = f.appendOK(t, env(c1, db, "b2"))
	if res[0].Seq != 4 {
		t.Errorf("next seq %d, want 4", res[0].Seq)
	}

	es, err := f.s.Envelopes(f.ctx, c1.ID, 0, 100)
	must(t, err)
	if !slices.Equal(seqs(es), []int64{1, 2, 3, 4}) {
		t.Fatalf("seqs %v", seqs(es))
	}
	want := *batch[2]
	if !reflect.DeepEqual(es[1], want) {
		t.Errorf("envelope = %+v, want %+v", es[1], want)
	}
	if len(es[2].Payload) != 0 {
		t.Errorf("empty payload read back as %q", es[2].Payload)
	}
	if cv, _ := f.s.Conversation(f.ctx, c1.ID); cv.LastSeq != 4 {
		t.Errorf("LastSeq = %d", cv.LastSeq)
	}
	if cv, _ := f.s.Conversation(f.ctx, c2.ID); cv.LastSeq != 1 {
		t.Errorf("LastSeq(c2) = %d", cv.LastSeq)
	}
	if es, _ := f.s.Envelopes(f.ctx, "nope", 0, 10); len(es) != 0 {
		t.Errorf("unknown conversation has %d envelopes", len(es))
	}
	if res, err := f.s.AppendEnvelopes(f.ctx, nil); err != nil || len(res) != 0 {
		t.Errorf("empty batch: %v %v", res, err)
	}
	big := make([]*wache.Envelope, 1001)
	for i := range big {
		big[i] = env(c1, da, fmt.Sprintf("big%d", i))
	}
	_, err = f.s.AppendEnvelopes(f.ctx, big)
	wantCode(t, err, wache.EINVALID)
	if cv, _ := f.s.Conversation(f.ctx, c1.ID); cv.LastSeq != 4 {
		t.Errorf("oversized batch changed LastSeq to %d", cv.LastSeq)
	}
}

func testAppendDuplicates(t *testing.T, f *fixture) {
	a, b := f.user(t, "anna"), f.user(t, "bernd")
	da, db := f.device(t, a), f.device(t, b)
	c1, c2 := f.group(t, a, b), f.group(t, a, b)

	first := f.appendOK(t, env(c1, da, "x"), env(c1, da, "y"))
	time.Sleep(3 * time.Millisecond) // a later batch gets a later time

	// Across batches: same pair, same conversation → the original seq and time.
	// Within a batch: the second occurrence is a duplicate of the first.
	// Another device may use the same client id.
	batch := []*wache.Envelope{
		env(c1, da, "y"),   // dup of earlier batch
		env(c1, da, "z"),   // new → 3
		env(c1, da, "z"),   // dup inside batch
		env(c1, db, "x"),   // other device, same client id → 4
		env(c2, da, "x"),   // other conversation → conflict
		env(c2, da, "w"),   // new in c2 → 1
		env(c1, da, "w"),   // pair first used in c2 in this batch → conflict
		env(c2, da, "w"),   // dup inside batch
		env(c1, da, "new"), // → 5
	}
	res, err := f.s.AppendEnvelopes(f.ctx, batch)
	must(t, err)
	type want struct {
		seq  int64
		dup  bool
		code string
	}
	wants := []want{{2, true, ""}, {3, false, ""}, {3, true, ""}, {4, false, ""}, {0, false, wache.ECONFLICT},
		{1, false, ""}, {0, false, wache.ECONFLICT}, {1, true, ""}, {5, false, ""}}
	for i, w := range wants {
		r := res[i]
		if wache.ErrorCode(r.Err) != w.code || (w.code == "" && (r.Seq != w.seq || r.Duplicate != w.dup)) {
			t.Errorf("item %d: %+v, want %+v", i, r, w)
		}
	}
	if !res[0].CreatedAt.Equal(first[1].CreatedAt) {
		t.Errorf("duplicate CreatedAt %v, want the original %v", res[0].CreatedAt, first[1].CreatedAt)
	}
	if !res[2].CreatedAt.Equal(res[1].CreatedAt) {
		t.Errorf("in-batch duplicate CreatedAt differs")
	}
	es, err := f.s.Envelopes(f.ctx, c1.ID, 0, 100)
	must(t, err)
	if !slices.Equal(seqs(es), seqRange(1, 5)) {
		t.Errorf("c1 seqs %v", seqs(es))
	}
	if es[1].ClientID != "y" || !bytes.Equal(es[1].Payload, []byte("ciphertext y")) {
		t.Errorf("original envelope changed: %+v", es[1])
	}
	es, err = f.s.Envelopes(f.ctx, c2.ID, 0, 100)
	must(t, err)
	if !slices.Equal(seqs(es), []int64{1}) {
		t.Errorf("c2 seqs %v", seqs(es))
	}
	// A retry of the whole batch stores nothing new.
	again := []*wache.Envelope{env(c1, da, "z"), env(c1, db, "x"), env(c1, da, "new")}
	res = f.appendOK(t, again...)
	for i, r := range res {
		if !r.Duplicate {
			t.Errorf("retry item %d not a duplicate: %+v", i, r)
		}
	}
	if cv, _ := f.s.Conversation(f.ctx, c1.ID); cv.LastSeq != 5 {
		t.Errorf("LastSeq = %d after retry", cv.LastSeq)
	}
}

func testAppendErrors(t *testing.T, f *fixture) {
	a, b, c := f.user(t, "anna"), f.user(t, "bernd"), f.user(t, "clara")
	da, db, dc := f.device(t, a), f.device(t, b), f.device(t, c)
	revoked := f.device(t, a)
	must(t, f.s.RevokeDevice(f.ctx, revoked.ID, time.Now()))
	g := f.group(t, a, b)

	stolen := env(g, db, "s") // b's device claiming to be a
	stolen.SenderID = a.ID
	tooBig := env(g, da, "big")
	tooBig.Payload = make([]byte, wache.MaxPayload+1)
	maxSize := env(g, da, "max")
	maxSize.Payload = make([]byte, wache.MaxPayload)
	noClient := env(g, da, "")
	unknownConv := env(g, da, "u")
	unknownConv.ConvID = "nope"

	batch := []*wache.Envelope{
		env(g, da, "1"),      // 1
		env(g, dc, "2"),      // not a member
		env(g, revoked, "3"), // revoked device
		stolen,               // device not the sender's
		tooBig,
		noClient,
		nil,
		unknownConv,
		env(g, db, "4"), // 2
		maxSize,         // 3
	}
	res, err := f.s.AppendEnvelopes(f.ctx, batch)
	must(t, err)
	wantCodes := []string{"", wache.EFORBIDDEN, wache.EFORBIDDEN, wache.EFORBIDDEN, wache.ETOOLARGE, wache.EINVALID, wache.EINVALID,
		wache.ENOTFOUND, "", ""}
	wantSeqs := []int64{1, 0, 0, 0, 0, 0, 0, 0, 2, 3}
	for i, r := range res {
		if wache.ErrorCode(r.Err) != wantCodes[i] || (r.Err == nil && r.Seq != wantSeqs[i]) {
			t.Errorf("item %d: %+v, want code %q seq %d", i, r, wantCodes[i], wantSeqs[i])
		}
		if r.Err != nil && batch[i] != nil && batch[i].Seq != 0 {
			t.Errorf("refused item %d got Seq %d", i, batch[i].Seq)
		}
	}
	es, err := f.s.Envelopes(f.ctx, g.ID, 0, 100)
	must(t, err)
	if !slices.Equal(seqs(es), []int64{1, 2, 3}) || len(es[2].Payload) != wache.MaxPayload {
		t.Errorf("stored %v", seqs(es))
	}
	// A refused client id is not burnt: the member may use it once allowed.
	must(t, f.s.AddMember(f.ctx, &wache.Member{ConvID: g.ID, UserID: c.ID, Role: wache.MemberReader}))
	res = f.appendOK(t, env(g, dc, "2"))
	if res[0].Seq != 4 || res[0].Duplicate {
		t.Errorf("after joining: %+v", res[0])
	}
}

func testAppendConcurrent(t *testing.T, f *fixture) {
	const workers, batches, perBatch = 4, 15, 4
	a, b := f.user(t, "anna"), f.user(t, "bernd")
	convs := []*wache.Conversation{f.group(t, a, b), f.group(t, a, b)}
	devs := make([]*wache.Device, workers)
	for w := range devs {
		devs[w] = f.device(t, []*wache.User{a, b}[w%2])
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	got := make([]map[string][]int64, workers) // per worker: conv → seqs in order
	for w := range workers {
		got[w] = map[string][]int64{}
		wg.Go(func() {
			for i := range batches {
				var batch []*wache.Envelope
				for j := range perBatch {
					// Alternate conversations inside and across batches, in
					// opposite orders, to exercise lock ordering.
					c := convs[(w+i+j)%2]
					batch = append(batch, env(c, devs[w], fmt.Sprintf("w%d-%d-%d", w, i, j)))
				}
				res, err := f.s.AppendEnvelopes(f.ctx, batch)
				if err != nil {
					errs <- err
					return
				}
				for j, r := range res {
					if r.Err != nil || r.Duplicate {
						errs <- fmt.Errorf("worker %d item %d: %+v", w, j, r)
						return
					}
					got[w][batch[j].ConvID] = append(got[w][batch[j].ConvID], r.Seq)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	total := 0
	for _, c := range convs {
		es, err := f.s.Envelopes(f.ctx, c.ID, 0, 1000)
		must(t, err)
		total += len(es)
		if !slices.Equal(seqs(es), seqRange(1, int64(len(es)))) {
			t.Errorf("conversation %s: seqs not contiguous: %v", c.ID, seqs(es))
		}
		if cv, _ := f.s.Conversation(f.ctx, c.ID); cv.LastSeq != int64(len(es)) {
			t.Errorf("LastSeq %d, stored %d", cv.LastSeq, len(es))
		}
		// Each worker's envelopes keep its own order.
		for w := range workers {
			if s := got[w][c.ID]; !slices.IsSorted(s) {
				t.Errorf("worker %d seqs out of order: %v", w, s)
			}
		}
		bySeq := map[int64]string{}
		for _, e := range es {
			bySeq[e.Seq] = e.ClientID
		}
		for w := range workers {
			for _, s := range got[w][c.ID] {
				if e := bySeq[s]; len(e) < 2 || e[:2] != fmt.Sprintf("w%d", w) {
					t.Errorf("seq %d reported to worker %d holds %q", s, w, e)
				}
			}
		}
	}
	if total != workers*batches*perBatch {
		t.Errorf("stored %d envelopes, want %d", total, workers*batches*perBatch)
	}
}

// testAppendConcurrentDuplicates sends the same envelope from several
// goroutines at once (a client retrying over two connections): exactly one
// is stored, the others are duplicates with its sequence number.
func testAppendConcurrentDuplicates(t *testing.T, f *fixture) {
	const workers, rounds = 4, 10
	a := f.user(t, "anna")
	da := f.device(t, a)
	g := f.group(t, a)
	for round := range rounds {
		var wg sync.WaitGroup
		res := make([]store.AppendResult, workers)
		errs := make([]error, workers)
		for w := range workers {
			wg.Go(func() {
				r, err := f.s.AppendEnvelopes(f.ctx, []*wache.Envelope{env(g, da, fmt.Sprint("r", round)), env(g, da, fmt.Sprint("w", round, w))})
				errs[w] = err
				if err == nil {
					res[w] = r[0]
				}
			})
		}
		wg.Wait()
		stored := 0
		for w := range workers {
			must(t, errs[w])
			if res[w].Err != nil {
				t.Fatalf("round %d worker %d: %v", round, w, res[w].Err)
			}
			if !res[w].Duplicate {
				stored++
			}
			if res[w].Seq != res[0].Seq {
				t.Errorf("round %d: seqs %d and %d for one envelope", round, res[0].Seq, res[w].Seq)
			}
		}
		if stored != 1 {
			t.Errorf("round %d: stored %d times", round, stored)
		}
	}
	es, err := f.s.Envelopes(f.ctx, g.ID, 0, 1000)
	must(t, err)
	if n := rounds * (1 + workers); len(es) != n || !slices.Equal(seqs(es), seqRange(1, int64(n))) {
		t.Errorf("stored %d envelopes (%v…), want %d gapless", len(es), seqs(es)[:min(5, len(es))], n)
	}
}

func testEnvelopesPaging(t *testing.T, f *fixture) {
	a := f.user(t, "anna")
	da := f.device(t, a)
	g := f.group(t, a)
	for i := range 2 {
		batch := make([]*wache.Envelope, 0, 600)
		for j := range 600 {
			e := env(g, da, fmt.Sprintf("%d-%d", i, j))
			e.Payload = []byte{byte(j)}
			batch = append(batch, e)
		}
		f.appendOK(t, batch...)
	}
	for _, tc := range []struct {
		after    int64
		limit    int
		from, to int64
	}{
		{0, 10, 1, 10},
		{10, 5, 11, 15},
		{1195, 100, 1196, 1200},
		{1200, 10, 1, 0},
		{5, 0, 6, 6},       // clamped up to 1
		{0, -3, 1, 1},      // clamped up to 1
		{0, 5000, 1, 1000}, // clamped down to 1000
		{-7, 2, 1, 2},
	} {
		es, err := f.s.Envelopes(f.ctx, g.ID, tc.after, tc.limit)
		must(t, err)
		if !slices.Equal(seqs(es), seqRange(tc.from, tc.to)) {
			t.Errorf("Envelopes(after %d, limit %d) = %d items %v…, want %d..%d", tc.after, tc.limit, len(es), seqs(es)[:min(3, len(es))], tc.from, tc.to)
		}
	}
}

func testCursorsNewDevice(t *testing.T, f *fixture) {
	a, b := f.user(t, "anna"), f.user(t, "bernd")
	da := f.device(t, a)
	g1, g2 := f.group(t, a, b), f.group(t, a)
	f.appendOK(t, env(g1, da, "1"), env(g1, da, "2"), env(g1, da, "3"), env(g2, da, "4"))

	// b has no device yet; the new one starts at the end of every conversation.
	db := f.device(t, b)
	cu, ok := f.cursor(t, db, g1)
	if !ok || cu != (store.Cursor{ConvID: g1.ID, FromSeq: 0, AckedSeq: 3, LastSeq: 3}) {
		t.Errorf("new device cursor = %+v, %v", cu, ok)
	}
	if _, ok := f.cursor(t, db, g2); ok {
		t.Errorf("cursor in a conversation the user is not in")
	}
	// The old device still has everything to fetch.
	cu, _ = f.cursor(t, da, g1)
	if cu != (store.Cursor{ConvID: g1.ID, FromSeq: 0, AckedSeq: 0, LastSeq: 3}) {
		t.Errorf("old device cursor = %+v", cu)
	}
	// A second device of a, created now, starts at the end too.
	da2 := f.device(t, a)
	cs, err := f.s.Cursors(f.ctx, da2.ID)
	must(t, err)
	want := []store.Cursor{{ConvID: g1.ID, AckedSeq: 3, LastSeq: 3}, {ConvID: g2.ID, AckedSeq: 1, LastSeq: 1}}
	slices.SortFunc(cs, func(x, y store.Cursor) int { return cmpStr(x.ConvID, y.ConvID) })
	slices.SortFunc(want, func(x, y store.Cursor) int { return cmpStr(x.ConvID, y.ConvID) })
	if !reflect.DeepEqual(cs, want) {
		t.Errorf("Cursors = %+v, want %+v", cs, want)
	}
	// New messages show up in LastSeq for every device.
	f.appendOK(t, env(g1, db, "5"))
	if cu, _ := f.cursor(t, da2, g1); cu.LastSeq != 4 || cu.AckedSeq != 3 {
		t.Errorf("after append: %+v", cu)
	}
	// A device of a user without conversations has no cursors (and no error).
	lone := f.device(t, f.user(t, "clara"))
	if cs, err := f.s.Cursors(f.ctx, lone.ID); err != nil || len(cs) != 0 {
		t.Errorf("Cursors(lone) = %v, %v", cs, err)
	}
}

func testAddRemoveMember(t *testing.T, f *fixture) {
	a, b := f.user(t, "anna"), f.user(t, "bernd")
	da, db := f.device(t, a), f.device(t, b)
	dbRevoked := f.device(t, b)
	must(t, f.s.RevokeDevice(f.ctx, dbRevoked.ID, time.Now()))
	g := f.group(t, a)
	f.appendOK(t, env(g, da, "1"), env(g, da, "2"))

	res, err := f.s.AppendEnvelopes(f.ctx, []*wache.Envelope{env(g, db, "early")})
	must(t, err)
	wantCode(t, res[0].Err, wache.EFORBIDDEN)

	m := &wache.Member{ConvID: g.ID, UserID: b.ID, Role: wache.MemberPoster, FromSeq: 77}
	must(t, f.s.AddMember(f.ctx, m))
	if m.FromSeq != 2 {
		t.Errorf("FromSeq = %d, want 2", m.FromSeq)
	}
	got, err := f.s.Member(f.ctx, g.ID, b.ID)
	must(t, err)
	if !reflect.DeepEqual(got, m) {
		t.Errorf("Member = %+v, want %+v", got, m)
	}
	cu, ok := f.cursor(t, db, g)
	if !ok || cu != (store.Cursor{ConvID: g.ID, FromSeq: 2, AckedSeq: 2, LastSeq: 2}) {
		t.Errorf("cursor after join = %+v", cu)
	}
	wantCode(t, f.s.AddMember(f.ctx, &wache.Member{ConvID: g.ID, UserID: b.ID, Role: wache.MemberReader}), wache.ECONFLICT)
	wantCode(t, f.s.AddMember(f.ctx, &wache.Member{ConvID: "nope", UserID: b.ID, Role: wache.MemberReader}), wache.ENOTFOUND)
	wantCode(t, f.s.AddMember(f.ctx, &wache.Member{ConvID: g.ID, UserID: "nope", Role: wache.MemberReader}), wache.ENOTFOUND)
	wantCode(t, f.s.AddMember(f.ctx, &wache.Member{ConvID: g.ID, UserID: a.ID, Role: "boss"}), wache.EINVALID)

	res = f.appendOK(t, env(g, db, "3"))
	if res[0].Seq != 3 {
		t.Errorf("seq %d", res[0].Seq)
	}
	must(t, f.s.Ack(f.ctx, db.ID, g.ID, 3))
	if ms, _ := f.s.Members(f.ctx, g.ID); len(ms) != 2 {
		t.Errorf("Members = %+v", ms)
	}

	must(t, f.s.RemoveMember(f.ctx, g.ID, b.ID))
	wantCode(t, f.s.RemoveMember(f.ctx, g.ID, b.ID), wache.ENOTFOUND)
	wantCode(t, second(f.s.Member(f.ctx, g.ID, b.ID)), wache.ENOTFOUND)
	if _, ok := f.cursor(t, db, g); ok {
		t.Errorf("cursor left after removal")
	}
	res, err = f.s.AppendEnvelopes(f.ctx, []*wache.Envelope{env(g, db, "late")})
	must(t, err)
	wantCode(t, res[0].Err, wache.EFORBIDDEN)
	wantCode(t, f.s.Ack(f.ctx, db.ID, g.ID, 3), wache.ENOTFOUND)
	f.appendOK(t, env(g, da, "4"), env(g, da, "5"))

	// Re-joining starts at the new end, not at the old acknowledged position.
	m2 := &wache.Member{ConvID: g.ID, UserID: b.ID, Role: wache.MemberReader}
	must(t, f.s.AddMember(f.ctx, m2))
	if m2.FromSeq != 5 {
		t.Errorf("FromSeq on re-join = %d", m2.FromSeq)
	}
	if cu, _ := f.cursor(t, db, g); cu != (store.Cursor{ConvID: g.ID, FromSeq: 5, AckedSeq: 5, LastSeq: 5}) {
		t.Errorf("cursor after re-join = %+v", cu)
	}
	if sums, _ := f.s.Conversations(f.ctx, a.ID); len(sums) != 1 || sums[0].MemberCount != 2 {
		t.Errorf("Conversations = %+v", sums)
	}
}

func testAck(t *testing.T, f *fixture) {
	a, b := f.user(t, "anna"), f.user(t, "bernd")
	da, db := f.device(t, a), f.device(t, b)
	g := f.group(t, a)
	f.appendOK(t, env(g, da, "1"), env(g, da, "2"), env(g, da, "3"))

	for _, tc := range []struct {
		name   string
		dev    *wache.Device
		conv   string
		seq    int64
		code   string
		wantAt int64 // AckedSeq afterwards
	}{
		{"first ack", da, g.ID, 2, "", 2},
		{"lower does not lower", da, g.ID, 1, "", 2},
		{"same", da, g.ID, 2, "", 2},
		{"zero", da, g.ID, 0, "", 2},
		{"to the end", da, g.ID, 3, "", 3},
		{"beyond the end", da, g.ID, 4, wache.EINVALID, 3},
		{"negative", da, g.ID, -1, wache.EINVALID, 3},
		{"not a member", db, g.ID, 1, wache.ENOTFOUND, 3},
		{"unknown conversation", da, "nope", 1, wache.ENOTFOUND, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantCode(t, f.s.Ack(f.ctx, tc.dev.ID, tc.conv, tc.seq), tc.code)
			if cu, _ := f.cursor(t, da, g); cu.AckedSeq != tc.wantAt {
				t.Errorf("AckedSeq = %d, want %d", cu.AckedSeq, tc.wantAt)
			}
		})
	}
	wantCode(t, f.s.Ack(f.ctx, "nope", g.ID, 1), wache.ENOTFOUND)
	// Acks of one device don't move another device of the same user.
	da2 := f.device(t, a)
	f.appendOK(t, env(g, da, "4"))
	must(t, f.s.Ack(f.ctx, da2.ID, g.ID, 4))
	if cu, _ := f.cursor(t, da, g); cu.AckedSeq != 3 {
		t.Errorf("other device moved to %d", cu.AckedSeq)
	}
	// A conversation created after the device: no cursor row until the
	// first ack (the rows exist; this checks the upsert path either way).
	g2 := f.group(t, a)
	f.appendOK(t, env(g2, da, "x"))
	must(t, f.s.Ack(f.ctx, da2.ID, g2.ID, 1))
	if cu, _ := f.cursor(t, da2, g2); cu.AckedSeq != 1 {
		t.Errorf("g2 AckedSeq = %d", cu.AckedSeq)
	}
}

func testRetention(t *testing.T, f *fixture) {
	a := f.user(t, "anna")
	da := f.device(t, a)
	g := f.group(t, a)
	old := f.appendOK(t, env(g, da, "1"), env(g, da, "2"))
	cut := old[0].CreatedAt.Add(time.Millisecond)
	for !time.Now().After(cut.Add(time.Millisecond)) {
		time.Sleep(time.Millisecond)
	}
	f.appendOK(t, env(g, da, "3"))

	n, err := f.s.DeleteEnvelopesBefore(f.ctx, old[0].CreatedAt)
	must(t, err)
	if n != 0 {
		t.Errorf("deleted %d with a cut at the oldest time", n)
	}
	n, err = f.s.DeleteEnvelopesBefore(f.ctx, cut)
	must(t, err)
	if n != 2 {
		t.Errorf("deleted %d, want 2", n)
	}
	es, err := f.s.Envelopes(f.ctx, g.ID, 0, 100)
	must(t, err)
	if !slices.Equal(seqs(es), []int64{3}) {
		t.Errorf("left %v", seqs(es))
	}
	// Sequence numbers are never reused after deletion.
	res := f.appendOK(t, env(g, da, "4"))
	if res[0].Seq != 4 {
		t.Errorf("seq after retention %d", res[0].Seq)
	}
	if cu, _ := f.cursor(t, da, g); cu.LastSeq != 4 {
		t.Errorf("LastSeq %d", cu.LastSeq)
	}
	n, err = f.s.DeleteEnvelopesBefore(f.ctx, time.Now().Add(time.Minute))
	must(t, err)
	if n != 2 {
		t.Errorf("deleted %d, want 2", n)
	}
	if es, _ := f.s.Envelopes(f.ctx, g.ID, 0, 100); len(es) != 0 {
		t.Errorf("left %d", len(es))
	}
}
