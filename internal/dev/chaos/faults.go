package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"syscall"
	"time"

	faketg "vpnflow/internal/dev/fake/telegram"
)

// Fault is one kind of trouble the injector causes.
type Fault string

// The faults. Every kill is a SIGKILL of the real process (no shutdown
// code runs), followed by a restart as a supervisor would do.
const (
	// KillWorker: SIGKILL the worker binary, start it again.
	KillWorker Fault = "kill-worker"
	// KillBot: SIGKILL the bot binary, start it again.
	KillBot Fault = "kill-bot"
	// KillTemporal: SIGKILL the Temporal dev server, restart it on the
	// same SQLite file and port.
	KillTemporal Fault = "kill-temporal"
	// KillPostgres: SIGKILL the postmaster and its backends, restart on
	// the same data directory (crash recovery runs).
	KillPostgres Fault = "kill-postgres"
	// KillXray: SIGKILL Xray and start it again, which drops every user
	// added through its API; the Xray watch and reconcile must restore them.
	KillXray Fault = "kill-xray"
	// FreezeXray: SIGSTOP Xray for a while, then SIGCONT: it keeps its TCP
	// port and answers nothing (hung, not down).
	FreezeXray Fault = "freeze-xray"
	// HangTelegram: the Telegram stand-in runs inside the suite's own
	// process, so it cannot be SIGSTOPped alone; SetOutage(OutageHang)
	// holds every Bot API request unanswered for a while instead, which is
	// what a frozen Telegram looks like to the bot (hung, not down).
	HangTelegram Fault = "hang-telegram"
)

// AllFaults is the default fault set.
var AllFaults = []Fault{KillWorker, KillBot, KillTemporal, KillPostgres, KillXray, FreezeXray, HangTelegram}

// injection is one fault as it happened. Recovery is the time from the
// fault's end (the process restarted and serving, the freeze or hang
// lifted) until a probe, a new user taking the free trial, holds a key: the
// whole path from /start through the bot, Temporal, PostgreSQL and Xray to
// the key message works again. The probe acts as a user: it retries 2 s
// after a "Something went wrong" answer, and 40 s after no answer at all
// (stepWait), which then shows in the figure. After an Xray kill, whose restart drops
// every key, recovery also waits until every key live at the kill is back
// in Xray (the Xray watch notices the restart and reconciles).
type injection struct {
	Fault    Fault
	At       time.Duration // since the run started
	Held     time.Duration // how long the fault lasted (down or frozen)
	Recovery time.Duration
	Detail   string
	Err      error     // the fault could not be injected or healed, or the probe failed
	From, To time.Time // wall clock of the fault's start and end
}

// inject causes the fault and heals it after hold (freezes and hangs) or at
// once (kills: the restart follows the kill as a supervisor's would). It
// returns how long the component was out.
func (s *system) inject(ctx context.Context, f Fault, hold time.Duration) (time.Duration, error) {
	start := time.Now()
	var err error
	switch f {
	case KillWorker:
		s.worker.kill()
		err = s.worker.start(ctx)
	case KillBot:
		s.bot.kill()
		err = s.bot.start(ctx)
	case KillTemporal:
		s.stack.Temporal.Kill()
		err = s.stack.Temporal.Restart(ctx)
	case KillPostgres:
		s.stack.Postgres.Kill()
		err = s.stack.Postgres.Restart(ctx)
	case KillXray:
		s.stack.Xray.Kill()
		err = s.stack.Xray.Restart(ctx)
	case FreezeXray:
		pid := s.stack.Xray.Pid()
		if err = syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			return 0, fmt.Errorf("freeze xray: %w", err)
		}
		sleep(ctx, hold)
		err = syscall.Kill(pid, syscall.SIGCONT)
	case HangTelegram:
		s.stack.Telegram.SetOutage(faketg.OutageHang)
		sleep(ctx, hold)
		s.stack.Telegram.SetOutage(faketg.OutageNone)
	default:
		err = fmt.Errorf("unknown fault %q", f)
	}
	if err != nil {
		return time.Since(start), fmt.Errorf("%s: %w", f, err)
	}
	return time.Since(start), nil
}

// faultPlan is the seeded order and timing of faults: every kind in the set
// comes up once before any repeats, in a shuffled order.
type faultPlan struct {
	rng            *rand.Rand
	set            []Fault
	queue          []Fault
	gapMin, gapMax time.Duration
	holdMin        time.Duration
	holdMax        time.Duration
}

func (p *faultPlan) next() (f Fault, gap, hold time.Duration) {
	if len(p.queue) == 0 {
		p.queue = append([]Fault(nil), p.set...)
		p.rng.Shuffle(len(p.queue), func(i, j int) { p.queue[i], p.queue[j] = p.queue[j], p.queue[i] })
	}
	f, p.queue = p.queue[0], p.queue[1:]
	return f, between(p.rng, p.gapMin, p.gapMax), between(p.rng, p.holdMin, p.holdMax)
}

func between(rng *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(rng.Int64N(int64(hi-lo)))
}

// ParseFaults reads a comma-separated fault list ("all" for AllFaults).
func ParseFaults(list []string) ([]Fault, error) {
	var out []Fault
	for _, name := range list {
		if name == "all" {
			out = append(out, AllFaults...)
			continue
		}
		ok := false
		for _, f := range AllFaults {
			if string(f) == name {
				out, ok = append(out, f), true
			}
		}
		if !ok {
			return nil, fmt.Errorf("unknown fault %q (known: %v)", name, AllFaults)
		}
	}
	return out, nil
}

// liveEmails are the Xray emails of the subscriptions live now.
func (s *system) liveEmails(ctx context.Context) (map[string]bool, error) {
	rows, err := s.pool.Query(ctx, `SELECT lower(xray_email) FROM subscriptions
		WHERE status IN ('active', 'trial') AND expires_at > now()`)
	if err != nil {
		return nil, fmt.Errorf("read live subscriptions: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var e string
		if err := rows.Scan(&e); err != nil {
			return nil, err
		}
		out[e] = true
	}
	return out, rows.Err()
}

// waitKeysBack waits until every email in want that is still live is in
// Xray again.
func (s *system) waitKeysBack(ctx context.Context, want map[string]bool, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		missing, err := s.missingKeys(ctx, want)
		if err == nil && missing == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d keys still missing from Xray after %s (last error: %v)", missing, len(want), limit, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (s *system) missingKeys(ctx context.Context, want map[string]bool) (int, error) {
	users, err := s.xray.ListUsers(ctx)
	if err != nil {
		return -1, err
	}
	live, err := s.liveEmails(ctx)
	if err != nil {
		return -1, err
	}
	in := map[string]bool{}
	for _, u := range users {
		in[strings.ToLower(u.Email)] = true
	}
	missing := 0
	for e := range want {
		if live[e] && !in[e] {
			missing++
		}
	}
	return missing, nil
}
