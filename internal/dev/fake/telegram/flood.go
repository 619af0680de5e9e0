package telegram

import (
	"fmt"
	"math"
	"net/http"
	"time"
)

// rateState is Telegram-style flood control: a sliding one-second window
// of sends and, once it overflows, a flood wait refusing every send.
type rateState struct {
	limit      RateLimit
	sent       []time.Time
	floodUntil time.Time
	refused    int // sends answered 429 since the limit was set
}

// admitSend counts a send against the rate limit, or refuses it with 429.
func (s *Server) admitSend() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &s.rate
	if r.limit.PerSecond <= 0 {
		return nil
	}
	now := s.now()
	if now.Before(r.floodUntil) {
		r.refused++
		return tooManyRequests(r.floodUntil.Sub(now))
	}
	cut := 0
	for cut < len(r.sent) && now.Sub(r.sent[cut]) >= time.Second {
		cut++
	}
	r.sent = r.sent[cut:]
	if len(r.sent) >= r.limit.PerSecond {
		wait := r.limit.RetryAfter
		if wait <= 0 {
			wait = time.Second
		}
		r.floodUntil = now.Add(wait)
		r.refused++
		return tooManyRequests(wait)
	}
	r.sent = append(r.sent, now)
	return nil
}

func tooManyRequests(wait time.Duration) *apiError {
	secs := max(1, int(math.Ceil(wait.Seconds())))
	return &apiError{
		code:        http.StatusTooManyRequests,
		description: fmt.Sprintf("Too Many Requests: retry after %d", secs),
		retryAfter:  secs,
	}
}

// RateLimited counts the sends refused with 429 since SetRateLimit was
// last called: what a sender that keeps to the limit never sees.
func (s *Server) RateLimited() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rate.refused
}
