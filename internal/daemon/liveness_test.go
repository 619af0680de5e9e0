package daemon

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a settable clock for Liveness.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestLiveness() (*Liveness, *clock) {
	c := &clock{t: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)}
	return &Liveness{now: c.now}, c
}

func healthz(t *testing.T, l *Liveness) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	l.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	return rec.Code, rec.Body.String()
}

func TestLivenessNamesTheStalledLoop(t *testing.T) {
	l, c := newTestLiveness()
	updates := l.Loop("telegram-updates", time.Minute)
	polls := l.Loop("temporal-pollers", 3*time.Minute)

	if code, body := healthz(t, l); code != http.StatusOK || !strings.Contains(body, "telegram-updates: last progress 0s ago") {
		t.Fatalf("fresh process: %d %q, want 200 listing the loops", code, body)
	}
	c.add(50 * time.Second)
	updates.Progress()
	c.add(50 * time.Second) // updates 50 s ago, polls 100 s ago: both within bound
	if code, _ := healthz(t, l); code != http.StatusOK {
		t.Fatalf("loops within bound: %d, want 200", code)
	}
	c.add(20 * time.Second) // updates 70 s ago: past its minute
	code, body := healthz(t, l)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "stalled telegram-updates: no progress since 2026-12-04T12:00:50Z (bound 1m0s)") {
		t.Fatalf("stalled updates: %d %q, want 503 naming telegram-updates and since when", code, body)
	}
	if strings.Contains(body, "temporal-pollers") {
		t.Errorf("a loop within its bound is reported stalled: %q", body)
	}
	polls.Progress()
	updates.Progress()
	if code, _ := healthz(t, l); code != http.StatusOK {
		t.Errorf("after progress: %d, want 200", code)
	}
}

// TestWatchdogExitsOnlyAfterTheLimit runs the watchdog on the real clock
// with short bounds: a loop that stalls for less than the limit is
// forgiven, one that stays stalled ends the process.
func TestWatchdogExitsOnlyAfterTheLimit(t *testing.T) {
	l := NewLiveness()
	loop := l.Loop("updates", 100*time.Millisecond)
	exited := make(chan time.Time, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	start := time.Now()
	go l.Watchdog(ctx, time.Second, log, func() { exited <- time.Now() })

	// Progress every 50 ms for a second: never stalled, never exits.
	for time.Since(start) < time.Second {
		loop.Progress()
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case <-exited:
		t.Fatal("the watchdog exited while the loop made progress")
	default:
	}
	// A short stall (400 ms: past the bound, well within the limit) is forgiven.
	time.Sleep(400 * time.Millisecond)
	loop.Progress()
	for range 4 {
		time.Sleep(50 * time.Millisecond)
		loop.Progress()
	}
	select {
	case <-exited:
		t.Fatal("the watchdog exited on a stall shorter than its limit")
	default:
	}
	// Then the loop stops for good.
	stopped := time.Now()
	select {
	case at := <-exited:
		t.Logf("exited %s after the last progress (bound 100ms, limit 1s)", at.Sub(stopped).Round(time.Millisecond))
	case <-time.After(5 * time.Second):
		t.Fatal("the watchdog did not exit within 5 s of the loop stopping")
	}
}
