// Package chaos is vpnflow's chaos suite: it drives purchases through the
// Telegram and Crypto Pay stand-ins as users would, while it kills,
// restarts and freezes the real components underneath, and then audits
// that no money, key or message was lost or doubled.
//
// The shop runs as in production: PostgreSQL (durable), the Temporal dev
// server on a SQLite file, Xray-core, and the worker and bot built from
// ./worker and ./bot and run as processes. The faults are described at
// Fault; what is audited at (*system).audit. Recovery after a fault is the
// time from the fault's end until a new user taking the free trial holds a
// key (see injection).
//
// `make chaos` runs the full suite (1,000 purchases); TestChaosSmoke runs
// about 100 with every fault once, in `make test`.
package chaos

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/client"

	"vpnflow/internal/schedules"
	"vpnflow/internal/shop"
	"vpnflow/workflows"
)

// Options configures Run.
type Options struct {
	Purchases   int           // driven users, one purchase flow each; default 1000
	Seed        uint64        // seeds the users' choices and the faults; 0 takes the clock's (printed)
	Duration    time.Duration // stop starting new flows after this; 0: run all Purchases
	Concurrency int           // flows in flight; default 16 (Temporal's dev server takes ~22 starts/s on 2 cores)
	// FlowLimit bounds one user's whole flow; a flow still unfinished then
	// is a violation reported with its chat. Default 12 minutes.
	FlowLimit time.Duration
	Faults    []Fault // default AllFaults; empty non-nil: none
	// FaultGap is the pause between one fault's recovery and the next
	// fault; FaultHold how long a freeze or hang lasts (30–120 s by default).
	FaultGap, FaultHold [2]time.Duration
	Dir                 string    // state and logs
	Out                 io.Writer // progress and the report
	ProgressEvery       time.Duration
}

func (o *Options) defaults() {
	if o.Purchases == 0 {
		o.Purchases = 1000
	}
	if o.Seed == 0 {
		o.Seed = uint64(time.Now().UnixNano())
	}
	if o.Concurrency == 0 {
		o.Concurrency = 16
	}
	if o.Faults == nil {
		o.Faults = AllFaults
	}
	if o.FaultGap == [2]time.Duration{} {
		o.FaultGap = [2]time.Duration{5 * time.Second, 20 * time.Second}
	}
	if o.FaultHold == [2]time.Duration{} {
		o.FaultHold = [2]time.Duration{30 * time.Second, 120 * time.Second}
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.ProgressEvery == 0 {
		o.ProgressEvery = 10 * time.Second
	}
}

// readyLimit bounds the wait for a restarted bot's /readyz.
const readyLimit = 2 * time.Minute

// Report is a finished run.
type Report struct {
	Seed       uint64
	Elapsed    time.Duration
	Users      []*user
	Injections []injection
	Checks     []Check
}

// OK reports whether every check passed.
func (r *Report) OK() bool { return allOK(r.Checks) }

// Run brings the shop up, drives the purchases while injecting faults,
// audits, prints the report to opts.Out and returns it. The error is for a
// run that could not be carried out; violations are in the report.
func Run(ctx context.Context, opts Options) (*Report, error) {
	opts.defaults()
	out := &syncWriter{w: opts.Out}
	fmt.Fprintf(out, "chaos: seed %d (repeat with -seed %d), %d purchases, concurrency %d, faults %v\n",
		opts.Seed, opts.Seed, opts.Purchases, opts.Concurrency, opts.Faults)
	sys, err := startSystem(ctx, opts.Dir, out, nil, false)
	if err != nil {
		return nil, err
	}
	defer sys.stop()
	r := &Report{Seed: opts.Seed}
	start := time.Now()
	d := &driver{tg: sys.stack.Telegram, cp: sys.stack.CryptoPay, limit: opts.FlowLimit}
	if err := d.startAdmin(ctx); err != nil {
		return nil, err
	}

	users := make([]*user, opts.Purchases)
	for i := range users {
		users[i] = &user{n: i + 1, kind: kindFor(rand.New(rand.NewPCG(opts.Seed, uint64(i))))}
	}
	var finished, failedN atomic.Int64
	driveCtx, stopDriving := context.WithCancel(ctx)
	defer stopDriving()
	if opts.Duration > 0 {
		var cancel context.CancelFunc
		driveCtx, cancel = context.WithTimeout(driveCtx, opts.Duration)
		defer cancel()
	}
	next := make(chan *user)
	var wg sync.WaitGroup
	for range opts.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range next {
				d.run(ctx, u, rand.New(rand.NewPCG(opts.Seed, uint64(u.n)<<8|1)))
				finished.Add(1)
				if u.err != nil {
					failedN.Add(1)
				}
			}
		}()
	}
	driven := 0
	go func() {
		defer close(next)
		for _, u := range users {
			select {
			case next <- u:
				driven++
			case <-driveCtx.Done():
				return
			}
		}
	}()
	drivingDone := make(chan struct{})
	go func() { wg.Wait(); close(drivingDone) }()

	inj := &injector{sys: sys, d: d, start: start, out: out, plan: &faultPlan{
		rng: rand.New(rand.NewPCG(opts.Seed, 0xfa017)), set: opts.Faults,
		gapMin: opts.FaultGap[0], gapMax: opts.FaultGap[1], holdMin: opts.FaultHold[0], holdMax: opts.FaultHold[1],
	}}
	injDone := make(chan struct{})
	go func() { inj.run(ctx, drivingDone); close(injDone) }()

	tick := time.NewTicker(opts.ProgressEvery)
	defer tick.Stop()
	// A received channel is set to nil, so its closed state is not
	// selected again.
	for drv, ij := drivingDone, injDone; drv != nil || ij != nil; {
		select {
		case <-tick.C:
			fmt.Fprintf(out, "[%4.0fs] purchases done %d/%d (failed %d), faults injected %d%s\n",
				time.Since(start).Seconds(), finished.Load(), opts.Purchases, failedN.Load(), inj.count(), inj.current())
		case <-drv:
			drv = nil
		case <-ij:
			ij = nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	<-drivingDone
	<-injDone
	r.Users = users[:driven]
	r.Users = append(r.Users, inj.probes...)
	r.Injections = inj.done
	fmt.Fprintf(out, "[%4.0fs] driving finished; reconciling and auditing\n", time.Since(start).Seconds())
	r.Checks = sys.settleAndAudit(ctx, r.Users, r.Injections, out)
	r.Checks = append(r.Checks, checkRecovery(r.Injections))
	r.Elapsed = time.Since(start)
	r.Print(out)
	return r, nil
}

// kindFor picks a flow: 40% Crypto Pay, 25% Stars, 15% balance, 20% trial.
func kindFor(rng *rand.Rand) Kind {
	switch r := rng.IntN(100); {
	case r < 40:
		return KindCrypto
	case r < 65:
		return KindStars
	case r < 80:
		return KindBalance
	}
	return KindTrial
}

// settleAndAudit gives the shop the chance to converge (a reconcile run,
// workflows finishing) and audits; a failing audit is retried for a while,
// since convergence after the last fault takes some seconds. While a
// charge has no credit, it runs the payments sweep, as its schedule
// would within minutes: a Stars payment whose update a killed bot had
// taken from Telegram but not handled is known only to Telegram's list
// until then.
func (s *system) settleAndAudit(ctx context.Context, users []*user, injs []injection, out io.Writer) []Check {
	if err := s.reconcileNow(ctx); err != nil {
		fmt.Fprintf(out, "  reconcile: %v (auditing anyway)\n", err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		checks := s.audit(ctx, users, injs)
		settled := true
		for _, c := range checks {
			settled = settled && (c.OK() || !c.converges)
		}
		if settled || time.Now().After(deadline) {
			return checks
		}
		for _, c := range checks {
			if c.Name == chargesCheck && !c.OK() {
				res, err := s.sweepNow(ctx)
				fmt.Fprintf(out, "  payments sweep: %+v %v\n", res, errOrEmpty(err))
			}
		}
		sleep(ctx, 5*time.Second)
	}
}

// sweepNow runs one payments sweep, as its schedule does, but hands over
// Stars charges left unhandled for a second rather than five minutes.
func (s *system) sweepNow(ctx context.Context) (workflows.PaymentsSweepResult, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var res workflows.PaymentsSweepResult
	run, err := s.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:        fmt.Sprintf("chaos-payments-sweep-%d", time.Now().UnixNano()),
		TaskQueue: shop.OpsQueue(s.stack.Config.TaskQueue),
	}, schedules.PaymentsSweepWorkflowType, schedules.PaymentsSweepInput{StarGrace: time.Second})
	if err != nil {
		return res, fmt.Errorf("start the payments sweep: %w", err)
	}
	if err := run.Get(ctx, &res); err != nil {
		return res, fmt.Errorf("payments sweep: %w", err)
	}
	return res, nil
}

func errOrEmpty(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// reconcileNow triggers the reconcile schedule, as `starter reconcile`
// does, and waits for that run to finish.
func (s *system) reconcileNow(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	since := time.Now().Add(-time.Second).UTC().Format(time.RFC3339)
	if err := schedules.TriggerNow(ctx, s.temporal, schedules.ReconcileID); err != nil {
		return err
	}
	query := fmt.Sprintf("WorkflowType = '%s' AND StartTime > '%s' AND ExecutionStatus != 'Running'", schedules.ReconcileWorkflowType, since)
	for {
		ids, err := s.listWorkflows(ctx, s.stack.Config.TemporalNamespace, query)
		if err == nil && len(ids) > 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("reconcile did not finish: %w", ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// syncWriter serialises the progress lines of the driver, the injector and
// the audit.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
