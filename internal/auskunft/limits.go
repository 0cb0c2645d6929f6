package auskunft

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limits are the misuse controls on queries, per user and per server node.
type Limits struct {
	// Rate and Burst form a token bucket per user: Rate queries per second
	// sustained, Burst at once. Default 0.5/s (30 a minute) and 20.
	Rate  float64
	Burst int
	// FlagPerHour is the query volume in one hour above which the user is
	// flagged to the auditor (once per hour). Default 120.
	FlagPerHour int
	// FlagRefusedPerHour flags a user whose queries were refused by the
	// rate limit this often in an hour. Default 20.
	FlagRefusedPerHour int
}

func (l *Limits) defaults() {
	if l.Rate <= 0 {
		l.Rate = 0.5
	}
	if l.Burst <= 0 {
		l.Burst = 20
	}
	if l.FlagPerHour <= 0 {
		l.FlagPerHour = 120
	}
	if l.FlagRefusedPerHour <= 0 {
		l.FlagRefusedPerHour = 20
	}
}

// userState counts one user's queries in per-minute buckets over the last
// hour, so that the hourly volume is known without keeping timestamps.
type userState struct {
	lim       *rate.Limiter
	minute    [60]int64 // start minute (unix) of each bucket
	queries   [60]int
	refused   [60]int
	flaggedAt time.Time
	lastSeen  time.Time
}

func (u *userState) bucket(now time.Time) int {
	m := now.Unix() / 60
	i := int(m % 60)
	if u.minute[i] != m {
		u.minute[i], u.queries[i], u.refused[i] = m, 0, 0
	}
	return i
}

func (u *userState) hour(now time.Time) (queries, refused int) {
	m := now.Unix() / 60
	for i := range u.minute {
		if u.minute[i] > m-60 {
			queries += u.queries[i]
			refused += u.refused[i]
		}
	}
	return queries, refused
}

// limiter applies Limits. Its state lives in memory: each server node
// limits and flags on its own (a user spread over n nodes gets n buckets).
type limiter struct {
	cfg       Limits
	mu        sync.Mutex
	users     map[string]*userState
	lastPrune time.Time
}

func newLimiter(cfg Limits) *limiter {
	cfg.defaults()
	return &limiter{cfg: cfg, users: map[string]*userState{}}
}

// flag is a reason to tell the auditor about a user.
type flag struct {
	Queries, Refused int
}

// allow takes a token for user at now. It reports whether the query may
// run, and a flag when the user's hourly volume just became unusual.
func (l *limiter) allow(user string, now time.Time) (ok bool, f *flag) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.prune(now)
	u := l.users[user]
	if u == nil {
		u = &userState{lim: rate.NewLimiter(rate.Limit(l.cfg.Rate), l.cfg.Burst)}
		l.users[user] = u
	}
	u.lastSeen = now
	i := u.bucket(now)
	ok = u.lim.AllowN(now, 1)
	if ok {
		u.queries[i]++
	} else {
		u.refused[i]++
	}
	q, r := u.hour(now)
	if (q > l.cfg.FlagPerHour || r >= l.cfg.FlagRefusedPerHour) && now.Sub(u.flaggedAt) >= time.Hour {
		u.flaggedAt = now
		f = &flag{Queries: q, Refused: r}
	}
	return ok, f
}

// prune forgets users idle for two hours, at most every ten minutes, so
// that memory stays bounded by the active users.
func (l *limiter) prune(now time.Time) {
	if now.Sub(l.lastPrune) < 10*time.Minute {
		return
	}
	l.lastPrune = now
	for id, u := range l.users {
		if now.Sub(u.lastSeen) > 2*time.Hour {
			delete(l.users, id)
		}
	}
}
