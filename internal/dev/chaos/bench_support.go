package chaos

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	faketg "vpnflow/internal/dev/fake/telegram"
	"vpnflow/internal/shop"
)

func benchUser(n int) faketg.User {
	return faketg.User{FirstName: fmt.Sprintf("Bench-%d", n), LanguageCode: "en"}
}

// copyUsers writes users with these Telegram ids in one COPY, each with a
// referral code of its own ("b" and the id: longer than the bot's, so
// never one of them).
func copyUsers(ctx context.Context, pool *pgxpool.Pool, ids []int64) error {
	rows := make([][]any, len(ids))
	for i, id := range ids {
		rows[i] = []any{id, fmt.Sprintf("Bench-%d", id), "b" + strconv.FormatInt(id, 10), "en"}
	}
	_, err := pool.CopyFrom(ctx, pgx.Identifier{"users"}, []string{"telegram_id", "first_name", "ref_code", "language"}, pgx.CopyFromRows(rows))
	if err != nil {
		return fmt.Errorf("copy %d users: %w", len(ids), err)
	}
	return nil
}

// measure runs one case and adds the CPU the Temporal server and the
// worker used meanwhile, in cores.
func (s *system) measure(_ context.Context, name string, run func() BenchRow) BenchRow {
	server, work := s.stack.Temporal.Pid(), s.worker.pid()
	s0, w0, t0 := cpuTime(server), cpuTime(work), time.Now()
	row := run()
	wall := time.Since(t0).Seconds()
	row.Case = name
	row.ServerCPU = (cpuTime(server) - s0).Seconds() / wall
	row.WorkerCPU = (cpuTime(work) - w0).Seconds() / wall
	return row
}

// cpuTime is the user and system time a process used so far, read from
// /proc (0 when it cannot be read).
func cpuTime(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name may hold spaces; the fields count from its ")".
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const ticksPerSecond = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticksPerSecond
}

// eventsPerPurchase averages, over a sample of the paid invoices, the
// history events of the Purchase workflow and of the user's Subscription
// workflow (each bench user buys once, so the whole history is theirs).
func (s *system) eventsPerPurchase(ctx context.Context, invs []benchInvoice) float64 {
	total, n := int64(0), 0
	for i, inv := range invs {
		if i >= 20 {
			break
		}
		var purchaseID string
		if err := s.pool.QueryRow(ctx, `SELECT id::text FROM purchases WHERE provider = 'cryptopay' AND provider_invoice_id = $1`,
			strconv.FormatInt(inv.invoice.InvoiceID, 10)).Scan(&purchaseID); err != nil {
			continue
		}
		p, err1 := s.historyLength(ctx, shop.PurchaseWorkflowID(purchaseID))
		sub, err2 := s.historyLength(ctx, shop.SubscriptionWorkflowID(inv.user.id))
		if err1 != nil || err2 != nil {
			continue
		}
		total += p + sub
		n++
	}
	if n == 0 {
		return 0
	}
	return float64(total) / float64(n)
}

func (s *system) historyLength(ctx context.Context, workflowID string) (int64, error) {
	d, err := s.temporal.DescribeWorkflowExecution(ctx, workflowID, "")
	if err != nil {
		return 0, err
	}
	return d.GetWorkflowExecutionInfo().GetHistoryLength(), nil
}

// benchBareQueue is the task queue of the bare workflow, served by a
// worker inside the benchmark process.
const benchBareQueue = "bench-bare"

// benchBare is the minimal workflow the pipeline is compared with: three
// activities that do nothing, one after the other.
func benchBare(ctx workflow.Context) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second},
	})
	for range 3 {
		if err := workflow.ExecuteActivity(ctx, benchNoop).Get(ctx, nil); err != nil {
			return err
		}
	}
	return nil
}

func benchNoop(context.Context) error { return nil }

// runBare runs bare workflows, concurrency at a time, for the duration.
func (s *system) runBare(ctx context.Context, concurrency int, dur time.Duration) (BenchRow, error) {
	w := worker.New(s.temporal, benchBareQueue, worker.Options{})
	w.RegisterWorkflow(benchBare)
	w.RegisterActivity(benchNoop)
	if err := w.Start(); err != nil {
		return BenchRow{}, fmt.Errorf("bare worker: %w", err)
	}
	defer w.Stop()
	var (
		done    atomic.Int64
		lastID  atomic.Value
		mu      sync.Mutex
		latency []time.Duration
	)
	row := s.measure(ctx, "bare workflow, 3 no-op activities", func() BenchRow {
		runCtx, cancel := context.WithTimeout(ctx, dur)
		defer cancel()
		start := time.Now()
		var wg sync.WaitGroup
		var seq atomic.Int64
		for range concurrency {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for runCtx.Err() == nil {
					id := fmt.Sprintf("bench-bare-%d-%d", start.UnixNano(), seq.Add(1))
					t0 := time.Now()
					run, err := s.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: benchBareQueue}, benchBare)
					if err != nil || run.Get(ctx, nil) != nil {
						continue
					}
					done.Add(1)
					lastID.Store(id)
					mu.Lock()
					latency = append(latency, time.Since(t0))
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		return BenchRow{Done: int(done.Load()), PerSecond: float64(done.Load()) / time.Since(start).Seconds(), Concurrent: concurrency}
	})
	mu.Lock()
	slices.Sort(latency)
	if len(latency) > 0 {
		row.P50, row.P95, row.P99 = pct(latency, 0.50), pct(latency, 0.95), pct(latency, 0.99)
	}
	mu.Unlock()
	if id, ok := lastID.Load().(string); ok {
		if n, err := s.historyLength(ctx, id); err == nil {
			row.Events = float64(n)
		}
	}
	row.WorkerCPU = -1 // the bare workflow's worker is this process
	return row, nil
}

// Print writes the table.
func (r *BenchReport) Print(w io.Writer) {
	if len(r.Rows) > 0 {
		fmt.Fprintf(w, "\n| %-34s | %8s | %5s | %7s | %7s | %7s | %7s | %4s | %3s | %6s | %6s | %7s |\n",
			"case", "offered", "done", "per s", "p50", "p95", "p99", "lost", "dup", "server", "worker", "events")
		fmt.Fprintf(w, "|%s|\n", strings.Repeat("-", 34+8+5+7*4+4+3+6+6+7+3*12-1))
		for _, row := range r.Rows {
			offered := "closed"
			if row.Offered > 0 {
				offered = fmt.Sprintf("%.1f/s", row.Offered)
			} else if row.Concurrent > 0 {
				offered = fmt.Sprintf("c=%d", row.Concurrent)
			}
			worker := fmt.Sprintf("%.2f", row.WorkerCPU)
			if row.WorkerCPU < 0 {
				worker = "-"
			}
			fmt.Fprintf(w, "| %-34s | %8s | %5d | %7.1f | %7s | %7s | %7s | %4d | %3d | %6.2f | %6s | %7.1f |\n",
				row.Case, offered, row.Done, row.PerSecond, ms(row.P50), ms(row.P95), ms(row.P99), row.Lost, row.Dup, row.ServerCPU, worker, row.Events)
		}
		fmt.Fprintf(w, "\npipeline ÷ bare workflow (same server, same run): %.0f%%\n", 100*r.Ratio)
		r.printPairs(w)
		fmt.Fprintln(w, "server and worker: CPU cores used on average during the case; events: history events per purchase (purchase + subscription workflow) or per bare workflow")
	}
	for _, kind := range []string{"message", "button"} {
		if b := r.Answers[kind]; b.count() > 0 {
			fmt.Fprintf(w, "bot first answer (%s) while the pipeline saturates: n=%d p50 %s p99 %s\n", kind, b.count(),
				b.quantile(0.5).Round(time.Millisecond), b.quantile(0.99).Round(time.Millisecond))
		}
	}
	if r.TemporalDown != nil {
		fmt.Fprintf(w, "%s\n", r.TemporalDown)
	}
	if r.Workers != nil {
		fmt.Fprintf(w, "\n%s\n", r.Workers)
	}
	if st := r.Storm; st != nil {
		notified := "not all within the wait"
		if st.Notified > 0 {
			notified = st.Notified.Round(100 * time.Millisecond).String()
		}
		fmt.Fprintf(w, "\n%s\n", st.Reminders)
		fmt.Fprintf(w, "expiry storm: %d subscriptions expiring at the same second; half their keys out of Xray after %s, the last after %s (%.1f removals/s); every user told after %s; server %.2f cores, worker %.2f\n",
			st.Users, st.HalfOut.Round(100*time.Millisecond), st.LastOut.Round(100*time.Millisecond), st.PerSecond, notified, st.ServerCPU, st.WorkerCPU)
		fmt.Fprintf(w, "expiry storm: notices %.1f/s from the first to the last (%.1f/s over the middle 90%%), at most %d in one second; %d sends answered 429 (flood control at 30/s); worker's database pool: %s; %s\n",
			st.NoticesPerSecond, st.NoticesSteady, st.NoticesPeak, st.RateLimited, st.Pool, st.Sends)
	}
	if r.AutoRenew != nil {
		fmt.Fprintf(w, "\n%s\n", r.AutoRenew)
	}
	if r.Failover != nil {
		fmt.Fprintf(w, "\n%s\n", r.Failover)
	}
	if r.Broadcast != nil {
		r.Broadcast.print(w)
	}
	if r.Reconcile != nil {
		r.Reconcile.print(w)
	}
}

func ms(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%dms", d.Milliseconds())
}
