// Package convs manages conversations (direct chats, groups, channels) and
// their membership, with authorisation on every call. It never sees content.
package convs

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wache/wache"
	"github.com/wache/wache/internal/accounts"
	"github.com/wache/wache/internal/store"
)

// MaxInitialMembers bounds the member list of one create request; larger
// channels grow through AddMember.
const MaxInitialMembers = 5000

// Notifier learns of membership changes so that live connections of the
// affected users can start or stop receiving a conversation.
type Notifier interface {
	MembershipChanged(ctx context.Context, convID string, userIDs []string)
}

// Service implements conversation management.
type Service struct {
	store  store.Store
	notify Notifier
	log    *slog.Logger
}

// New returns a Service.
func New(s store.Store, n Notifier, log *slog.Logger) *Service {
	return &Service{store: s, notify: n, log: log}
}

// MemberView is a member with the user's public profile.
type MemberView struct {
	UserID      string           `json:"user_id"`
	Email       string           `json:"email"`
	DisplayName string           `json:"display_name"`
	Role        wache.MemberRole `json:"role"`
	JoinedAt    time.Time        `json:"joined_at"`
}

// CreateRequest describes a new conversation.
type CreateRequest struct {
	Kind    wache.ConvKind
	Name    string
	Members []string // emails of the other members
}

// Create creates a conversation with the actor as its admin. A direct chat
// that exists already is returned instead (existing=true).
func (s *Service) Create(ctx context.Context, actor *wache.User, r CreateRequest) (c *wache.Conversation, existing bool, err error) {
	if !wache.ValidConvKind(r.Kind) {
		return nil, false, wache.Errorf(wache.EINVALID, "kind must be direct, group or channel")
	}
	name := strings.TrimSpace(r.Name)
	if utf8.RuneCountInString(name) > 100 || !utf8.ValidString(name) {
		return nil, false, wache.Errorf(wache.EINVALID, "name must be at most 100 characters")
	}
	if r.Kind != wache.ConvDirect && name == "" {
		return nil, false, wache.Errorf(wache.EINVALID, "a %s needs a name", r.Kind)
	}
	if len(r.Members) > MaxInitialMembers {
		return nil, false, wache.Errorf(wache.ETOOLARGE, "at most %d members at creation; add more afterwards", MaxInitialMembers)
	}
	others, err := s.resolve(ctx, actor, r.Members)
	if err != nil {
		return nil, false, err
	}
	if r.Kind == wache.ConvDirect {
		if len(others) != 1 {
			return nil, false, wache.Errorf(wache.EINVALID, "a direct chat has exactly one other member")
		}
		c, err := s.store.DirectConversation(ctx, actor.ID, others[0].ID)
		if err == nil {
			return c, true, nil
		} else if wache.ErrorCode(err) != wache.ENOTFOUND {
			return nil, false, err
		}
	}
	now := time.Now().UTC()
	c = &wache.Conversation{ID: accounts.NewID(), OrgID: actor.OrgID, Kind: r.Kind, Name: name, CreatedBy: actor.ID, CreatedAt: now}
	members := []wache.Member{{ConvID: c.ID, UserID: actor.ID, Role: wache.MemberAdmin, JoinedAt: now}}
	ids := []string{actor.ID}
	for _, u := range others {
		role := wache.MemberReader
		if r.Kind == wache.ConvDirect {
			role = wache.MemberAdmin
		}
		members = append(members, wache.Member{ConvID: c.ID, UserID: u.ID, Role: role, JoinedAt: now})
		ids = append(ids, u.ID)
	}
	if err := s.store.CreateConversation(ctx, c, members); err != nil {
		if r.Kind == wache.ConvDirect && wache.ErrorCode(err) == wache.ECONFLICT {
			// Created concurrently by the other side: use theirs.
			if c, err := s.store.DirectConversation(ctx, actor.ID, others[0].ID); err == nil {
				return c, true, nil
			}
		}
		return nil, false, fmt.Errorf("create conversation: %w", err)
	}
	s.log.InfoContext(ctx, "conversation created", "conv", c.ID, "kind", c.Kind, "members", len(members), "by", actor.ID)
	s.notify.MembershipChanged(ctx, c.ID, ids)
	return c, false, nil
}

// resolve maps emails to users of the actor's organisation, skipping the
// actor and duplicates; unknown addresses are reported together.
func (s *Service) resolve(ctx context.Context, actor *wache.User, emails []string) ([]*wache.User, error) {
	var users []*wache.User
	var unknown []string
	seen := map[string]bool{actor.Email: true}
	for _, e := range emails {
		email, _, err := accounts.NormalizeEmail(e)
		if err != nil {
			return nil, err
		}
		if seen[email] {
			continue
		}
		seen[email] = true
		u, err := s.store.UserByEmail(ctx, email)
		if wache.ErrorCode(err) == wache.ENOTFOUND || (err == nil && (u.OrgID != actor.OrgID || u.DisabledAt != nil)) {
			unknown = append(unknown, email)
			continue
		} else if err != nil {
			return nil, err
		}
		users = append(users, u)
	}
	if len(unknown) > 0 {
		if len(unknown) > 10 {
			unknown = append(unknown[:10], fmt.Sprintf("and %d more", len(unknown)-10))
		}
		return nil, wache.Errorf(wache.EINVALID, "unknown users: %s", strings.Join(unknown, ", "))
	}
	return users, nil
}

// List returns the actor's conversations.
func (s *Service) List(ctx context.Context, actor *wache.User) ([]store.ConvSummary, error) {
	return s.store.Conversations(ctx, actor.ID)
}

// member returns the actor's membership, or ENOTFOUND so that outsiders
// cannot even learn that a conversation exists.
func (s *Service) member(ctx context.Context, actor *wache.User, convID string) (*wache.Conversation, *wache.Member, error) {
	m, err := s.store.Member(ctx, convID, actor.ID)
	if wache.ErrorCode(err) == wache.ENOTFOUND {
		return nil, nil, wache.Errorf(wache.ENOTFOUND, "no such conversation")
	} else if err != nil {
		return nil, nil, err
	}
	c, err := s.store.Conversation(ctx, convID)
	if err != nil {
		return nil, nil, err
	}
	return c, m, nil
}

// Get returns a conversation and its members, to members only.
func (s *Service) Get(ctx context.Context, actor *wache.User, convID string) (*wache.Conversation, *wache.Member, []MemberView, error) {
	c, me, err := s.member(ctx, actor, convID)
	if err != nil {
		return nil, nil, nil, err
	}
	ms, err := s.store.Members(ctx, convID)
	if err != nil {
		return nil, nil, nil, err
	}
	views := make([]MemberView, 0, len(ms))
	for _, m := range ms {
		u, err := s.store.User(ctx, m.UserID)
		if err != nil {
			return nil, nil, nil, err
		}
		views = append(views, MemberView{UserID: u.ID, Email: u.Email, DisplayName: u.DisplayName, Role: m.Role, JoinedAt: m.JoinedAt})
	}
	slices.SortFunc(views, func(a, b MemberView) int { return strings.Compare(a.Email, b.Email) })
	return c, me, views, nil
}

// AddMember adds a user; only admins of the conversation may.
func (s *Service) AddMember(ctx context.Context, actor *wache.User, convID, email string, role wache.MemberRole) (*wache.Member, error) {
	c, me, err := s.member(ctx, actor, convID)
	if err != nil {
		return nil, err
	}
	if me.Role != wache.MemberAdmin {
		return nil, wache.Errorf(wache.EFORBIDDEN, "only admins of the conversation add members")
	}
	if c.Kind == wache.ConvDirect {
		return nil, wache.Errorf(wache.EINVALID, "a direct chat cannot get more members; create a group")
	}
	if role == "" {
		role = wache.MemberReader
	}
	if !wache.ValidMemberRole(role) {
		return nil, wache.Errorf(wache.EINVALID, "role must be admin, poster or member")
	}
	users, err := s.resolve(ctx, actor, []string{email})
	if err != nil {
		return nil, err
	}
	if len(users) == 0 {
		return nil, wache.Errorf(wache.ECONFLICT, "already a member")
	}
	m := &wache.Member{ConvID: convID, UserID: users[0].ID, Role: role, JoinedAt: time.Now().UTC()}
	if err := s.store.AddMember(ctx, m); err != nil {
		if wache.ErrorCode(err) == wache.ECONFLICT {
			return nil, wache.Errorf(wache.ECONFLICT, "already a member")
		}
		return nil, err
	}
	s.log.InfoContext(ctx, "member added", "conv", convID, "user", m.UserID, "by", actor.ID)
	s.notify.MembershipChanged(ctx, convID, []string{m.UserID})
	return m, nil
}

// RemoveMember removes a user. Admins remove anyone; everyone may leave.
func (s *Service) RemoveMember(ctx context.Context, actor *wache.User, convID, userID string) error {
	c, me, err := s.member(ctx, actor, convID)
	if err != nil {
		return err
	}
	if userID != actor.ID && me.Role != wache.MemberAdmin {
		return wache.Errorf(wache.EFORBIDDEN, "only admins of the conversation remove others")
	}
	if c.Kind == wache.ConvDirect {
		return wache.Errorf(wache.EINVALID, "nobody can leave a direct chat")
	}
	if err := s.store.RemoveMember(ctx, convID, userID); err != nil {
		if wache.ErrorCode(err) == wache.ENOTFOUND {
			return wache.Errorf(wache.ENOTFOUND, "not a member")
		}
		return err
	}
	s.log.InfoContext(ctx, "member removed", "conv", convID, "user", userID, "by", actor.ID)
	s.notify.MembershipChanged(ctx, convID, []string{userID})
	return nil
}

// UserByEmail looks up a colleague in the actor's organisation.
func (s *Service) UserByEmail(ctx context.Context, actor *wache.User, email string) (*wache.User, error) {
	users, err := s.resolve(ctx, actor, []string{email})
	if err != nil {
		return nil, err
	}
	if len(users) == 0 {
		return actor, nil
	}
	return users[0], nil
}
