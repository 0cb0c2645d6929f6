package accounts

import (
	"context"
	"fmt"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/internal/store"
)

// EnsureOrg creates the server's organisation on first start.
func EnsureOrg(ctx context.Context, s store.Store, name string, domains []string) (*wache.Org, error) {
	orgs, err := s.Orgs(ctx)
	if err != nil {
		return nil, fmt.Errorf("load orgs: %w", err)
	}
	if len(orgs) > 0 {
		return &orgs[0], nil
	}
	o := &wache.Org{ID: NewID(), Name: name, Domains: domains, CreatedAt: time.Now().UTC()}
	if err := s.CreateOrg(ctx, o); err != nil {
		return nil, fmt.Errorf("create org: %w", err)
	}
	return o, nil
}

// DemoDomain is the service domain of the demo authority.
const DemoDomain = "polizei.example"

// DemoUser is one seeded demo account.
type DemoUser struct {
	Email string
	Name  string
	Unit  string
	Roles []wache.Role
}

// DemoUsers are the accounts --demo seeds.
var DemoUsers = []DemoUser{
	{"anna.schmidt@" + DemoDomain, "POKin Anna Schmidt", "PI Mitte", []wache.Role{wache.RoleOfficer}},
	{"ben.mueller@" + DemoDomain, "POK Ben Müller", "PI Mitte", []wache.Role{wache.RoleOfficer}},
	{"clara.wagner@" + DemoDomain, "PHKin Clara Wagner", "PI Nord", []wache.Role{wache.RoleOfficer}},
	{"deniz.yilmaz@" + DemoDomain, "PK Deniz Yılmaz", "PI Nord", []wache.Role{wache.RoleOfficer}},
	{"leitstelle@" + DemoDomain, "Leitstelle", "Leitstelle", []wache.Role{wache.RoleDispatcher}},
	{"admin@" + DemoDomain, "IT-Administration", "Stab", []wache.Role{wache.RoleAdmin}},
	{"datenschutz@" + DemoDomain, "Datenschutzbeauftragte", "Stab", []wache.Role{wache.RoleAuditor}},
}

// SeedDemo creates the demo units and users once; it is a no-op when the
// users exist already.
func SeedDemo(ctx context.Context, s store.Store, org *wache.Org) error {
	if _, err := s.UserByEmail(ctx, DemoUsers[0].Email); err == nil {
		return nil
	}
	units := map[string]string{}
	for _, name := range []string{"PI Mitte", "PI Nord", "Leitstelle", "Stab"} {
		u := &wache.Unit{ID: NewID(), OrgID: org.ID, Name: name}
		if err := s.CreateUnit(ctx, u); err != nil {
			return fmt.Errorf("seed unit: %w", err)
		}
		units[name] = u.ID
	}
	for _, du := range DemoUsers {
		u := &wache.User{ID: NewID(), OrgID: org.ID, UnitID: units[du.Unit], Email: du.Email,
			DisplayName: du.Name, Roles: du.Roles, CreatedAt: time.Now().UTC()}
		if err := s.CreateUser(ctx, u); err != nil {
			return fmt.Errorf("seed user: %w", err)
		}
	}
	return nil
}
