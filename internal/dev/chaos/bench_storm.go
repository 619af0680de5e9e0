package chaos

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

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
}

// stormWait bounds the wait for the storm to clear.
const stormWait = 30 * time.Minute

// expiryStorm gives n new users the trial, moves all their expiries to the
// same second (the sandbox's "expire in", through each user's workflow),
// and watches Xray from that second until every key is gone.
func (s *system) expiryStorm(ctx context.Context, d *driver, n int, out io.Writer) (StormRow, error) {
	fmt.Fprintf(out, "bench: expiry storm: %d trials\n", n)
	users := make([]*user, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for i := range users {
		g.Go(func() error {
			u := &user{n: 4_000_000 + i, kind: KindTrial}
			if err := d.startBenchUser(gctx, u); err != nil {
				return err
			}
			if err := d.pressUntil(gctx, u, "Free trial", isKey); err != nil {
				return fmt.Errorf("trial of user %d: %w", u.id, err)
			}
			users[i] = u
			return nil
		})
	}
	if err := g.Wait(); err != nil {
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

	// One instant for all, far enough ahead for every move to land.
	// Moves go at about 10/s on the 2-core dev server; leave room for 8/s.
	at := time.Now().Add(shop.MinSandboxExpiry + time.Duration(n)*time.Second/8).Truncate(time.Second).Add(time.Second)
	fmt.Fprintf(out, "bench: expiry storm: moving %d expiries to %s\n", n, at.UTC().Format(time.TimeOnly))
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(16)
	var moved atomic.Int64
	for i, u := range users {
		g.Go(func() error {
			if m := moved.Add(1); m%500 == 0 {
				fmt.Fprintf(out, "bench: expiry storm: %d of %d expiries moved, %s before the instant\n", m, n, time.Until(at).Round(time.Second))
			}
			run, err := shop.StartSandboxExpire(gctx, s.temporal, s.stack.Config.TaskQueue, int64(i), shop.SandboxExpireInput{UserID: u.id, In: time.Until(at)})
			if err != nil {
				return err
			}
			var res shop.SandboxExpireResult
			return run.Get(gctx, &res)
		})
	}
	if err := g.Wait(); err != nil {
		return StormRow{}, fmt.Errorf("move expiries: %w", err)
	}
	if time.Now().After(at) {
		return StormRow{}, fmt.Errorf("moving the expiries took past %s: give the storm fewer users", at.Format(time.TimeOnly))
	}
	sleep(ctx, time.Until(at))

	row := StormRow{Users: n}
	server, work := s.stack.Temporal.Pid(), s.worker.pid()
	s0, w0 := cpuTime(server), cpuTime(work)
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
		told := 0
		for _, u := range users {
			for _, m := range d.tg.Messages(u.id) {
				if strings.Contains(m.Text, "has ended") {
					told++
					break
				}
			}
		}
		if told == n {
			row.Notified = time.Since(at)
			break
		}
		sleep(ctx, time.Second)
	}
	return row, nil
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
