package chaos

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"vpnflow/internal/shop"
)

// renewedText is in the "renewed from your balance" notice (autorenew_done)
// and in no other.
const renewedText = "renewed for"

// setupRound is how many of a storm's users buy their plan at a time.
const setupRound = 1000

// autoRenewBalance is what each user of the auto-renewal storm holds before
// it, in minor units: enough for one renewal, so a second charge shows as
// a balance other than autoRenewBalance minus one price.
const autoRenewBalance = 10_000

// AutoRenewRow is the auto-renewal storm's figures: n paying users with
// auto-renew on and money on their balance, whose renewals all fall due at
// the same second (everyone who bought on launch day), and how long until
// each was charged once and had the next period.
type AutoRenewRow struct {
	Users      int
	Lead       time.Duration // AUTO_RENEW_LEAD: how long before the expiry the renewals fall due
	AllRenewed time.Duration // the instant → the last period extended (0: not all within the wait)
	HalfDone   time.Duration // → half of them
	PerSecond  float64       // renewals a second, from the instant to the last
	Told       time.Duration // → every user told of their renewal (0: not all within the wait)
	Charged    int           // users charged from their balance for the renewal
	Twice      int           // users charged more than once: must be 0
	WrongSum   int           // users whose balance is not one price less: must be 0
	ServerCPU  float64
	WorkerCPU  float64
	Pool       poolPeak
}

func (r AutoRenewRow) String() string {
	dur := func(d time.Duration) string {
		if d == 0 {
			return "not all within the wait"
		}
		return d.Round(100 * time.Millisecond).String()
	}
	return fmt.Sprintf("auto-renewal storm: %d renewals due at the same second (%s before their expiry); half renewed after %s, all after %s (%.1f/s), every user told after %s; %d charged once, %d charged twice, %d balances wrong; server %.2f cores, worker %.2f; worker's database pool: %s",
		r.Users, r.Lead, dur(r.HalfDone), dur(r.AllRenewed), r.PerSecond, dur(r.Told), r.Charged, r.Twice, r.WrongSum, r.ServerCPU, r.WorkerCPU, r.Pool)
}

// autoRenewStorm buys a plan for n new users through Crypto Pay, gives
// each autoRenewBalance and turns auto-renew on (the update the bot's
// button hands over), moves every expiry so that the renewals fall due
// at one instant, and watches the renewals from that instant: each is a
// balance Purchase, a child of the user's workflow, as in production.
func (s *system) autoRenewStorm(ctx context.Context, d *driver, n int, out io.Writer) (AutoRenewRow, error) {
	fmt.Fprintf(out, "bench: auto-renewal storm: %d purchases\n", n)
	users := make([]*user, 0, n)
	// In rounds: an open invoice's purchase workflow polls Crypto Pay on
	// a timer until it is paid, and 10,000 open at once kept the server
	// busy polling (the setup slowed to 1.5 invoices a second).
	for len(users) < n {
		k := min(setupRound, n-len(users))
		invs, err := d.prepareInvoices(ctx, k, 800_000+len(users))
		if err != nil {
			return AutoRenewRow{}, err
		}
		if paid := d.payAll(ctx, invs, 32, 0); paid.Lost > 0 || paid.Dup > 0 {
			return AutoRenewRow{}, fmt.Errorf("setup purchases: %d lost, %d duplicated", paid.Lost, paid.Dup)
		}
		for _, inv := range invs {
			users = append(users, inv.user)
		}
		fmt.Fprintf(out, "bench: auto-renewal storm: %d of %d bought\n", len(users), n)
	}
	ids := userIDs(users)
	if _, err := s.pool.Exec(ctx, `UPDATE users SET balance = $2 WHERE telegram_id = ANY($1)`, ids, autoRenewBalance); err != nil {
		return AutoRenewRow{}, fmt.Errorf("fund the balances: %w", err)
	}
	if err := s.turnOnAutoRenew(ctx, users, out); err != nil {
		return AutoRenewRow{}, err
	}
	price, err := s.planPrice(ctx, ids[0])
	if err != nil {
		return AutoRenewRow{}, err
	}

	lead := s.stack.Config.AutoRenewLead
	at := time.Now().Add(stormLead(n)).Truncate(time.Second).Add(time.Second)
	if err := s.moveExpiries(ctx, users, at.Add(lead), at, false, out); err != nil {
		return AutoRenewRow{}, err
	}
	sleep(ctx, time.Until(at))

	row := AutoRenewRow{Users: n, Lead: lead}
	server, work := s.stack.Temporal.Pid(), s.worker.pid()
	s0, w0 := cpuTime(server), cpuTime(work)
	pool := startPoolWatch(ctx, "http://"+s.stack.Config.WorkerMetricsAddr+"/metrics", "worker")
	defer pool.stop()
	// A renewed period ends a plan's length after the old one: anything
	// past the old end counts.
	oldEnd := at.Add(lead)
	for deadline := at.Add(stormWait); time.Now().Before(deadline); sleep(ctx, 500*time.Millisecond) {
		var renewed int
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM subscriptions WHERE user_id = ANY($1) AND expires_at > $2`,
			ids, oldEnd.Add(time.Minute)).Scan(&renewed); err != nil {
			continue
		}
		if renewed >= n/2 && row.HalfDone == 0 {
			row.HalfDone = time.Since(at)
		}
		if renewed == n {
			row.AllRenewed = time.Since(at)
			break
		}
	}
	wall := time.Since(at).Seconds()
	row.ServerCPU = (cpuTime(server) - s0).Seconds() / wall
	row.WorkerCPU = (cpuTime(work) - w0).Seconds() / wall
	if row.AllRenewed > 0 {
		row.PerSecond = float64(n) / row.AllRenewed.Seconds()
	}
	for deadline := at.Add(stormWait); time.Now().Before(deadline); sleep(ctx, time.Second) {
		if sentSince(d, users, at, renewedText) == n {
			row.Told = time.Since(at)
			break
		}
	}
	row.Pool = pool.stop()
	err = s.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE c = 1), count(*) FILTER (WHERE c > 1) FROM (
			SELECT count(*) AS c FROM purchases WHERE user_id = ANY($1) AND provider = 'balance' AND status = 'paid'
			GROUP BY user_id) per_user`, ids).Scan(&row.Charged, &row.Twice)
	if err != nil {
		return row, fmt.Errorf("count the renewal charges: %w", err)
	}
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM users WHERE telegram_id = ANY($1) AND balance <> $2`,
		ids, autoRenewBalance-price).Scan(&row.WrongSum); err != nil {
		return row, fmt.Errorf("check the balances: %w", err)
	}
	fmt.Fprintf(out, "bench: %s\n", row)
	if row.AllRenewed == 0 || row.Twice > 0 || row.WrongSum > 0 {
		return row, fmt.Errorf("%s", row)
	}
	return row, nil
}

// turnOnAutoRenew hands each user's workflow the update the bot's
// "auto-renew" button hands it, 32 at a time, and checks the database
// took every one.
func (s *system) turnOnAutoRenew(ctx context.Context, users []*user, out io.Writer) error {
	cfg := s.stack.Config
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	var done atomic.Int64
	for _, u := range users {
		g.Go(func() error {
			err := shop.HandOverSubscriptionUpdate(gctx, s.temporal, cfg.TaskQueue, shop.Policy{}, u.id, false,
				"bench-autorenew-"+strconv.FormatInt(u.id, 10), shop.UpdateSetAutoRenew, shop.AutoRenewRequest{On: true})
			if err != nil {
				return err
			}
			if m := done.Add(1); m%500 == 0 {
				fmt.Fprintf(out, "bench: auto-renewal storm: auto-renew on for %d of %d\n", m, len(users))
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("turn auto-renew on: %w", err)
	}
	ids := userIDs(users)
	for deadline := time.Now().Add(2 * time.Minute); ; sleep(ctx, time.Second) {
		var on int
		err := s.pool.QueryRow(ctx, `SELECT count(*) FROM subscriptions WHERE user_id = ANY($1) AND auto_renew`, ids).Scan(&on)
		if err == nil && on == len(ids) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("auto-renew on for %d of %d users after 2 minutes (last error: %v)", on, len(ids), err)
		}
	}
}

// planPrice is what user paid for their plan: what its renewal charges.
func (s *system) planPrice(ctx context.Context, userID int64) (int64, error) {
	var amount int64
	err := s.pool.QueryRow(ctx, `SELECT amount FROM purchases WHERE user_id = $1 AND status = 'paid' ORDER BY created_at LIMIT 1`, userID).Scan(&amount)
	if err != nil {
		return 0, fmt.Errorf("price of user %d's plan: %w", userID, err)
	}
	return amount, nil
}
