package chaos

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	faketg "vpnflow/internal/dev/fake/telegram"
	"vpnflow/internal/dev/stack"
)

// The seed scenario replays the predecessor's own incident
// (../shared/legacy-freeze-audit.md): every periodic job waking at once
// while Xray hangs, the database is slow and Telegram answers slowly. The
// predecessor froze within minutes of that; vpnflow must keep answering
// users, notice the hang, tell the admins, hold no transaction open across
// the slowness, and heal with nothing lost once the faults stop.

// SeedOptions configures RunSeed.
type SeedOptions struct {
	Duration      time.Duration // how long the faults last; default 10 min
	Seed          uint64        // seeds the users' choices; 0 takes the clock's
	PurchaseEvery time.Duration // a new paying user this often; default 2 s
	Browsers      int           // users clicking through menus at once; default 4
	DBDelay       time.Duration // added per chunk and direction between the shop and PostgreSQL; default 10 ms
	TelegramDelay time.Duration // before every Bot API answer; default 1.5 s
	FireEvery     time.Duration // every Schedule triggered at the same instant this often; default 1 min
	// AnswerTimesPrinted prints the bot's answer percentiles without
	// holding them to seedAnswerP99: the short run in `make test` shares
	// a noisy machine with other tests, and timing bounds belong to the
	// full scenario, not to a unit of the test suite.
	AnswerTimesPrinted bool
	Dir                string
	Out                io.Writer
	ProgressEvery      time.Duration
}

func (o *SeedOptions) defaults() {
	if o.Duration == 0 {
		o.Duration = 10 * time.Minute
	}
	if o.Seed == 0 {
		o.Seed = uint64(time.Now().UnixNano())
	}
	if o.PurchaseEvery == 0 {
		o.PurchaseEvery = 2 * time.Second
	}
	if o.Browsers == 0 {
		o.Browsers = 4
	}
	if o.DBDelay == 0 {
		// About 20 ms a round trip: a hundred times a local one, a
		// database under heavy load.
		o.DBDelay = 10 * time.Millisecond
	}
	if o.TelegramDelay == 0 {
		o.TelegramDelay = 1500 * time.Millisecond
	}
	if o.FireEvery == 0 {
		o.FireEvery = time.Minute
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.ProgressEvery == 0 {
		o.ProgressEvery = 15 * time.Second
	}
}

// seedConfig is the shop's configuration for the scenario on top of
// shopConfig: production's intervals for the health check, so that
// detection is measured as an operator would get it.
var seedConfig = map[string]string{"HEALTH_CHECK_INTERVAL": "30s"}

// RunSeed brings the shop up, injects every fault at once for
// opts.Duration while users keep buying and clicking, lifts the faults,
// audits, and prints the report.
func RunSeed(ctx context.Context, opts SeedOptions) (*SeedReport, error) {
	opts.defaults()
	out := &syncWriter{w: opts.Out}
	fmt.Fprintf(out, "chaos-seed: seed %d, faults for %s: Xray hung, PostgreSQL +%s per chunk each way, Telegram +%s per call, every Schedule fired together every %s\n",
		opts.Seed, opts.Duration, opts.DBDelay, opts.TelegramDelay, opts.FireEvery)
	// The watch reads the worker's /healthz and /metrics, so its port is
	// fixed in advance rather than left to the worker to pick.
	port, err := stack.FreePort()
	if err != nil {
		return nil, err
	}
	env := maps.Clone(seedConfig)
	env["WORKER_METRICS_ADDR"] = fmt.Sprintf("127.0.0.1:%d", port)
	sys, err := startSystem(ctx, opts.Dir, out, env, true)
	if err != nil {
		return nil, err
	}
	defer sys.stop()
	d := &driver{tg: sys.stack.Telegram, cp: sys.stack.CryptoPay, limit: opts.Duration + 10*time.Minute}
	if err := d.startAdmin(ctx); err != nil {
		return nil, err
	}
	r := &SeedReport{Seed: opts.Seed, Options: opts}
	start := time.Now()
	answersBefore, err := sys.botAnswers(ctx)
	if err != nil {
		return nil, err
	}

	w := newSeedWatch(sys, d.admin.id)
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	watchDone := make(chan struct{})
	go func() { w.run(watchCtx); close(watchDone) }()

	// The first firing together must find every Schedule.
	if err := sys.schedulesCreated(ctx, time.Minute); err != nil {
		stopWatch()
		return nil, err
	}

	// The faults, all at once.
	xrayPid := sys.stack.Xray.Pid()
	if err := syscall.Kill(xrayPid, syscall.SIGSTOP); err != nil {
		stopWatch()
		return nil, fmt.Errorf("hang xray: %w", err)
	}
	faultsFrom := time.Now()
	w.faultsFrom.Store(faultsFrom.UnixNano())
	sys.dbProxy.SetDelay(opts.DBDelay)
	sys.stack.Telegram.SetLatency(opts.TelegramDelay)
	fmt.Fprintf(out, "[%4.0fs] faults on\n", time.Since(start).Seconds())

	faultCtx, endFaults := context.WithTimeout(ctx, opts.Duration)
	defer endFaults()
	var fires fireRounds
	var g errgroup.Group
	g.Go(func() error { sys.fireTogether(faultCtx, opts.FireEvery, &fires, out); return nil })

	var (
		mu       sync.Mutex
		users    []*user
		browsing atomic.Int64
		inFlight sync.WaitGroup
	)
	rng := rand.New(rand.NewPCG(opts.Seed, 0x5eed))
	g.Go(func() error {
		t := time.NewTicker(opts.PurchaseEvery)
		defer t.Stop()
		for n := 1; ; n++ {
			select {
			case <-faultCtx.Done():
				return nil
			case <-t.C:
			}
			u := &user{n: n, kind: kindFor(rng)}
			mu.Lock()
			users = append(users, u)
			mu.Unlock()
			inFlight.Add(1)
			go func() {
				defer inFlight.Done()
				d.run(ctx, u, rand.New(rand.NewPCG(opts.Seed, uint64(u.n)<<8|1)))
			}()
		}
	})
	for b := range opts.Browsers {
		g.Go(func() error {
			for n := 0; faultCtx.Err() == nil; n++ {
				u := &user{n: 2_000_000 + b*100_000 + n}
				if d.browse(faultCtx, u) == nil {
					browsing.Add(1)
				}
			}
			return nil
		})
	}

	tick := time.NewTicker(opts.ProgressEvery)
	defer tick.Stop()
progress:
	for {
		select {
		case <-tick.C:
			mu.Lock()
			started := len(users)
			mu.Unlock()
			fmt.Fprintf(out, "[%4.0fs] faults on: %d purchases started, %d menu walks done, schedules fired together %d×; %s\n",
				time.Since(start).Seconds(), started, browsing.Load(), fires.done(), w.status())
		case <-faultCtx.Done():
			break progress
		}
	}
	_ = g.Wait()

	// Faults off. Bot answers are measured over the fault window only.
	answersAfter, err := sys.botAnswers(ctx)
	if err != nil {
		fmt.Fprintf(out, "  bot metrics after the faults: %v\n", err)
	}
	r.Answers = answersAfter.since(answersBefore)
	if err := syscall.Kill(xrayPid, syscall.SIGCONT); err != nil {
		return nil, fmt.Errorf("resume xray: %w", err)
	}
	sys.dbProxy.SetDelay(0)
	sys.stack.Telegram.SetLatency(0)
	healed := time.Now()
	w.healedAt.Store(healed.UnixNano())
	r.Faults = healed.Sub(faultsFrom)
	r.Fires = fires.done()
	r.Triggers, r.TriggersFailed = fires.triggers, fires.failed
	r.Walks = int(browsing.Load())
	fmt.Fprintf(out, "[%4.0fs] faults off after %s; waiting for the shop to heal\n", time.Since(start).Seconds(), r.Faults.Round(time.Second))

	probe := &user{n: 1_000_000, kind: KindTrial, probe: true}
	d.run(ctx, probe, rand.New(rand.NewPCG(opts.Seed, 7)))
	r.Probe = probe
	fmt.Fprintf(out, "[%4.0fs] a new user's trial key after %s (err %v); waiting for %d purchases to finish\n",
		time.Since(start).Seconds(), probe.took.Round(100*time.Millisecond), probe.err, len(users))
	inFlight.Wait()
	r.Drained = time.Since(healed)
	r.AdminUp = w.waitAdminUp(ctx, 3*time.Minute)
	stopWatch()
	<-watchDone
	r.Watch = w.result()
	r.Users = append(users, probe)
	fmt.Fprintf(out, "[%4.0fs] every purchase finished %s after the faults; reconciling and auditing\n",
		time.Since(start).Seconds(), r.Drained.Round(time.Second))
	r.Checks = sys.settleAndAudit(ctx, r.Users, nil, out)
	r.Checks = append(r.Checks, r.seedChecks()...)
	r.Elapsed = time.Since(start)
	r.Print(out)
	return r, nil
}

// browse is a user who looks around without paying: /start, Buy, a plan.
// Each step waits for the bot's answer, so the walks measure the bot from
// the outside too.
func (d *driver) browse(ctx context.Context, u *user) error {
	acc, err := d.tg.AddUser(faketg.User{FirstName: fmt.Sprintf("Browser-%d", u.n), LanguageCode: "en"})
	if err != nil {
		return err
	}
	u.id = acc.ID
	if err := d.retry(ctx, u, func() error { _, err := d.tg.SendText(u.id, "/start"); return err }, hasButton("Buy")); err != nil {
		return err
	}
	if err := d.pressUntil(ctx, u, "Buy", hasButton("30 days")); err != nil {
		return err
	}
	return d.pressUntil(ctx, u, "30 days", hasButton("Crypto"))
}
