package chaos_test

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"vpnflow/internal/dev/chaos"
	"vpnflow/internal/dev/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestChaosSmoke is the short chaos run of `make test`: about 100
// purchases with every fault once, freezes and hangs scaled down to
// seconds, and the full audit. VPNFLOW_CHAOS_SEED repeats a run.
func TestChaosSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole shop")
	}
	var seed uint64
	if s := os.Getenv("VPNFLOW_CHAOS_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("VPNFLOW_CHAOS_SEED: %v", err)
		}
		seed = n
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	r, err := chaos.Run(ctx, chaos.Options{
		Purchases:     100,
		Seed:          seed,
		Concurrency:   12,
		FlowLimit:     4 * time.Minute, // a stuck flow is reported with its chat before the test's deadline
		FaultGap:      [2]time.Duration{time.Second, 3 * time.Second},
		FaultHold:     [2]time.Duration{3 * time.Second, 6 * time.Second},
		Dir:           testenv.Dir(t, "chaos"),
		Out:           testWriter{t, new(bytes.Buffer)},
		ProgressEvery: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() {
		t.Fatalf("chaos audit failed (seed %d); the report above lists the violations", r.Seed)
	}
}

// TestChaosSeedSmoke is the short seed scenario of `make test`: a minute
// of the predecessor's incident (every Schedule fired together, Xray hung,
// PostgreSQL and Telegram slowed), then healing and the full audit. `make
// chaos-seed` holds the faults for 10 minutes.
func TestChaosSeedSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole shop")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	r, err := chaos.RunSeed(ctx, chaos.SeedOptions{
		Duration:      70 * time.Second,
		PurchaseEvery: 3 * time.Second,
		Browsers:      3,
		FireEvery:     20 * time.Second,
		// `make chaos-seed` holds the answers to 200 ms; here they are
		// printed (a CI run on a loaded machine saw a message p99 of 256 ms).
		AnswerTimesPrinted: true,
		Dir:                testenv.Dir(t, "chaos-seed"),
		Out:                testWriter{t, new(bytes.Buffer)},
		ProgressEvery:      10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() {
		t.Fatalf("chaos-seed failed (seed %d); the report above lists the violations", r.Seed)
	}
}

// TestBenchSmoke runs the benchmarks on a handful of purchases: it shows
// the driver still works, and its figures mean nothing.
func TestBenchSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole shop")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r, err := chaos.RunBench(ctx, chaos.BenchOptions{
		// The expiry and auto-renewal storms wait at least the sandbox's
		// one-minute minimum expiry: too long for make test; make bench
		// runs them. The failover case waits out NODE_FAILOVER_AFTER on a
		// stopped node; the e2e tests cover a failover end to end.
		Purchases: 6, Concurrency: 3, BareFor: 2 * time.Second, Storm: -1, Workers: -1, Pairs: 1, Failover: -1, AutoRenew: -1,
		// A few seconds each; they fail the run themselves when a
		// recipient is missed or the drift is not repaired exactly.
		Broadcast: 50, Reconcile: 200,
		// Temporal killed for a few seconds: the reconcile case after it
		// shows the server came back.
		TemporalDown: 3 * time.Second,
		Dir:          testenv.Dir(t, "bench"), Out: testWriter{t, new(bytes.Buffer)},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range r.Rows {
		if row.Done == 0 || row.Lost != 0 || row.Dup != 0 {
			t.Errorf("%s: %d done, %d lost, %d duplicated", row.Case, row.Done, row.Lost, row.Dup)
		}
	}
	if r.Broadcast == nil || r.Broadcast.Delivered < 50 {
		t.Errorf("broadcast burst: %+v, want at least the 50 seeded users reached", r.Broadcast)
	}
	if d := r.TemporalDown; d == nil || d.Answered == 0 || d.Trials == 0 || d.ToldPlainly != d.Trials {
		t.Errorf("Temporal down: %+v, want first answers and every trial pressed told plainly", d)
	}
	if r.Reconcile == nil || r.Reconcile.Result.Readded != 2 || r.Reconcile.Result.Removed != 2 {
		t.Errorf("reconcile: %+v, want 2 keys re-added and 2 removed", r.Reconcile)
	}
}

// testWriter sends the suite's lines to the test log as they come, one
// complete line at a time.
type testWriter struct {
	t   *testing.T
	buf *bytes.Buffer
}

func (w testWriter) Write(p []byte) (int, error) {
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadString('\n')
		if err != nil {
			w.buf.WriteString(line) // an incomplete line waits for its end
			return len(p), nil
		}
		w.t.Log(strings.TrimSuffix(line, "\n"))
	}
}
