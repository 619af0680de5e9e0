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
	if err := tools(ctx); err != nil {
		return err
	}
	if err = os.MkdirAll(chaosDir, 0o755); err != nil {
		return err
	}
	dir, err := os.MkdirTemp(chaosDir, "run-"+time.Now().UTC().Format("20060102-150405")+"-")
	if err != nil {
		return err
	}
	if opts.Dir, err = filepath.Abs(dir); err != nil {
		return err
	}
	// PostgreSQL runs as its own user and must be able to enter the dir.
	_ = os.Chmod(opts.Dir, 0o755)
	fmt.Printf("chaos: state and logs in %s\n", opts.Dir)
	r, err := chaos.Run(ctx, opts)
	if err != nil {
		return err
	}
	if !r.OK() {
		return errors.New("chaos audit failed")
	}
	return nil
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
