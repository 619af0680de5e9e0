package chaos

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	fakecp "vpnflow/internal/dev/fake/cryptopay"
	"vpnflow/internal/dev/stack"
)

// The benchmarks drive the shop as the chaos suite does, from outside,
// through the stand-ins, with the worker and the bot running as their own
// processes, and print figures; they assert nothing about speed. Ratios
// are taken within one run, because the machines are noisy.

// BenchOptions configures RunBench.
type BenchOptions struct {
	Purchases   int           // purchases per pipeline case; default 300, -1 skips the pipeline cases
	Concurrency int           // payments in flight at saturation; default 32
	BareFor     time.Duration // how long the bare-workflow case runs; default 20 s
	Storm       int           // subscriptions expiring at the same second; default 1,000, -1 skips the case
	Workers     int           // purchases on each side of the two-workers case; default 150, -1 skips it
	Pairs       int           // interleaved pairs of the pipeline and the minimal one; default 3, -1 skips them
	Broadcast   int           // users seeded for the broadcast burst; default 2,000, -1 skips the case
	Reconcile   int           // live subscriptions seeded for the reconcile case; default 100,000, -1 skips it
	Failover    int           // users on a node that is stopped and failed over; default 1,000, -1 skips the case
	AutoRenew   int           // paying users whose auto-renewals fall due at the same second; default 1,000, -1 skips the case
	// TemporalDown is how long the Temporal server stays killed while
	// users walk the menus; default 20 s, negative skips the case.
	TemporalDown time.Duration
	Dir          string
	Out          io.Writer
}

func (o *BenchOptions) defaults() {
	if o.Purchases == 0 {
		o.Purchases = 300
	}
	if o.Concurrency == 0 {
		o.Concurrency = 32
	}
	if o.BareFor == 0 {
		o.BareFor = 20 * time.Second
	}
	if o.Storm == 0 {
		o.Storm = 1000
	}
	if o.AutoRenew == 0 {
		o.AutoRenew = 1000
	}
	if o.Workers == 0 {
		o.Workers = 150
	}
	if o.Pairs == 0 {
		o.Pairs = 3
	}
	if o.Broadcast == 0 {
		o.Broadcast = 2000
	}
	if o.Reconcile == 0 {
		o.Reconcile = 100_000
	}
	if o.Failover == 0 {
		o.Failover = 1000
	}
	if o.TemporalDown == 0 {
		o.TemporalDown = 20 * time.Second
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
}

// BenchRow is one case's figures.
type BenchRow struct {
	Case       string
	Offered    float64 // per second; 0 for a closed loop at the given concurrency
	Done       int
	PerSecond  float64
	P50, P95   time.Duration
	P99        time.Duration
	Lost, Dup  int     // purchases without a key after the wait; with more than one key
	ServerCPU  float64 // cores the Temporal server used on average
	WorkerCPU  float64 // cores the worker used on average
	Events     float64 // history events per purchase (purchase + the user's subscription), or per bare workflow
	Concurrent int
}

// BenchReport is a finished benchmark run.
type BenchReport struct {
	Rows    []BenchRow
	Ratio   float64 // pipeline at saturation ÷ bare workflows, per second
	Storm   *StormRow
	Workers *WorkersRow
	// Pairs are the interleaved pairs of the pipeline and the minimal one.
	Pairs []PairRow
	// Broadcast and Reconcile are nil when their case was skipped.
	Broadcast *BroadcastRow
	Reconcile *ReconcileRow
	Failover  *FailoverRow
	AutoRenew *AutoRenewRow
	// TemporalDown is nil when its case was skipped.
	TemporalDown *TemporalDownRow
	// Answers are the bot's first answers to users clicking through the
	// menus while the pipeline saturated the server.
	Answers answerSnapshot
}

// RunBench starts the shop and runs the cases: the broadcast burst, the
// purchase pipeline at saturation and at half of it and a bare workflow
// of three no-op activities on the same server, the expiry storm, and the
// reconciliation of seeded users; then prints the table.
func RunBench(ctx context.Context, opts BenchOptions) (*BenchReport, error) {
	opts.defaults()
	out := &syncWriter{w: opts.Out}
	// The storm, the two-workers and the reconcile cases read the worker's
	// /metrics and /healthz, so its port is fixed in advance.
	port, err := stack.FreePort()
	if err != nil {
		return nil, err
	}
	env := map[string]string{
		"LOG_LEVEL": "warn", "WORKER_METRICS_ADDR": fmt.Sprintf("127.0.0.1:%d", port),
		// The production default, not the chaos suite's 3 s: each poll is
		// an activity of the Purchase, and hundreds of invoices prepared
		// for a case and polled every 3 s would load the server the
		// pipeline is measured on with work production does not do.
		"CRYPTOPAY_POLL_INTERVAL": "30s",
		// The production reminder stages, without the sandbox's last
		// one-minute reminder, which would fall into a storm's setup.
		"REMINDERS_PAID": "72h,24h,1h", "REMINDERS_TRIAL": "24h,1h",
	}
	if opts.Failover > 0 {
		// The failover case's clocks: a node is failed over within about
		// 40 s of its stop rather than the production 3-4 minutes.
		env["NODE_FAILOVER_AFTER"] = failoverBenchAfter.String()
		env["HEALTH_CHECK_INTERVAL"] = failoverBenchHealth.String()
	}
	sys, err := startSystem(ctx, opts.Dir, out, env, false)
	if err != nil {
		return nil, err
	}
	defer sys.stop()
	d := &driver{tg: sys.stack.Telegram, cp: sys.stack.CryptoPay, progress: out}
	if err := d.startAdmin(ctx); err != nil {
		return nil, err
	}
	r := &BenchReport{}
	// The broadcast goes to every user: first, it reaches the seeded ones
	// and the admin only.
	if opts.Broadcast > 0 {
		b, err := sys.broadcastCase(ctx, d, opts.Broadcast, out)
		if err != nil {
			return nil, fmt.Errorf("broadcast burst: %w", err)
		}
		r.Broadcast = &b
	}
	if opts.Purchases > 0 {
		if err := sys.pipelineCases(ctx, d, opts, r, out); err != nil {
			return nil, err
		}
	}
	if opts.Workers > 0 {
		if r.Workers, err = sys.workersCase(ctx, d, opts.Workers, opts.Concurrency, out); err != nil {
			return nil, fmt.Errorf("two workers: %w", err)
		}
	}
	if opts.Storm > 0 {
		storm, err := sys.expiryStorm(ctx, d, opts.Storm, out)
		if err != nil {
			return nil, fmt.Errorf("expiry storm: %w", err)
		}
		r.Storm = &storm
	}
	if opts.AutoRenew > 0 {
		ar, err := sys.autoRenewStorm(ctx, d, opts.AutoRenew, out)
		if err != nil {
			return nil, fmt.Errorf("auto-renewal storm: %w", err)
		}
		r.AutoRenew = &ar
	}
	if opts.Failover > 0 {
		fo, err := sys.failoverCase(ctx, d, opts.Failover, opts.Dir, out)
		if err != nil {
			return nil, fmt.Errorf("failover: %w", err)
		}
		r.Failover = &fo
	}
	if opts.TemporalDown > 0 {
		fmt.Fprintf(out, "bench: Temporal killed for %s while users walk the menus\n", opts.TemporalDown)
		down, err := sys.temporalDownCase(ctx, d, opts.TemporalDown)
		if err != nil {
			return nil, fmt.Errorf("temporal down: %w", err)
		}
		r.TemporalDown = &down
	}
	// Last: its users stay, a hundred thousand by default.
	if opts.Reconcile > 0 {
		rec, err := sys.reconcileCase(ctx, opts.Reconcile, out)
		if err != nil {
			return nil, fmt.Errorf("reconcile: %w", err)
		}
		r.Reconcile = &rec
	}
	r.Print(out)
	return r, nil
}

// Users browsing the menus while the pipeline saturates the server, for
// the bot's first answers under load: each walks from /start to the
// payment choice (three updates) once every browseEvery, as people click.
// Walking without a pause, four of them sent the bot 250 updates a second
// and took the CPU the pipeline was to saturate the server with (6.5
// purchases/s, the server at 0.68 cores, against 15-17/s in the pairs).
const (
	benchBrowsers = 4
	browseEvery   = time.Second
)

// browseMeanwhile starts benchBrowsers users (numbered from base) walking
// the menus, one walk every browseEvery each, until ctx ends; the function
// it returns waits for them.
func browseMeanwhile(ctx context.Context, d *driver, base int) (wait func()) {
	var wg sync.WaitGroup
	for b := range benchBrowsers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(browseEvery)
			defer tick.Stop()
			for n := 0; ctx.Err() == nil; n++ {
				_ = d.browse(ctx, &user{n: base + b*100_000 + n})
				select {
				case <-tick.C:
				case <-ctx.Done():
				}
			}
		}()
	}
	return wg.Wait
}

// pipelineCases runs the purchase pipeline at saturation (users browsing
// the menus meanwhile), the bare workflow, and the pipeline at half load.
func (sys *system) pipelineCases(ctx context.Context, d *driver, opts BenchOptions, r *BenchReport, out io.Writer) error {
	fmt.Fprintf(out, "bench: preparing %d invoices for the saturation case\n", opts.Purchases)
	invs, err := d.prepareInvoices(ctx, opts.Purchases, 0)
	if err != nil {
		return err
	}
	// Users click through the menus meanwhile: the bot's first answers
	// while the pipeline saturates the server.
	before, err := sys.botAnswers(ctx)
	if err != nil {
		return err
	}
	browseCtx, stopBrowsing := context.WithCancel(ctx)
	browsed := browseMeanwhile(browseCtx, d, 5_000_000)
	sat := sys.measure(ctx, "pipeline at saturation", func() BenchRow {
		return d.payAll(ctx, invs, opts.Concurrency, 0)
	})
	stopBrowsing()
	browsed()
	if after, err := sys.botAnswers(ctx); err == nil {
		r.Answers = after.since(before)
	}
	sat.Events = sys.eventsPerPurchase(ctx, invs)
	r.Rows = append(r.Rows, sat)
	fmt.Fprintf(out, "bench: %s: %.1f/s\n", sat.Case, sat.PerSecond)

	bare, err := sys.runBare(ctx, opts.Concurrency, opts.BareFor)
	if err != nil {
		return err
	}
	r.Rows = append(r.Rows, bare)
	if bare.PerSecond > 0 {
		r.Ratio = sat.PerSecond / bare.PerSecond
	}
	fmt.Fprintf(out, "bench: %s: %.1f/s\n", bare.Case, bare.PerSecond)

	half := sat.PerSecond / 2
	fmt.Fprintf(out, "bench: preparing %d invoices for the half-load case (%.1f/s)\n", opts.Purchases, half)
	invs2, err := d.prepareInvoices(ctx, opts.Purchases, len(invs))
	if err != nil {
		return err
	}
	halfRow := sys.measure(ctx, "pipeline at half of saturation", func() BenchRow {
		return d.payAll(ctx, invs2, 0, half)
	})
	halfRow.Events = sys.eventsPerPurchase(ctx, invs2)
	r.Rows = append(r.Rows, halfRow)
	if opts.Pairs > 0 {
		return sys.pairCases(ctx, d, opts, len(invs)+len(invs2), r, out)
	}
	return nil
}

// benchInvoice is an open invoice of a driven user, ready to be paid.
type benchInvoice struct {
	user    *user
	invoice fakecp.Invoice
}

// prepareInvoices registers n users and opens a Crypto Pay invoice for
// each, untimed; first numbers the users after earlier ones.
func (d *driver) prepareInvoices(ctx context.Context, n, first int) ([]benchInvoice, error) {
	out := make([]benchInvoice, n)
	var opened atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i := range out {
		g.Go(func() error {
			u := &user{n: 3_000_000 + first + i, kind: KindCrypto}
			if err := d.startBenchUser(gctx, u); err != nil {
				return err
			}
			if err := d.toPlan(gctx, u); err != nil {
				return err
			}
			inv, err := d.openCryptoInvoice(gctx, u, "Crypto")
			if err != nil {
				return err
			}
			out[i] = benchInvoice{user: u, invoice: inv}
			d.step("invoices open", opened.Add(1), n)
			return nil
		})
	}
	return out, g.Wait()
}

// startBenchUser adds u to Telegram and sends /start until the menu shows.
func (d *driver) startBenchUser(ctx context.Context, u *user) error {
	acc, err := d.tg.AddUser(benchUser(u.n))
	if err != nil {
		return err
	}
	u.id = acc.ID
	return d.retry(ctx, u, func() error { _, err := d.tg.SendText(u.id, "/start"); return err }, hasButton("Buy"))
}

// keyWait bounds the wait for one key after its payment.
const keyWait = 2 * time.Minute

// payAll pays every invoice, a closed loop of concurrency payments in
// flight, or (rate > 0) an open loop at that rate, and times each payment
// to the key message in the chat.
func (d *driver) payAll(ctx context.Context, invs []benchInvoice, concurrency int, rate float64) BenchRow {
	lat := make([]time.Duration, len(invs))
	var lost, dup, paid atomic.Int64
	pay := func(i int) {
		inv := invs[i]
		start := time.Now()
		defer func() { d.step("invoices paid", paid.Add(1), len(invs)) }()
		if err := d.cp.Pay(inv.invoice.InvoiceID); err != nil {
			lost.Add(1)
			return
		}
		wctx, cancel := context.WithTimeout(ctx, keyWait)
		defer cancel()
		if _, err := d.tg.WaitForMessage(wctx, inv.user.id, isKey); err != nil {
			lost.Add(1)
			return
		}
		lat[i] = time.Since(start)
	}
	start := time.Now()
	var wg sync.WaitGroup
	if rate > 0 {
		every := time.Duration(float64(time.Second) / rate)
		for i := range invs {
			wg.Add(1)
			go func() { defer wg.Done(); pay(i) }()
			sleep(ctx, every)
		}
	} else {
		next := make(chan int)
		for range concurrency {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					pay(i)
				}
			}()
		}
		for i := range invs {
			next <- i
		}
		close(next)
	}
	wg.Wait()
	elapsed := time.Since(start)
	for _, inv := range invs {
		keys := 0
		for _, m := range d.tg.Messages(inv.user.id) {
			if isKey(m) {
				keys++
			}
		}
		if keys > 1 {
			dup.Add(1)
		}
	}
	row := latencyRow(lat, elapsed, int(lost.Load()), concurrency)
	row.Offered, row.Dup = rate, int(dup.Load())
	return row
}

// latencyRow is a case's row from the latency of each purchase (0: not
// completed) and the case's wall time.
func latencyRow(lat []time.Duration, elapsed time.Duration, lost, concurrency int) BenchRow {
	done := slices.DeleteFunc(slices.Clone(lat), func(l time.Duration) bool { return l == 0 })
	slices.Sort(done)
	row := BenchRow{Done: len(done), Lost: lost, Concurrent: concurrency}
	if len(done) > 0 {
		row.PerSecond = float64(len(done)) / elapsed.Seconds()
		row.P50, row.P95, row.P99 = pct(done, 0.50), pct(done, 0.95), pct(done, 0.99)
	}
	return row
}

// pct is the q-quantile of sorted durations.
func pct(sorted []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
