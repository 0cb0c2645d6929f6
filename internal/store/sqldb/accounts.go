package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/wache/wache"
	"github.com/wache/wache/internal/store"
)

// MaxDomains bounds the email domains of one org.
const MaxDomains = 100

// --- organisations and units ---

// CreateOrg stores o with its (lower-cased, de-duplicated) domains. A
// domain that another org holds is ECONFLICT.
func (s *Store) CreateOrg(ctx context.Context, o *wache.Org) error {
	if err := checkID("org id", o.ID); err != nil {
		return err
	}
	if err := checkName("org name", o.Name); err != nil {
		return err
	}
	if len(o.Domains) > MaxDomains {
		return invalid("too many domains")
	}
	var domains []string
	for _, d := range o.Domains {
		d = strings.ToLower(strings.TrimSpace(d))
		if d == "" || len(d) > MaxIDLen || strings.ContainsAny(d, "@ \t") {
			return invalid("invalid domain %q", d)
		}
		if !slices.Contains(domains, d) {
			domains = append(domains, d)
		}
	}
	slices.Sort(domains)
	o.CreatedAt = norm(o.CreatedAt)
	err := s.db.InTx(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO orgs (id, name, created_at) VALUES (?, ?, ?)`,
			o.ID, o.Name, ms(o.CreatedAt)); err != nil {
			return s.wrap(err, "insert org", "org")
		}
		for _, d := range domains {
			if _, err := tx.Exec(ctx, `INSERT INTO org_domains (domain, org_id) VALUES (?, ?)`, d, o.ID); err != nil {
				return s.wrap(err, "insert org domain", "domain "+d)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	o.Domains = domains
	return nil
}

func (s *Store) orgDomains(ctx context.Context, orgID string) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT domain FROM org_domains WHERE org_id = ? ORDER BY domain`, orgID)
	if err != nil {
		return nil, s.wrap(err, "query org domains", "")
	}
	defer rows.Close()
	var ds []string
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			return nil, s.wrap(err, "scan org domain", "")
		}
		ds = append(ds, d)
	}
	return ds, s.wrap(rows.Err(), "query org domains", "")
}

func (s *Store) orgWhere(ctx context.Context, where string, arg any) (*wache.Org, error) {
	var o wache.Org
	var created int64
	err := s.db.QueryRow(ctx, `SELECT o.id, o.name, o.created_at FROM orgs o `+where, arg).Scan(&o.ID, &o.Name, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("org")
	}
	if err != nil {
		return nil, s.wrap(err, "query org", "")
	}
	o.CreatedAt = fromMS(created)
	if o.Domains, err = s.orgDomains(ctx, o.ID); err != nil {
		return nil, err
	}
	return &o, nil
}

// Org returns the org with the given id.
func (s *Store) Org(ctx context.Context, id string) (*wache.Org, error) {
	return s.orgWhere(ctx, `WHERE o.id = ?`, id)
}

// OrgByDomain returns the org that holds an email domain (case-insensitive).
func (s *Store) OrgByDomain(ctx context.Context, domain string) (*wache.Org, error) {
	d := strings.ToLower(strings.TrimSpace(domain))
	return s.orgWhere(ctx, `JOIN org_domains d ON d.org_id = o.id WHERE d.domain = ?`, d)
}

// Orgs lists every org, ordered by name.
func (s *Store) Orgs(ctx context.Context) ([]wache.Org, error) {
	rows, err := s.db.Query(ctx, `SELECT id, name, created_at FROM orgs ORDER BY name, id LIMIT 10000`)
	if err != nil {
		return nil, s.wrap(err, "query orgs", "")
	}
	var os []wache.Org
	for rows.Next() {
		var o wache.Org
		var created int64
		if err := rows.Scan(&o.ID, &o.Name, &created); err != nil {
			rows.Close()
			return nil, s.wrap(err, "scan org", "")
		}
		o.CreatedAt = fromMS(created)
		os = append(os, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, s.wrap(err, "query orgs", "")
	}
	for i := range os {
		if os[i].Domains, err = s.orgDomains(ctx, os[i].ID); err != nil {
			return nil, err
		}
	}
	return os, nil
}

// CreateUnit stores u. The org (and parent, if any) must exist and the
// parent must belong to the same org.
func (s *Store) CreateUnit(ctx context.Context, u *wache.Unit) error {
	if err := checkID("unit id", u.ID); err != nil {
		return err
	}
	if err := checkID("org id", u.OrgID); err != nil {
		return err
	}
	if err := checkName("unit name", u.Name); err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *Tx) error {
		ok, err := existsRow(tx.QueryRow(ctx, `SELECT 1 FROM orgs WHERE id = ?`, u.OrgID))
		if err != nil {
			return s.wrap(err, "query org", "")
		}
		if !ok {
			return notFound("org")
		}
		if u.ParentID != "" {
			ok, err := existsRow(tx.QueryRow(ctx, `SELECT 1 FROM units WHERE id = ? AND org_id = ?`, u.ParentID, u.OrgID))
			if err != nil {
				return s.wrap(err, "query parent unit", "")
			}
			if !ok {
				return notFound("parent unit")
			}
		}
		_, err = tx.Exec(ctx, `INSERT INTO units (id, org_id, parent_id, name) VALUES (?, ?, ?, ?)`,
			u.ID, u.OrgID, nullStr(u.ParentID), u.Name)
		return s.wrap(err, "insert unit", "unit")
	})
}

// Units lists an org's units, ordered by name.
func (s *Store) Units(ctx context.Context, orgID string) ([]wache.Unit, error) {
	rows, err := s.db.Query(ctx, `SELECT id, org_id, COALESCE(parent_id, ''), name FROM units WHERE org_id = ? ORDER BY name, id LIMIT 100000`, orgID)
	if err != nil {
		return nil, s.wrap(err, "query units", "")
	}
	defer rows.Close()
	var us []wache.Unit
	for rows.Next() {
		var u wache.Unit
		if err := rows.Scan(&u.ID, &u.OrgID, &u.ParentID, &u.Name); err != nil {
			return nil, s.wrap(err, "scan unit", "")
		}
		us = append(us, u)
	}
	return us, s.wrap(rows.Err(), "query units", "")
}

// --- users ---

func encodeRoles(rs []wache.Role) (string, error) {
	var ss []string
	for _, r := range rs {
		if !wache.ValidRole(r) {
			return "", invalid("unknown role %q", r)
		}
		if !slices.Contains(ss, string(r)) {
			ss = append(ss, string(r))
		}
	}
	slices.Sort(ss)
	return strings.Join(ss, ","), nil
}

func decodeRoles(s string) []wache.Role {
	if s == "" {
		return nil
	}
	var rs []wache.Role
	for r := range strings.SplitSeq(s, ",") {
		rs = append(rs, wache.Role(r))
	}
	return rs
}

// normUser validates u and normalises it in place (email lower-case,
// roles sorted and unique, times at ms precision) so that the caller's
// struct equals what a read returns.
func normUser(u *wache.User) (roles string, err error) {
	if err := checkID("user id", u.ID); err != nil {
		return "", err
	}
	if err := checkID("org id", u.OrgID); err != nil {
		return "", err
	}
	u.Email = strings.ToLower(strings.TrimSpace(u.Email))
	if err := checkID("email", u.Email); err != nil {
		return "", err
	}
	if !strings.Contains(u.Email, "@") {
		return "", invalid("invalid email address")
	}
	if err := checkName("display name", u.DisplayName); err != nil {
		return "", err
	}
	if len(u.UnitID) > MaxIDLen {
		return "", invalid("unit id is too long")
	}
	if roles, err = encodeRoles(u.Roles); err != nil {
		return "", err
	}
	u.Roles = decodeRoles(roles)
	u.CreatedAt = norm(u.CreatedAt)
	u.DisabledAt = normPtr(u.DisabledAt)
	return roles, nil
}

// checkUserRefs verifies the org and unit of a user inside tx, so that a
// missing one is ENOTFOUND rather than a foreign-key failure.
func (s *Store) checkUserRefs(ctx context.Context, tx *Tx, u *wache.User) error {
	ok, err := existsRow(tx.QueryRow(ctx, `SELECT 1 FROM orgs WHERE id = ?`, u.OrgID))
	if err != nil {
		return s.wrap(err, "query org", "")
	}
	if !ok {
		return notFound("org")
	}
	if u.UnitID != "" {
		ok, err := existsRow(tx.QueryRow(ctx, `SELECT 1 FROM units WHERE id = ? AND org_id = ?`, u.UnitID, u.OrgID))
		if err != nil {
			return s.wrap(err, "query unit", "")
		}
		if !ok {
			return notFound("unit")
		}
	}
	return nil
}

// CreateUser stores u; the email is lower-cased (also in u). An email or id
// that exists is ECONFLICT.
func (s *Store) CreateUser(ctx context.Context, u *wache.User) error {
	roles, err := normUser(u)
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *Tx) error {
		if err := s.checkUserRefs(ctx, tx, u); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO users (id, org_id, unit_id, email, display_name, search_name, roles, created_at, disabled_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			u.ID, u.OrgID, nullStr(u.UnitID), u.Email, u.DisplayName, strings.ToLower(u.DisplayName), roles,
			ms(u.CreatedAt), nullMS(u.DisabledAt))
		return s.wrap(err, "insert user", "user")
	})
}

// UpdateUser overwrites every field of the user except ID and CreatedAt.
func (s *Store) UpdateUser(ctx context.Context, u *wache.User) error {
	created := u.CreatedAt
	roles, err := normUser(u)
	if err != nil {
		return err
	}
	u.CreatedAt = created // not updated; read back below
	return s.db.InTx(ctx, func(tx *Tx) error {
		if err := s.checkUserRefs(ctx, tx, u); err != nil {
			return err
		}
		var c int64
		err := tx.QueryRow(ctx, `UPDATE users SET org_id = ?, unit_id = ?, email = ?, display_name = ?, search_name = ?, roles = ?, disabled_at = ?
			WHERE id = ? RETURNING created_at`,
			u.OrgID, nullStr(u.UnitID), u.Email, u.DisplayName, strings.ToLower(u.DisplayName), roles, nullMS(u.DisabledAt), u.ID).Scan(&c)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("user")
		}
		if err != nil {
			return s.wrap(err, "update user", "user with this email")
		}
		u.CreatedAt = fromMS(c)
		return nil
	})
}

const userCols = `id, org_id, COALESCE(unit_id, ''), email, display_name, roles, created_at, disabled_at`

type scanner interface{ Scan(...any) error }

func scanUser(r scanner) (*wache.User, error) {
	var u wache.User
	var roles string
	var created int64
	var disabled sql.NullInt64
	if err := r.Scan(&u.ID, &u.OrgID, &u.UnitID, &u.Email, &u.DisplayName, &roles, &created, &disabled); err != nil {
		return nil, err
	}
	u.Roles = decodeRoles(roles)
	u.CreatedAt = fromMS(created)
	u.DisabledAt = fromNullMS(disabled)
	return &u, nil
}

func (s *Store) userWhere(ctx context.Context, where string, arg any) (*wache.User, error) {
	u, err := scanUser(s.db.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE `+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("user")
	}
	if err != nil {
		return nil, s.wrap(err, "query user", "")
	}
	return u, nil
}

// User returns the user with the given id.
func (s *Store) User(ctx context.Context, id string) (*wache.User, error) {
	return s.userWhere(ctx, `id = ?`, id)
}

// UserByEmail returns the user with the given email (case-insensitive).
func (s *Store) UserByEmail(ctx context.Context, email string) (*wache.User, error) {
	return s.userWhere(ctx, `email = ?`, strings.ToLower(strings.TrimSpace(email)))
}

// Users lists an org's users whose email or display name contains query
// (case-insensitive, literal), ordered by email; limit is clamped to 1..1000.
func (s *Store) Users(ctx context.Context, orgID, query string, limit int) ([]wache.User, error) {
	if len(query) > MaxNameLen {
		return nil, invalid("query is too long")
	}
	pat := "%" + likeEscape(strings.ToLower(query)) + "%"
	rows, err := s.db.Query(ctx, `SELECT `+userCols+` FROM users
		WHERE org_id = ? AND (email LIKE ? ESCAPE '\' OR search_name LIKE ? ESCAPE '\')
		ORDER BY email LIMIT ?`, orgID, pat, pat, clampLimit(limit))
	if err != nil {
		return nil, s.wrap(err, "query users", "")
	}
	defer rows.Close()
	var us []wache.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, s.wrap(err, "scan user", "")
		}
		us = append(us, *u)
	}
	return us, s.wrap(rows.Err(), "query users", "")
}

// --- login codes ---

// PutLoginCode stores c, replacing any pending code for the same email.
func (s *Store) PutLoginCode(ctx context.Context, c *store.LoginCode) error {
	c.Email = strings.ToLower(strings.TrimSpace(c.Email))
	if err := checkID("email", c.Email); err != nil {
		return err
	}
	if len(c.CodeHash) == 0 || len(c.CodeHash) > 256 {
		return invalid("invalid code hash")
	}
	if c.Attempts < 0 {
		return invalid("negative attempts")
	}
	c.CreatedAt = norm(c.CreatedAt)
	if c.ExpiresAt.IsZero() {
		return invalid("expiry is required")
	}
	c.ExpiresAt = norm(c.ExpiresAt)
	_, err := s.db.Exec(ctx, `INSERT INTO login_codes (email, code_hash, attempts, created_at, expires_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (email) DO UPDATE SET code_hash = excluded.code_hash, attempts = excluded.attempts,
			created_at = excluded.created_at, expires_at = excluded.expires_at`,
		c.Email, c.CodeHash, c.Attempts, ms(c.CreatedAt), ms(c.ExpiresAt))
	return s.wrap(err, "put login code", "login code")
}

// LoginCode returns the pending code for an email (expired or not: the
// caller checks ExpiresAt).
func (s *Store) LoginCode(ctx context.Context, email string) (*store.LoginCode, error) {
	var c store.LoginCode
	var created, expires int64
	err := s.db.QueryRow(ctx, `SELECT email, code_hash, attempts, created_at, expires_at FROM login_codes WHERE email = ?`,
		strings.ToLower(strings.TrimSpace(email))).Scan(&c.Email, &c.CodeHash, &c.Attempts, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("login code")
	}
	if err != nil {
		return nil, s.wrap(err, "query login code", "")
	}
	c.CreatedAt, c.ExpiresAt = fromMS(created), fromMS(expires)
	return &c, nil
}

// IncLoginAttempts counts a failed attempt and returns the new count.
func (s *Store) IncLoginAttempts(ctx context.Context, email string) (int, error) {
	var n int
	err := s.db.W.QueryRowContext(ctx, s.db.Dialect.Rebind(`UPDATE login_codes SET attempts = attempts + 1 WHERE email = ? RETURNING attempts`),
		strings.ToLower(strings.TrimSpace(email))).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, notFound("login code")
	}
	if err != nil {
		return 0, s.wrap(err, "count login attempt", "")
	}
	return n, nil
}

// DeleteLoginCode removes the pending code of an email. Deleting a code
// that is not there is not an error (a used code may be deleted twice).
func (s *Store) DeleteLoginCode(ctx context.Context, email string) error {
	_, err := s.db.Exec(ctx, `DELETE FROM login_codes WHERE email = ?`, strings.ToLower(strings.TrimSpace(email)))
	return s.wrap(err, "delete login code", "")
}

// --- devices ---

// CreateDevice stores d with the hash of its token and, in the same
// transaction, starts a cursor at the current end of every conversation
// of its user. A clashing id or token hash is ECONFLICT.
func (s *Store) CreateDevice(ctx context.Context, d *wache.Device, tokenHash []byte) error {
	if err := checkID("device id", d.ID); err != nil {
		return err
	}
	if err := checkID("user id", d.UserID); err != nil {
		return err
	}
	if err := checkName("device name", d.Name); err != nil {
		return err
	}
	if len(d.SigningKey) == 0 || len(d.SigningKey) > 1024 {
		return invalid("invalid signing key")
	}
	if len(tokenHash) == 0 || len(tokenHash) > 256 {
		return invalid("invalid token hash")
	}
	d.CreatedAt = norm(d.CreatedAt)
	if d.LastSeenAt.IsZero() {
		d.LastSeenAt = d.CreatedAt
	}
	d.LastSeenAt = norm(d.LastSeenAt)
	d.RevokedAt = normPtr(d.RevokedAt)
	return s.db.InTx(ctx, func(tx *Tx) error {
		ok, err := existsRow(tx.QueryRow(ctx, `SELECT 1 FROM users WHERE id = ?`, d.UserID))
		if err != nil {
			return s.wrap(err, "query user", "")
		}
		if !ok {
			return notFound("user")
		}
		if _, err := tx.Exec(ctx, `INSERT INTO devices (id, user_id, name, signing_key, token_hash, created_at, last_seen_at, revoked_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			d.ID, d.UserID, d.Name, d.SigningKey, tokenHash, ms(d.CreatedAt), ms(d.LastSeenAt), nullMS(d.RevokedAt)); err != nil {
			return s.wrap(err, "insert device", "device")
		}
		_, err = tx.Exec(ctx, `INSERT INTO device_cursors (device_id, conv_id, acked_seq)
			SELECT ?, m.conv_id, c.last_seq FROM members m JOIN conversations c ON c.id = m.conv_id WHERE m.user_id = ?`,
			d.ID, d.UserID)
		return s.wrap(err, "insert device cursors", "device cursor")
	})
}

const deviceCols = `id, user_id, name, signing_key, created_at, last_seen_at, revoked_at`

func scanDevice(r scanner) (*wache.Device, error) {
	var d wache.Device
	var created, seen int64
	var revoked sql.NullInt64
	if err := r.Scan(&d.ID, &d.UserID, &d.Name, &d.SigningKey, &created, &seen, &revoked); err != nil {
		return nil, err
	}
	d.CreatedAt, d.LastSeenAt, d.RevokedAt = fromMS(created), fromMS(seen), fromNullMS(revoked)
	return &d, nil
}

func (s *Store) deviceWhere(ctx context.Context, where string, arg any) (*wache.Device, error) {
	d, err := scanDevice(s.db.QueryRow(ctx, `SELECT `+deviceCols+` FROM devices WHERE `+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("device")
	}
	if err != nil {
		return nil, s.wrap(err, "query device", "")
	}
	return d, nil
}

// Device returns the device with the given id.
func (s *Store) Device(ctx context.Context, id string) (*wache.Device, error) {
	return s.deviceWhere(ctx, `id = ?`, id)
}

// DeviceByTokenHash returns the device whose token hashes to tokenHash,
// revoked or not: the caller checks Revoked to tell a revoked device from
// an unknown token.
func (s *Store) DeviceByTokenHash(ctx context.Context, tokenHash []byte) (*wache.Device, error) {
	if len(tokenHash) == 0 {
		return nil, notFound("device")
	}
	return s.deviceWhere(ctx, `token_hash = ?`, tokenHash)
}

// Devices lists a user's devices (revoked ones too), oldest first.
func (s *Store) Devices(ctx context.Context, userID string) ([]wache.Device, error) {
	rows, err := s.db.Query(ctx, `SELECT `+deviceCols+` FROM devices WHERE user_id = ? ORDER BY created_at, id LIMIT 10000`, userID)
	if err != nil {
		return nil, s.wrap(err, "query devices", "")
	}
	defer rows.Close()
	var ds []wache.Device
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, s.wrap(err, "scan device", "")
		}
		ds = append(ds, *d)
	}
	return ds, s.wrap(rows.Err(), "query devices", "")
}

// RevokeDevice marks the device revoked at t. Revoking twice keeps the
// first time.
func (s *Store) RevokeDevice(ctx context.Context, id string, at time.Time) error {
	res, err := s.db.Exec(ctx, `UPDATE devices SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`, ms(at), id)
	return s.affected(res, err, "revoke device", "device")
}

// TouchDevice records that the device was seen at t (never moving backwards).
func (s *Store) TouchDevice(ctx context.Context, id string, at time.Time) error {
	res, err := s.db.Exec(ctx, `UPDATE devices SET last_seen_at = CASE WHEN last_seen_at < ? THEN ? ELSE last_seen_at END WHERE id = ?`,
		ms(at), ms(at), id)
	return s.affected(res, err, "touch device", "device")
}

// affected maps "no row changed" to ENOTFOUND.
func (s *Store) affected(res sql.Result, err error, op, what string) error {
	if err != nil {
		return s.wrap(err, op, what)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return s.wrap(err, op, what)
	}
	if n == 0 {
		return notFound(what)
	}
	return nil
}
