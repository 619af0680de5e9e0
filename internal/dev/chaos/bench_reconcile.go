package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"golang.org/x/sync/errgroup"

	"vpnflow/internal/schedules"
	"vpnflow/internal/shop"
	"vpnflow/internal/xray"
	"vpnflow/workflows"
)

// ReconcileRow is the reconcile case's figures: users live subscriptions
// seeded straight into PostgreSQL and Xray with a known drift, and one
// reconciliation triggered as an operator does (`starter reconcile`).
type ReconcileRow struct {
	Users     int           // live subscriptions seeded
	Missing   int           // of them, keys left out of Xray: the run must add these
	Strays    int           // keys put in Xray that no live subscription accounts for: it must remove these
	Seeding   time.Duration // the database and Xray filled, untimed otherwise
	Took      time.Duration // the trigger → the workflow's result
	Result    workflows.ReconcileResult
	History   chainHistory
	Pool      poolPeak // the worker's connection pool during the run
	ServerCPU float64
	WorkerCPU float64
}

// reconcileBase numbers the seeded users far above the Telegram stand-in's
// ids, so no driven user ever meets one.
const reconcileBase = 9_000_000_000

// reconcileWait bounds the run: the Schedule's own execution timeout.
const reconcileWait = time.Hour

// reconcileCase seeds n live subscriptions with 1% of their keys missing
// from Xray and 1% stray keys in it (half of an expired subscription, half
// of no subscription at all), triggers the reconcile Schedule and checks
// that the run repaired exactly that drift and left Xray holding exactly
// the live keys. The Schedule is paused meanwhile, so no scheduled run
// repairs the drift first; a triggered run starts anyway.
func (s *system) reconcileCase(ctx context.Context, n int, out io.Writer) (ReconcileRow, error) {
	row := ReconcileRow{Users: n, Missing: max(1, n/100), Strays: max(2, n/100)}
	// The worker creates the Schedules as it starts, perhaps not yet.
	if err := s.schedulesCreated(ctx, time.Minute); err != nil {
		return row, err
	}
	sched := s.temporal.ScheduleClient().GetHandle(ctx, schedules.ReconcileID)
	if err := sched.Pause(ctx, client.SchedulePauseOptions{Note: "bench: reconcile case"}); err != nil {
		return row, fmt.Errorf("pause the reconcile schedule: %w", err)
	}
	defer func() {
		_ = sched.Unpause(context.WithoutCancel(ctx), client.ScheduleUnpauseOptions{Note: "bench: reconcile case done"})
	}()
	if err := waitNoRun(ctx, sched); err != nil {
		return row, err
	}

	t0 := time.Now()
	if err := s.seedReconcile(ctx, row, out); err != nil {
		return row, err
	}
	row.Seeding = time.Since(t0)
	var live int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM subscriptions
		WHERE status IN ('trial', 'active') AND expires_at > now()`).Scan(&live); err != nil {
		return row, fmt.Errorf("count live subscriptions: %w", err)
	}

	fmt.Fprintf(out, "bench: reconcile: %d live subscriptions (%d seeded) seeded in %s; triggering the schedule\n",
		live, n, row.Seeding.Round(time.Second))
	watch := startPoolWatch(ctx, "http://"+s.stack.Config.WorkerMetricsAddr+"/metrics", "worker")
	server, work := s.stack.Temporal.Pid(), s.worker.pid()
	s0, w0, start := cpuTime(server), cpuTime(work), time.Now()
	id, runID, err := triggerAndFind(ctx, s.temporal, sched)
	if err != nil {
		watch.stop()
		return row, err
	}
	wctx, cancel := context.WithTimeout(ctx, reconcileWait)
	defer cancel()
	err = s.temporal.GetWorkflow(wctx, id, runID).Get(wctx, &row.Result) // follows continue-as-new
	row.Took = time.Since(start)
	wall := row.Took.Seconds()
	row.ServerCPU = (cpuTime(server) - s0).Seconds() / wall
	row.WorkerCPU = (cpuTime(work) - w0).Seconds() / wall
	row.Pool = watch.stop()
	if err != nil {
		return row, fmt.Errorf("reconcile %s: %w", id, err)
	}
	if row.History, err = historyChain(ctx, s.temporal, id, runID); err != nil {
		return row, err
	}
	// The pages and the orphan sweep run in a child per node.
	for _, n := range row.Result.Nodes {
		if err := addChildHistory(ctx, s.temporal, n.WorkflowID, &row.History); err != nil {
			return row, err
		}
	}

	res := row.Result
	var wrong []string
	if res.Readded != row.Missing {
		wrong = append(wrong, fmt.Sprintf("re-added %d keys, %d were missing", res.Readded, row.Missing))
	}
	if res.Removed != row.Strays {
		wrong = append(wrong, fmt.Sprintf("removed %d keys, %d were stray", res.Removed, row.Strays))
	}
	if res.Checked != live {
		wrong = append(wrong, fmt.Sprintf("checked %d keys, %d were live", res.Checked, live))
	}
	if res.Errors != 0 {
		wrong = append(wrong, fmt.Sprintf("%d keys Xray refused", res.Errors))
	}
	if err := s.xrayHoldsLiveKeys(ctx); err != nil {
		wrong = append(wrong, err.Error())
	}
	if len(wrong) > 0 {
		return row, fmt.Errorf("reconcile %s did not repair the drift: %s (result %+v)", id, strings.Join(wrong, "; "), res)
	}
	return row, nil
}

// seedReconcile writes the users and their subscriptions with COPY and
// puts the keys into Xray through the adapter, 32 at a time: the live
// users from reconcileBase on, Missing of their keys left out, then the
// strays.
func (s *system) seedReconcile(ctx context.Context, row ReconcileRow, out io.Writer) error {
	cfg := s.stack.Config
	var node int16
	if err := s.pool.QueryRow(ctx, `SELECT id FROM nodes WHERE name = 'default'`).Scan(&node); err != nil {
		return fmt.Errorf("the worker's node: %w", err)
	}
	type key struct {
		id   int64
		uuid uuid.UUID
	}
	live := make([]key, row.Users)
	for i := range live {
		live[i] = key{id: reconcileBase + int64(i), uuid: uuid.New()}
	}
	strays := make([]key, row.Strays)
	for i := range strays {
		strays[i] = key{id: reconcileBase + int64(row.Users+i), uuid: uuid.New()}
	}
	expired := strays[:row.Strays/2] // the rest have no row at all

	ids := make([]int64, 0, len(live)+len(expired))
	for _, k := range append(live[:len(live):len(live)], expired...) {
		ids = append(ids, k.id)
	}
	if err := copyUsers(ctx, s.pool, ids); err != nil {
		return err
	}
	now := time.Now()
	subs := make([][]any, 0, len(ids))
	add := func(k key, status string, expires time.Time) {
		subs = append(subs, []any{k.id, node, k.uuid, xray.UserEmail(k.id, cfg.XrayEmailDomain), status, expires, "1m"})
	}
	for _, k := range live {
		add(k, shop.StatusActive, now.Add(30*24*time.Hour))
	}
	for _, k := range expired {
		add(k, shop.StatusExpired, now.Add(-24*time.Hour))
	}
	if _, err := s.pool.CopyFrom(ctx, pgx.Identifier{"subscriptions"},
		[]string{"user_id", "node_id", "vless_uuid", "xray_email", "status", "expires_at", "plan_id"},
		pgx.CopyFromRows(subs)); err != nil {
		return fmt.Errorf("copy %d subscriptions: %w", len(subs), err)
	}

	// The missing keys are spread over the users, one in the middle of
	// each stretch of stride.
	stride := row.Users / row.Missing
	keys := make([]key, 0, row.Users)
	for i, k := range live {
		if i%stride != stride/2 || i/stride >= row.Missing {
			keys = append(keys, k)
		}
	}
	keys = append(keys, strays...)
	fmt.Fprintf(out, "bench: reconcile: %d users and %d subscriptions copied; adding %d keys to Xray\n", len(ids), len(subs), len(keys))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	var added atomic.Int64
	for _, k := range keys {
		g.Go(func() error {
			u := xray.User{Email: xray.UserEmail(k.id, cfg.XrayEmailDomain), UUID: k.uuid.String(), Flow: cfg.VLESSFlow}
			if err := s.xray.AddUser(gctx, u); err != nil {
				return fmt.Errorf("seed xray: %w", err)
			}
			if a := added.Add(1); a%20_000 == 0 {
				fmt.Fprintf(out, "bench: reconcile: %d of %d keys in Xray\n", a, len(keys))
			}
			return nil
		})
	}
	return g.Wait()
}

// xrayHoldsLiveKeys checks, apart from what the workflow reports, that Xray
// holds exactly the live keys under our email domain.
func (s *system) xrayHoldsLiveKeys(ctx context.Context) error {
	rows, err := s.pool.Query(ctx, `SELECT lower(xray_email) FROM subscriptions
		WHERE status IN ('trial', 'active') AND expires_at > now()`)
	if err != nil {
		return fmt.Errorf("read live keys: %w", err)
	}
	want, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("read live keys: %w", err)
	}
	users, err := s.xray.ListUsers(ctx)
	if err != nil {
		return fmt.Errorf("list xray: %w", err)
	}
	have := map[string]bool{}
	for _, u := range users {
		if _, ok := xray.ParseUserEmail(u.Email, s.stack.Config.XrayEmailDomain); ok {
			have[strings.ToLower(u.Email)] = true
		}
	}
	missing := 0
	for _, e := range want {
		if !have[e] {
			missing++
		}
		delete(have, e)
	}
	if missing > 0 || len(have) > 0 {
		return fmt.Errorf("afterwards Xray misses %d live keys and holds %d others", missing, len(have))
	}
	return nil
}

// waitNoRun waits until no run of the schedule is in progress.
func waitNoRun(ctx context.Context, h client.ScheduleHandle) error {
	for deadline := time.Now().Add(reconcileWait); time.Now().Before(deadline); sleep(ctx, time.Second) {
		d, err := h.Describe(ctx)
		if err != nil {
			return fmt.Errorf("describe schedule %s: %w", h.GetID(), err)
		}
		if len(d.Info.RunningWorkflows) == 0 {
			return nil
		}
	}
	return fmt.Errorf("schedule %s: a run still in progress after %s", h.GetID(), reconcileWait)
}

// triggerAndFind triggers the schedule as `starter reconcile` does and
// returns the workflow it started.
func triggerAndFind(ctx context.Context, c client.Client, h client.ScheduleHandle) (id, runID string, err error) {
	seen := map[string]bool{}
	d, err := h.Describe(ctx)
	if err != nil {
		return "", "", fmt.Errorf("describe schedule %s: %w", h.GetID(), err)
	}
	for _, a := range d.Info.RecentActions {
		if w := a.StartWorkflowResult; w != nil {
			seen[w.WorkflowID] = true
		}
	}
	if err := schedules.TriggerNow(ctx, c, h.GetID()); err != nil {
		return "", "", err
	}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); sleep(ctx, 100*time.Millisecond) {
		d, err := h.Describe(ctx)
		if err != nil {
			return "", "", fmt.Errorf("describe schedule %s: %w", h.GetID(), err)
		}
		for _, a := range d.Info.RecentActions {
			if w := a.StartWorkflowResult; w != nil && !seen[w.WorkflowID] {
				return w.WorkflowID, w.FirstExecutionRunID, nil
			}
		}
	}
	return "", "", errors.New("the triggered reconcile never started")
}

// print writes the case's lines, in the storm's style.
func (r *ReconcileRow) print(w io.Writer) {
	res, h := r.Result, r.History
	fmt.Fprintf(w, "\nreconcile: %d users (%d live keys checked), %d missing from Xray and %d stray seeded; the run re-added %d and removed %d in %s (%.0f keys checked/s); %d pages in %d runs, %d history events (longest run %d); longest page activity %s, orphan sweep %s; worker DB pool: at most %d connections in use and %d open of %d, %d acquires waited; server %.2f cores, worker %.2f\n",
		r.Users, res.Checked, r.Missing, r.Strays, res.Readded, res.Removed, r.Took.Round(100*time.Millisecond),
		float64(res.Checked)/r.Took.Seconds(), res.Pages, res.Runs, h.Events, h.Longest,
		h.Activity["ReconcilePage"].Round(time.Millisecond), h.Activity["RemoveOrphans"].Round(time.Millisecond),
		r.Pool.Acquired, r.Pool.Open, r.Pool.Max, r.Pool.Waited, r.ServerCPU, r.WorkerCPU)
}

// addChildHistory adds a child workflow's chain of runs to h.
func addChildHistory(ctx context.Context, c client.Client, id string, h *chainHistory) error {
	it := c.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	e, err := it.Next()
	if err != nil {
		return fmt.Errorf("history of %s: %w", id, err)
	}
	child, err := historyChain(ctx, c, id, e.GetWorkflowExecutionStartedEventAttributes().GetFirstExecutionRunId())
	if err != nil {
		return err
	}
	h.Events += child.Events
	h.Longest = max(h.Longest, child.Longest)
	h.Runs += child.Runs
	for name, d := range child.Activity {
		h.Activity[name] = max(h.Activity[name], d)
	}
	return nil
}
