package client

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/wache/wache/api"
)

// State is the device's local storage. Natively it is a directory of files
// (FileState); in the browser it will be IndexedDB. Values are small JSON
// documents addressed by key.
type State interface {
	// Load returns nil, nil when the key is absent.
	Load(ctx context.Context, key string) ([]byte, error)
	Save(ctx context.Context, key string, val []byte) error
	// Erase removes everything (logout, remote wipe).
	Erase(ctx context.Context) error
}

// State keys.
const (
	keyProfile = "profile"
	keyInbox   = "inbox"
)

// LoadProfile reads the saved profile; nil when logged out.
func LoadProfile(ctx context.Context, s State) (*Profile, error) {
	b, err := s.Load(ctx, keyProfile)
	if err != nil || b == nil {
		return nil, err
	}
	var p Profile
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("profile is corrupt: %w", err)
	}
	return &p, nil
}

// SaveProfile stores the profile.
func SaveProfile(ctx context.Context, s State, p *Profile) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return s.Save(ctx, keyProfile, b)
}

// Inbox remembers, per conversation, the highest sequence number this
// device has processed. The relay delivers in order and at least once;
// the inbox drops what was processed before, so every item is handled
// exactly once, across reconnects and restarts.
type Inbox struct {
	mu    sync.Mutex
	state State
	seen  map[string]int64
}

// OpenInbox loads the inbox from state.
func OpenInbox(ctx context.Context, s State) (*Inbox, error) {
	in := &Inbox{state: s, seen: map[string]int64{}}
	b, err := s.Load(ctx, keyInbox)
	if err != nil {
		return nil, err
	}
	if b != nil {
		if err := json.Unmarshal(b, &in.seen); err != nil {
			return nil, fmt.Errorf("inbox state is corrupt: %w", err)
		}
	}
	return in, nil
}

// Seen returns the highest processed sequence number of a conversation.
func (in *Inbox) Seen(convID string) int64 {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.seen[convID]
}

// Process runs fn for env unless it was processed before, then records it.
// It reports whether fn ran. If fn fails, the item stays unprocessed.
func (in *Inbox) Process(ctx context.Context, env api.Envelope, fn func(api.Envelope) error) (bool, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if env.Seq <= in.seen[env.ConvID] {
		return false, nil
	}
	if err := fn(env); err != nil {
		return false, err
	}
	in.seen[env.ConvID] = env.Seq
	b, err := json.Marshal(in.seen)
	if err != nil {
		return true, err
	}
	if err := in.state.Save(ctx, keyInbox, b); err != nil {
		return true, fmt.Errorf("save inbox: %w", err)
	}
	return true, nil
}

// MemState is an in-memory State for tests and ephemeral clients.
type MemState struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *MemState) Load(_ context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.m[key]...), nil
}

func (s *MemState) Save(_ context.Context, key string, val []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	s.m[key] = append([]byte(nil), val...)
	return nil
}

func (s *MemState) Erase(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m = nil
	return nil
}
