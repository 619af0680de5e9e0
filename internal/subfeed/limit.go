package subfeed

import (
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Rate is a token bucket: Burst requests at once, then one every Every.
type Rate struct {
	Every time.Duration
	Burst int
}

// keyedLimiter gives each key (an address, a token) its own bucket. Its
// memory is bounded: idle buckets are dropped once a minute, and should a
// flood of distinct keys still fill it, it starts over empty (failing open
// for a moment rather than refusing everyone or growing without end).
type keyedLimiter struct {
	mu      sync.Mutex
	rate    Rate
	max     int
	buckets map[string]*bucket
	lastGC  time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// idleAfter is how long an unused bucket is kept. Every bucket refills
// within it at the rates this package uses, so dropping one forgets
// nothing but a full bucket.
const idleAfter = 10 * time.Minute

func newKeyedLimiter(r Rate, max int) *keyedLimiter {
	return &keyedLimiter{rate: r, max: max, buckets: map[string]*bucket{}}
}

// allow takes one request from key's bucket at now. When it is empty it
// says how long until the next request would be allowed.
func (l *keyedLimiter) allow(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastGC) > time.Minute || len(l.buckets) >= l.max {
		for k, b := range l.buckets {
			if now.Sub(b.seen) > idleAfter {
				delete(l.buckets, k)
			}
		}
		if len(l.buckets) >= l.max {
			clear(l.buckets)
		}
		l.lastGC = now
	}
	b := l.buckets[key]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(rate.Every(l.rate.Every), l.rate.Burst)}
		l.buckets[key] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// retryAfter is a Retry-After value: whole seconds, at least one.
func retryAfter(d time.Duration) string {
	return strconv.FormatInt(int64(math.Ceil(max(d, time.Second).Seconds())), 10)
}

// clientKey names the client a request comes from, for the per-address
// limit. Behind a reverse proxy (header set) it is the address the proxy
// reports: the last entry of X-Forwarded-For, which the proxy itself
// appended, or the whole value of a single-address header such as
// X-Real-IP. IPv6 clients are limited per /64, the block one subscriber
// usually holds, so rotating addresses within it gains nothing.
func clientKey(r *http.Request, header string) string {
	raw := ""
	if header != "" {
		if vs := r.Header.Values(header); len(vs) > 0 {
			raw = vs[len(vs)-1]
			if i := strings.LastIndexByte(raw, ','); i >= 0 {
				raw = raw[i+1:]
			}
		}
	}
	raw = strings.TrimSpace(raw)
	if raw == "" {
		raw = r.RemoteAddr
		if host, _, err := net.SplitHostPort(raw); err == nil {
			raw = host
		}
	}
	addr, err := netip.ParseAddr(strings.Trim(raw, "[]"))
	if err != nil {
		return raw
	}
	addr = addr.Unmap()
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}
