package chaos

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"vpnflow/internal/dev/stack"
	"vpnflow/internal/shop"
)

// The two-workers case shows that the shop scales out by adding worker
// processes when the server is not what limits it. The pipeline is made
// worker-bound on purpose: Telegram answers every call after
// workersLatency and each worker process runs only workersTelegramSlots
// Telegram calls at once, so one worker can carry only a few purchases a
// second. The same purchases are then paid with a second worker process
// beside the first. Every workflow stays single-writer whichever process
// runs its tasks (the server hands out one workflow task at a time), which
// the case shows with each purchase credited once with one key, and from
// the histories, which process ran each workflow's tasks.
const (
	workersLatency       = 200 * time.Millisecond
	workersTelegramSlots = 2
)

// WorkersRow is the two-workers case's figures.
type WorkersRow struct {
	One, Two BenchRow
	// ServedBy counts, per worker process, the sampled Subscription
	// workflows of the second run whose tasks it ran; Sampled is how many
	// were read.
	ServedBy map[string]int
	Sampled  int
}

// workersCase runs n purchases with one worker, then n with two, then
// puts the stack back as it was.
func (sys *system) workersCase(ctx context.Context, d *driver, n, concurrency int, out io.Writer) (_ *WorkersRow, err error) {
	fmt.Fprintf(out, "bench: two workers: preparing 2×%d invoices\n", n)
	first, err := d.prepareInvoices(ctx, n, 600_000)
	if err != nil {
		return nil, err
	}
	second, err := d.prepareInvoices(ctx, n, 700_000)
	if err != nil {
		return nil, err
	}

	base := sys.worker
	env := maps.Clone(sys.stack.Env)
	env["WORKER_TELEGRAM_SLOTS"] = strconv.Itoa(workersTelegramSlots)
	one := newProc("worker-bound", base.bin, filepath.Dir(base.logPath), env)
	port, err := stack.FreePort()
	if err != nil {
		return nil, err
	}
	env2 := maps.Clone(env)
	env2["WORKER_METRICS_ADDR"] = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	two := newProc("worker-2", base.bin, filepath.Dir(base.logPath), env2)
	two.ready = httpReady("http://"+env2["WORKER_METRICS_ADDR"]+"/healthz", readyLimit)
	one.ready = httpReady("http://"+sys.stack.Config.WorkerMetricsAddr+"/healthz", readyLimit)

	base.stop()
	defer func() {
		one.stop()
		two.stop()
		sys.stack.Telegram.SetLatency(0)
		sys.worker = base
		if startErr := base.start(ctx); startErr != nil && err == nil {
			err = fmt.Errorf("restart the bench's worker: %w", startErr)
		}
	}()
	if err := one.start(ctx); err != nil {
		return nil, err
	}
	sys.worker = one
	sys.stack.Telegram.SetLatency(workersLatency)

	row := &WorkersRow{}
	row.One = sys.measure(ctx, "pipeline, worker-bound, 1 worker", func() BenchRow {
		return d.payAll(ctx, first, concurrency, 0)
	})
	if err := two.start(ctx); err != nil {
		return nil, err
	}
	row.Two = sys.measure(ctx, "pipeline, worker-bound, 2 workers", func() BenchRow {
		return d.payAll(ctx, second, concurrency, 0)
	})
	// The second process's CPU is not in the row's worker column.
	row.Two.WorkerCPU = -1
	row.ServedBy, row.Sampled = sys.servedBy(ctx, second)
	return row, nil
}

// servedBy reads the histories of up to 50 of the users' Subscription
// workflows and counts, for each worker process (an SDK worker's identity
// is its pid@host), the workflows whose tasks it ran; a workflow whose
// tasks moved between processes counts for each.
func (sys *system) servedBy(ctx context.Context, invs []benchInvoice) (map[string]int, int) {
	by := map[string]int{}
	sampled := 0
	for i, inv := range invs {
		if i >= 50 {
			break
		}
		ids := map[string]bool{}
		it := sys.temporal.GetWorkflowHistory(ctx, shop.SubscriptionWorkflowID(inv.user.id), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				break
			}
			if a := ev.GetWorkflowTaskStartedEventAttributes(); a != nil {
				ids[a.GetIdentity()] = true
			}
		}
		sampled++
		for id := range ids {
			by[id]++
		}
	}
	return by, sampled
}

// String is the case's lines for the report.
func (w *WorkersRow) String() string {
	counts := make([]int, 0, len(w.ServedBy))
	for _, n := range w.ServedBy {
		counts = append(counts, n)
	}
	slices.Sort(counts)
	return fmt.Sprintf("two workers (Telegram answering after %s, %d Telegram slots per worker, so the worker is the limit): 1 worker %.1f purchases/s, 2 workers %.1f/s (×%.2f); lost %d and %d, duplicated %d and %d; of %d sampled Subscription workflows of the second run, the worker processes ran the tasks of %v",
		workersLatency, workersTelegramSlots, w.One.PerSecond, w.Two.PerSecond, w.Two.PerSecond/max(w.One.PerSecond, 0.001),
		w.One.Lost, w.Two.Lost, w.One.Dup, w.Two.Dup, w.Sampled, counts)
}
