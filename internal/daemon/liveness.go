package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Liveness tells whether a process's loops still make progress. The
// predecessor froze with its process alive and its tickers ticking: a
// health endpoint that answers "ok" from its own goroutine sees nothing of
// that. Here each loop that matters (the bot's update loop, the worker's
// pollers) reports every completed round, and the process is live only
// while every loop has done so within its bound.
type Liveness struct {
	now func() time.Time

	mu    sync.Mutex
	loops []*Loop
}

// NewLiveness returns an empty Liveness on the wall clock.
func NewLiveness() *Liveness { return &Liveness{now: time.Now} }

// Loop is one loop's progress.
type Loop struct {
	name  string
	bound time.Duration
	now   func() time.Time
	last  atomic.Int64 // unix nanoseconds of the last completed round
	idle  func() bool  // see IdleWhen
}

// IdleWhen marks the loop as not stalled, however long since its last
// round, while idle reports true: a pool of task slots with one free is not
// stuck, it just has nothing to finish. Call it before the loop is checked.
func (p *Loop) IdleWhen(idle func() bool) { p.idle = idle }

// Loop registers a loop that must complete a round at least every bound.
// It counts as having made progress now, so a starting process has one
// bound to get going.
func (l *Liveness) Loop(name string, bound time.Duration) *Loop {
	p := &Loop{name: name, bound: bound, now: l.now}
	p.Progress()
	l.mu.Lock()
	l.loops = append(l.loops, p)
	l.mu.Unlock()
	return p
}

// Progress records a completed round. It is cheap and safe from any
// goroutine, so hot paths may call it on every round.
func (p *Loop) Progress() { p.last.Store(p.now().UnixNano()) }

// Last is when the loop last completed a round.
func (p *Loop) Last() time.Time { return time.Unix(0, p.last.Load()) }

// Stall is a loop that has not completed a round within its bound.
type Stall struct {
	Loop  string
	Since time.Time // its last completed round
	Bound time.Duration
}

func (s Stall) String() string {
	return fmt.Sprintf("%s: no progress since %s (bound %s)", s.Loop, s.Since.UTC().Format(time.RFC3339), s.Bound)
}

// Stalls lists the loops past their bound, by name.
func (l *Liveness) Stalls() []Stall {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Stall
	for _, p := range l.loops {
		last := time.Unix(0, p.last.Load())
		if now.Sub(last) > p.bound && (p.idle == nil || !p.idle()) {
			out = append(out, Stall{Loop: p.name, Since: last, Bound: p.bound})
		}
	}
	slices.SortFunc(out, func(a, b Stall) int { return strings.Compare(a.Loop, b.Loop) })
	return out
}

// ServeHTTP is /healthz: 200 and each loop's age while all make progress,
// 503 naming every stalled loop otherwise.
func (l *Liveness) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if stalls := l.Stalls(); len(stalls) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		for _, s := range stalls {
			fmt.Fprintf(w, "stalled %s\n", s)
		}
		return
	}
	now := l.now()
	fmt.Fprintln(w, "ok")
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range l.loops {
		fmt.Fprintf(w, "%s: last progress %s ago (bound %s)\n", p.name, now.Sub(time.Unix(0, p.last.Load())).Round(time.Millisecond), p.bound)
	}
}

// ExitStalled is the exit status of a process its watchdog ended.
const ExitStalled = 3

// ExitProcess is the watchdog's exit in production: the process ends at
// once with ExitStalled, without waiting on the stuck loops.
func ExitProcess() { os.Exit(ExitStalled) }

// Watchdog ends the process through exit when some loop stays stalled for
// limit, so that a supervisor (compose's restart policy, systemd,
// Kubernetes) starts a fresh one: a stuck process does not heal itself.
// A limit of zero turns the watchdog off. It returns when ctx ends.
func (l *Liveness) Watchdog(ctx context.Context, limit time.Duration, log *slog.Logger, exit func()) {
	if limit <= 0 {
		return
	}
	tick := time.NewTicker(min(limit/4, 5*time.Second))
	defer tick.Stop()
	var since time.Time // when the current stall was first seen
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		stalls := l.Stalls()
		switch {
		case len(stalls) == 0:
			if !since.IsZero() {
				log.Info("liveness: progress again", "stalled_for", l.now().Sub(since).Round(time.Second))
			}
			since = time.Time{}
		case since.IsZero():
			since = l.now()
			log.Warn("liveness: stalled", "stalls", fmt.Sprint(stalls), "exit_after", limit)
		case l.now().Sub(since) >= limit:
			log.Error("liveness: stalled past the watchdog limit, exiting so that the supervisor restarts the process",
				"stalls", fmt.Sprint(stalls), "limit", limit)
			exit()
			return
		}
	}
}
