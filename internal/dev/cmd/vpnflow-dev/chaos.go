package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"vpnflow/internal/dev/chaos"
)

// chaosDir is the git-ignored state directory of `make chaos`; each run
// gets a fresh subdirectory, kept for its logs.
const chaosDir = ".chaos"

// runChaos runs the chaos suite: flags first, then CHAOS_* variables, then
// the defaults (1,000 purchases, a clock seed, every fault).
func runChaos(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	purchases := fs.Int("purchases", envInt("CHAOS_PURCHASES", 1000), "purchases to drive (env CHAOS_PURCHASES)")
	seed := fs.Uint64("seed", uint64(envInt("CHAOS_SEED", 0)), "seed of the users' choices and the faults; 0 picks one (env CHAOS_SEED)")
	duration := fs.Duration("duration", envDuration("CHAOS_DURATION", 0), "stop starting purchases after this; 0 runs them all (env CHAOS_DURATION)")
	concurrency := fs.Int("concurrency", envInt("CHAOS_CONCURRENCY", 16), "purchases in flight (env CHAOS_CONCURRENCY)")
	faults := fs.String("faults", envString("CHAOS_FAULTS", "all"), "comma-separated faults, \"all\" or \"none\" (env CHAOS_FAULTS)")
	hold := fs.String("hold", envString("CHAOS_HOLD", "30s,120s"), "how long Xray stays frozen and Telegram hung: min,max (env CHAOS_HOLD)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	opts := chaos.Options{
		Purchases: *purchases, Seed: *seed, Duration: *duration, Concurrency: *concurrency, Out: os.Stdout,
	}
	lo, hi, ok := strings.Cut(*hold, ",")
	var err error
	if opts.FaultHold[0], err = time.ParseDuration(lo); err != nil || !ok {
		return fmt.Errorf("-hold %q: want min,max such as 30s,120s", *hold)
	}
	if opts.FaultHold[1], err = time.ParseDuration(hi); err != nil || opts.FaultHold[1] < opts.FaultHold[0] {
		return fmt.Errorf("-hold %q: want min,max such as 30s,120s", *hold)
	}
	if *faults == "none" {
		opts.Faults = []chaos.Fault{}
	} else {
		fl, err := chaos.ParseFaults(strings.Split(*faults, ","))
		if err != nil {
			return err
		}
		opts.Faults = fl
	}
	if opts.Dir, err = chaosRunDir(ctx, "run"); err != nil {
		return err
	}
	r, err := chaos.Run(ctx, opts)
	if err != nil {
		return err
	}
	if !r.OK() {
		return errors.New("chaos audit failed")
	}
	return nil
}

// runChaosSeed runs the seed scenario: the predecessor's incident
// replayed, 10 minutes of faults by default, 60 with -long.
func runChaosSeed(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("chaos-seed", flag.ContinueOnError)
	long := fs.Bool("long", false, "hold the faults for 60 minutes instead of 10")
	duration := fs.Duration("duration", envDuration("CHAOS_SEED_DURATION", 10*time.Minute), "how long the faults last (env CHAOS_SEED_DURATION)")
	seed := fs.Uint64("seed", uint64(envInt("CHAOS_SEED", 0)), "seed of the users' choices; 0 picks one (env CHAOS_SEED)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	opts := chaos.SeedOptions{Duration: *duration, Seed: *seed, Out: os.Stdout}
	if *long {
		opts.Duration = time.Hour
	}
	var err error
	if opts.Dir, err = chaosRunDir(ctx, "seed"); err != nil {
		return err
	}
	r, err := chaos.RunSeed(ctx, opts)
	if err != nil {
		return err
	}
	if !r.OK() {
		return errors.New("chaos-seed failed")
	}
	return nil
}

// runBench runs the benchmarks and prints their table.
func runBench(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	purchases := fs.Int("purchases", envInt("BENCH_PURCHASES", 300), "purchases per pipeline case; -1 skips those cases (env BENCH_PURCHASES)")
	concurrency := fs.Int("concurrency", envInt("BENCH_CONCURRENCY", 32), "payments in flight at saturation (env BENCH_CONCURRENCY)")
	bare := fs.Duration("bare", envDuration("BENCH_BARE", 20*time.Second), "how long the bare-workflow case runs (env BENCH_BARE)")
	storm := fs.Int("storm", envInt("BENCH_STORM", 1000), "subscriptions expiring at the same second; -1 skips (env BENCH_STORM)")
	workers := fs.Int("workers", envInt("BENCH_WORKERS", 150), "purchases on each side of the two-workers case; -1 skips (env BENCH_WORKERS)")
	pairs := fs.Int("pairs", envInt("BENCH_PAIRS", 3), "interleaved pairs of the pipeline and the minimal one; -1 skips (env BENCH_PAIRS)")
	broadcast := fs.Int("broadcast", envInt("BENCH_BROADCAST", 2000), "users seeded for the broadcast burst; -1 skips (env BENCH_BROADCAST)")
	reconcile := fs.Int("reconcile", envInt("BENCH_RECONCILE", 100_000), "live subscriptions seeded for the reconcile case; -1 skips (env BENCH_RECONCILE)")
	failover := fs.Int("failover", envInt("BENCH_FAILOVER", 1000), "users on a node that is stopped and failed over; -1 skips (env BENCH_FAILOVER)")
	autoRenew := fs.Int("autorenew", envInt("BENCH_AUTORENEW", 1000), "paying users whose auto-renewals fall due at the same second; -1 skips (env BENCH_AUTORENEW)")
	temporalDown := fs.Int("temporal-down", envInt("BENCH_TEMPORAL_DOWN", 20), "seconds the Temporal server stays killed while users walk the menus; -1 skips (env BENCH_TEMPORAL_DOWN)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	opts := chaos.BenchOptions{
		Purchases: *purchases, Concurrency: *concurrency, BareFor: *bare, Storm: *storm, Workers: *workers, Pairs: *pairs,
		Broadcast: *broadcast, Reconcile: *reconcile, Failover: *failover, AutoRenew: *autoRenew,
		TemporalDown: time.Duration(*temporalDown) * time.Second, Out: os.Stdout,
	}
	var err error
	if opts.Dir, err = chaosRunDir(ctx, "bench"); err != nil {
		return err
	}
	_, err = chaos.RunBench(ctx, opts)
	return err
}

// chaosRunDir builds the tools and makes a fresh directory under .chaos
// for one run's state and logs.
func chaosRunDir(ctx context.Context, kind string) (string, error) {
	if err := tools(ctx); err != nil {
		return "", err
	}
	if err := os.MkdirAll(chaosDir, 0o755); err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp(chaosDir, kind+"-"+time.Now().UTC().Format("20060102-150405")+"-")
	if err != nil {
		return "", err
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return "", err
	}
	// PostgreSQL runs as its own user and must be able to enter the dir.
	_ = os.Chmod(dir, 0o755)
	fmt.Printf("%s: state and logs in %s\n", kind, dir)
	return dir, nil
}

func envString(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return n
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(name)); err == nil {
		return d
	}
	return def
}
