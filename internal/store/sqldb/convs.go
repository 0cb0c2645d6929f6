package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/wache/wache"
	"github.com/wache/wache/internal/store"
)

// MaxInitialMembers bounds the member list of CreateConversation (a
// channel for a whole state police).
const MaxInitialMembers = 100000

const memberChunk = 500 // rows per multi-row statement

// directKey identifies the direct chat of a pair of users, whatever the
// order; the length prefix keeps it unambiguous for any id.
func directKey(a, b string) string {
	if b < a {
		a, b = b, a
	}
	return strconv.Itoa(len(a)) + ":" + a + "/" + b
}

// directPair is the inverse of directKey.
func directPair(key string) (a, b string, ok bool) {
	n, rest, ok := strings.Cut(key, ":")
	l, err := strconv.Atoi(n)
	if !ok || err != nil || l < 0 || l+1 > len(rest) || rest[l] != '/' {
		return "", "", false
	}
	return rest[:l], rest[l+1:], true
}

// CreateConversation stores c with its first members (FromSeq 0) and a
// cursor at 0 for every non-revoked device of every member. A direct chat
// needs exactly two distinct users, and there is at most one per pair
// (ECONFLICT otherwise).
func (s *Store) CreateConversation(ctx context.Context, c *wache.Conversation, members []wache.Member) error {
	if err := checkID("conversation id", c.ID); err != nil {
		return err
	}
	if err := checkID("org id", c.OrgID); err != nil {
		return err
	}
	if !wache.ValidConvKind(c.Kind) {
		return invalid("unknown conversation kind %q", c.Kind)
	}
	if err := checkName("conversation name", c.Name); err != nil {
		return err
	}
	if len(c.CreatedBy) > MaxIDLen {
		return invalid("creator id is too long")
	}
	if len(members) == 0 {
		return invalid("a conversation needs members")
	}
	if len(members) > MaxInitialMembers {
		return invalid("too many members")
	}
	users := make([]string, 0, len(members))
	seen := make(map[string]bool, len(members))
	for _, m := range members {
		if err := checkID("member user id", m.UserID); err != nil {
			return err
		}
		if !wache.ValidMemberRole(m.Role) {
			return invalid("unknown member role %q", m.Role)
		}
		if m.ConvID != "" && m.ConvID != c.ID {
			return invalid("member of another conversation")
		}
		if seen[m.UserID] {
			return invalid("duplicate member %q", m.UserID)
		}
		seen[m.UserID] = true
		users = append(users, m.UserID)
	}
	var dkey sql.NullString
	if c.Kind == wache.ConvDirect {
		if len(members) != 2 {
			return invalid("a direct conversation has exactly two members")
		}
		dkey = sql.NullString{String: directKey(users[0], users[1]), Valid: true}
	}
	c.CreatedAt = norm(c.CreatedAt)
	c.LastSeq = 0
	c.Epoch = 0
	ms2 := make([]wache.Member, len(members))
	for i, m := range members {
		m.ConvID, m.FromSeq = c.ID, 0
		if m.JoinedAt.IsZero() {
			m.JoinedAt = c.CreatedAt
		}
		m.JoinedAt = norm(m.JoinedAt)
		ms2[i] = m
	}
	err := s.db.InTx(ctx, func(tx *Tx) error {
		ok, err := existsRow(tx.QueryRow(ctx, `SELECT 1 FROM orgs WHERE id = ?`, c.OrgID))
		if err != nil {
			return s.wrap(err, "query org", "")
		}
		if !ok {
			return notFound("org")
		}
		if _, err := tx.Exec(ctx, `INSERT INTO conversations (id, org_id, kind, name, created_by, created_at, last_seq, last_at, direct_key)
			VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)`,
			c.ID, c.OrgID, string(c.Kind), c.Name, c.CreatedBy, ms(c.CreatedAt), ms(c.CreatedAt), dkey); err != nil {
			return s.wrap(err, "insert conversation", "conversation")
		}
		for chunk := range slices.Chunk(users, memberChunk) {
			args := make([]any, len(chunk))
			for i, u := range chunk {
				args[i] = u
			}
			rows, err := tx.Query(ctx, `SELECT id FROM users WHERE id IN (`+
				strings.TrimSuffix(strings.Repeat("?,", len(chunk)), ",")+`)`, args...)
			if err != nil {
				return s.wrap(err, "query users", "")
			}
			found := make(map[string]bool, len(chunk))
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return s.wrap(err, "scan user", "")
				}
				found[id] = true
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return s.wrap(err, "query users", "")
			}
			for _, u := range chunk {
				if !found[u] {
					return notFound("user " + u)
				}
			}
		}
		for chunk := range slices.Chunk(ms2, memberChunk) {
			args := make([]any, 0, 5*len(chunk))
			for _, m := range chunk {
				args = append(args, c.ID, m.UserID, string(m.Role), 0, ms(m.JoinedAt))
			}
			if _, err := tx.Exec(ctx, `INSERT INTO members (conv_id, user_id, role, from_seq, joined_at) VALUES `+
				placeholders(len(chunk), 5), args...); err != nil {
				return s.wrap(err, "insert members", "member")
			}
		}
		_, err = tx.Exec(ctx, `INSERT INTO device_cursors (device_id, conv_id, acked_seq)
			SELECT d.id, m.conv_id, 0 FROM members m JOIN devices d ON d.user_id = m.user_id
			WHERE m.conv_id = ? AND d.revoked_at IS NULL`, c.ID)
		if err != nil {
			return s.wrap(err, "insert cursors", "cursor")
		}
		return nil
	})
	if err != nil {
		return err
	}
	copy(members, ms2)
	return nil
}

const convCols = `c.id, c.org_id, c.kind, c.name, c.created_by, c.created_at, c.last_seq, c.epoch`

func scanConv(r scanner, extra ...any) (*wache.Conversation, error) {
	var c wache.Conversation
	var kind string
	var created int64
	dest := append([]any{&c.ID, &c.OrgID, &kind, &c.Name, &c.CreatedBy, &created, &c.LastSeq, &c.Epoch}, extra...)
	if err := r.Scan(dest...); err != nil {
		return nil, err
	}
	c.Kind = wache.ConvKind(kind)
	c.CreatedAt = fromMS(created)
	return &c, nil
}

func (s *Store) convWhere(ctx context.Context, where string, arg any) (*wache.Conversation, error) {
	c, err := scanConv(s.db.QueryRow(ctx, `SELECT `+convCols+` FROM conversations c WHERE `+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("conversation")
	}
	if err != nil {
		return nil, s.wrap(err, "query conversation", "")
	}
	return c, nil
}

// Conversation returns the conversation with the given id.
func (s *Store) Conversation(ctx context.Context, id string) (*wache.Conversation, error) {
	return s.convWhere(ctx, `c.id = ?`, id)
}

// DirectConversation returns the direct chat created between two users
// (in either order).
func (s *Store) DirectConversation(ctx context.Context, userA, userB string) (*wache.Conversation, error) {
	if userA == "" || userB == "" || userA == userB {
		return nil, notFound("conversation")
	}
	return s.convWhere(ctx, `c.direct_key = ?`, directKey(userA, userB))
}

// Conversations lists the user's conversations with the user's role and
// the member count, most recent activity first.
func (s *Store) Conversations(ctx context.Context, userID string) ([]store.ConvSummary, error) {
	rows, err := s.db.Query(ctx, `SELECT `+convCols+`, m.role, (SELECT COUNT(*) FROM members m2 WHERE m2.conv_id = c.id)
		FROM members m JOIN conversations c ON c.id = m.conv_id
		WHERE m.user_id = ? ORDER BY c.last_at DESC, c.id LIMIT 100000`, userID)
	if err != nil {
		return nil, s.wrap(err, "query conversations", "")
	}
	defer rows.Close()
	var cs []store.ConvSummary
	for rows.Next() {
		var role string
		var n int
		c, err := scanConv(rows, &role, &n)
		if err != nil {
			return nil, s.wrap(err, "scan conversation", "")
		}
		cs = append(cs, store.ConvSummary{Conversation: *c, Role: wache.MemberRole(role), MemberCount: n})
	}
	return cs, s.wrap(rows.Err(), "query conversations", "")
}

func scanMember(r scanner) (*wache.Member, error) {
	var m wache.Member
	var role string
	var joined int64
	if err := r.Scan(&m.ConvID, &m.UserID, &role, &m.FromSeq, &joined); err != nil {
		return nil, err
	}
	m.Role = wache.MemberRole(role)
	m.JoinedAt = fromMS(joined)
	return &m, nil
}

const memberCols = `conv_id, user_id, role, from_seq, joined_at`

// Member returns a user's membership in a conversation.
func (s *Store) Member(ctx context.Context, convID, userID string) (*wache.Member, error) {
	m, err := scanMember(s.db.QueryRow(ctx, `SELECT `+memberCols+` FROM members WHERE conv_id = ? AND user_id = ?`, convID, userID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("member")
	}
	if err != nil {
		return nil, s.wrap(err, "query member", "")
	}
	return m, nil
}

// Members lists a conversation's members in the order they joined (empty
// for an unknown conversation).
func (s *Store) Members(ctx context.Context, convID string) ([]wache.Member, error) {
	rows, err := s.db.Query(ctx, `SELECT `+memberCols+` FROM members WHERE conv_id = ? ORDER BY joined_at, user_id LIMIT 100000`, convID)
	if err != nil {
		return nil, s.wrap(err, "query members", "")
	}
	defer rows.Close()
	var ms []wache.Member
	for rows.Next() {
		m, err := scanMember(rows)
		if err != nil {
			return nil, s.wrap(err, "scan member", "")
		}
		ms = append(ms, *m)
	}
	return ms, s.wrap(rows.Err(), "query members", "")
}

// AddMember adds m.UserID to m.ConvID from the conversation's current end:
// m.FromSeq is set to its LastSeq and the user's devices start there.
// ECONFLICT if the user is a member already. Only the original pair can
// (re-)join a direct chat.
func (s *Store) AddMember(ctx context.Context, m *wache.Member) error {
	if err := checkID("conversation id", m.ConvID); err != nil {
		return err
	}
	if err := checkID("user id", m.UserID); err != nil {
		return err
	}
	if !wache.ValidMemberRole(m.Role) {
		return invalid("unknown member role %q", m.Role)
	}
	joined := norm(m.JoinedAt)
	var from int64
	err := s.db.InTx(ctx, func(tx *Tx) error {
		// A no-op UPDATE takes the row lock that appends take (PostgreSQL),
		// so FromSeq is exact even while envelopes are being appended.
		var kind string
		var dkey sql.NullString
		err := tx.QueryRow(ctx, `UPDATE conversations SET last_seq = last_seq WHERE id = ? RETURNING last_seq, kind, direct_key`,
			m.ConvID).Scan(&from, &kind, &dkey)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("conversation")
		}
		if err != nil {
			return s.wrap(err, "lock conversation", "")
		}
		if wache.ConvKind(kind) == wache.ConvDirect {
			a, b, ok := directPair(dkey.String)
			if !ok || (m.UserID != a && m.UserID != b) {
				return invalid("a direct conversation has exactly two members")
			}
		}
		ok, err := existsRow(tx.QueryRow(ctx, `SELECT 1 FROM users WHERE id = ?`, m.UserID))
		if err != nil {
			return s.wrap(err, "query user", "")
		}
		if !ok {
			return notFound("user")
		}
		if _, err := tx.Exec(ctx, `INSERT INTO members (conv_id, user_id, role, from_seq, joined_at) VALUES (?, ?, ?, ?, ?)`,
			m.ConvID, m.UserID, string(m.Role), from, ms(joined)); err != nil {
			return s.wrap(err, "insert member", "member")
		}
		_, err = tx.Exec(ctx, `INSERT INTO device_cursors (device_id, conv_id, acked_seq)
			SELECT id, ?, ? FROM devices WHERE user_id = ? AND revoked_at IS NULL
			ON CONFLICT (device_id, conv_id) DO UPDATE SET acked_seq = excluded.acked_seq`,
			m.ConvID, from, m.UserID)
		return s.wrap(err, "insert cursors", "cursor")
	})
	if err != nil {
		return err
	}
	m.FromSeq, m.JoinedAt = from, joined
	return nil
}

// RemoveMember removes a user from a conversation together with the
// cursors of the user's devices there.
func (s *Store) RemoveMember(ctx context.Context, convID, userID string) error {
	return s.db.InTx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(ctx, `DELETE FROM members WHERE conv_id = ? AND user_id = ?`, convID, userID)
		if err := s.affected(res, err, "delete member", "member"); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM device_cursors WHERE conv_id = ? AND device_id IN (SELECT id FROM devices WHERE user_id = ?)`,
			convID, userID)
		return s.wrap(err, "delete cursors", "")
	})
}
