package botapp

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter gives each user a token bucket, so a flood from one user is
// dropped without slowing anyone else. Idle buckets are forgotten.
type limiter struct {
	mu      sync.Mutex
	every   rate.Limit
	burst   int
	users   map[int64]*userBucket
	lastGC  time.Time
	idleTTL time.Duration
}

type userBucket struct {
	lim      *rate.Limiter
	seen     time.Time
	warnedAt time.Time
}

func newLimiter(perSecond float64, burst int) *limiter {
	return &limiter{every: rate.Limit(perSecond), burst: burst, users: map[int64]*userBucket{}, idleTTL: 10 * time.Minute}
}

// allow reports whether the user may be served now, and whether a refusal
// should be told to the user (once per ten seconds, not on every update).
func (l *limiter) allow(userID int64, now time.Time) (ok, warn bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastGC) > l.idleTTL {
		for id, b := range l.users {
			if now.Sub(b.seen) > l.idleTTL {
				delete(l.users, id)
			}
		}
		l.lastGC = now
	}
	b := l.users[userID]
	if b == nil {
		b = &userBucket{lim: rate.NewLimiter(l.every, l.burst)}
		l.users[userID] = b
	}
	b.seen = now
	if b.lim.AllowN(now, 1) {
		return true, false
	}
	if now.Sub(b.warnedAt) > 10*time.Second {
		b.warnedAt = now
		return false, true
	}
	return false, false
}
