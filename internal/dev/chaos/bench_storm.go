package chaos

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	faketg "vpnflow/internal/dev/fake/telegram"
	"vpnflow/internal/shop"
)

// StormRow is the expiry storm's figures: n subscriptions set to expire
// at the same second, and how long their keys stayed in Xray after it.
type StormRow struct {
	Users     int
	LastOut   time.Duration // the expiry instant → the last key out of Xray
	HalfOut   time.Duration // → half of them out
	PerSecond float64       // keys removed per second, from the first to the last
	Notified  time.Duration // → every user told the subscription ended (0: not all within the wait)
	ServerCPU float64
	WorkerCPU float64
	// NoticesPerSecond is the "has ended" notices' rate from the first to
	// the last, NoticesPeak the most in any one second; RateLimited the
	// sends Telegram's flood control answered 429 from the instant on.
	NoticesPerSecond float64
	NoticesPeak      int
	NoticesSteady    float64 // over the middle 90% of the notices (steadyPace)
	RateLimited      int
	Pool             poolPeak
	Sends            sendTimes // the worker's send pace meanwhile
	// Reminders is the reminder storm run on the same users first.
	Reminders ReminderRow
}

// stormWait bounds the wait for the storm to clear.
const stormWait = 30 * time.Minute

// expiryStorm gives n new users the trial, moves all their expiries to the
// same second (the sandbox's "expire in", through each user's workflow),
// and watches Xray from that second until every key is gone.
func (s *system) expiryStorm(ctx context.Context, d *driver, n int, out io.Writer) (StormRow, error) {
	fmt.Fprintf(out, "bench: expiry storm: %d trials\n", n)
	users, err := giveTrials(ctx, d, n, 4_000_000, "expiry storm", out)
	if err != nil {
		return StormRow{}, err
	}
	emails := map[string]bool{}
	for _, u := range users {
		var email string
		if err := s.pool.QueryRow(ctx, `SELECT lower(xray_email) FROM subscriptions WHERE user_id = $1`, u.id).Scan(&email); err != nil {
			return StormRow{}, fmt.Errorf("key of user %d: %w", u.id, err)
		}
		emails[email] = true
	}

	reminders, err := s.reminderStorm(ctx, d, users, emails, out)
	if err != nil {
		return StormRow{Reminders: reminders}, fmt.Errorf("reminder storm: %w", err)
	}

	// One instant for all, far enough ahead for every move to land.
	at := time.Now().Add(max(shop.MinSandboxExpiry, stormLead(n))).Truncate(time.Second).Add(time.Second)
	if err := s.moveExpiries(ctx, users, at, at, true, out); err != nil {
		return StormRow{}, err
	}
	sleep(ctx, time.Until(at))

	row := StormRow{Users: n, Reminders: reminders}
	server, work := s.stack.Temporal.Pid(), s.worker.pid()
	s0, w0 := cpuTime(server), cpuTime(work)
	// From the instant on, Telegram's flood control (30 messages/s) is
	// on, as in production; the setup above ran without it.
	s.stack.Telegram.SetRateLimit(faketg.RateLimit{PerSecond: 30, RetryAfter: 5 * time.Second})
	defer s.stack.Telegram.SetRateLimit(faketg.RateLimit{})
	pool := startPoolWatch(ctx, "http://"+s.stack.Config.WorkerMetricsAddr+"/metrics", "worker")
	defer pool.stop()
	sends := s.readSends(ctx)
	first := time.Duration(0)
	deadline := at.Add(stormWait)
	for time.Now().Before(deadline) {
		left, err := s.keysLeft(ctx, emails)
		if err == nil {
			since := time.Since(at)
			if left < n && first == 0 {
				first = since
			}
			if left <= n/2 && row.HalfOut == 0 {
				row.HalfOut = since
			}
			if left == 0 {
				row.LastOut = since
				break
			}
		}
		sleep(ctx, 250*time.Millisecond)
	}
	wall := time.Since(at).Seconds()
	row.ServerCPU = (cpuTime(server) - s0).Seconds() / wall
	row.WorkerCPU = (cpuTime(work) - w0).Seconds() / wall
	if row.LastOut == 0 {
		return row, fmt.Errorf("%d keys still in Xray %s after their expiry", n, stormWait)
	}
	row.PerSecond = float64(n) / max(row.LastOut-first, 250*time.Millisecond).Seconds()
	for time.Now().Before(deadline) {
		if sentSince(d, users, at, expiredText) == n {
			row.Notified = time.Since(at)
			break
		}
		sleep(ctx, time.Second)
	}
	row.Pool = pool.stop()
	row.Sends = sendsBetween(sends, s.readSends(ctx))
	row.RateLimited = s.stack.Telegram.RateLimited()
	row.NoticesPerSecond, row.NoticesPeak = noticePace(d, users, at, expiredText)
	row.NoticesSteady = steadyPace(d, users, at, expiredText)
	return row, nil
}

// giveTrials gives n new users (numbered from base) the trial through the
// bot, 32 at a time, printing progress every 500 under the case's name.
func giveTrials(ctx context.Context, d *driver, n, base int, name string, out io.Writer) ([]*user, error) {
	users := make([]*user, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	var given atomic.Int64
	began := time.Now()
	for i := range users {
		g.Go(func() error {
			u := &user{n: base + i, kind: KindTrial}
			if err := d.startBenchUser(gctx, u); err != nil {
				return err
			}
			if err := d.pressUntil(gctx, u, "Free trial", isKey); err != nil {
				return fmt.Errorf("trial of user %d: %w", u.id, err)
			}
			users[i] = u
			if m := given.Add(1); m%500 == 0 {
				fmt.Fprintf(out, "bench: %s: %d of %d trials given (%.1f/s)\n", name, m, n, float64(m)/time.Since(began).Seconds())
			}
			return nil
		})
	}
	return users, g.Wait()
}

// stormLead is how far ahead of now the storms' instant is set for n
// users: every workflow must have taken its new expiry before it. The
// signals go out at a few hundred a second, but the workflows take them at
// about 37 a second on the 2-core dev server (10,000 measured), so the lead
// allows 20 a second and a minute more.
func stormLead(n int) time.Duration {
	return time.Minute + time.Duration(n)*time.Second/20
}

// keysLeft counts the emails still in Xray.
func (s *system) keysLeft(ctx context.Context, emails map[string]bool) (int, error) {
	users, err := s.xray.ListUsers(ctx)
	if err != nil {
		return 0, err
	}
	left := 0
	for _, u := range users {
		if emails[strings.ToLower(u.Email)] {
			left++
		}
	}
	return left, nil
}
