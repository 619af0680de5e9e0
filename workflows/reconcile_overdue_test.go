package workflows

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/schedules"
)

// fakeOverdue pages through users 1..n, all overdue, the way the store does.
type fakeOverdue struct {
	n      int64
	failAt int64 // a page after this user id fails for good; 0 never
	calls  []activities.OverduePageInput
}

func (f *fakeOverdue) page(_ context.Context, in activities.OverduePageInput) (activities.OverduePageResult, error) {
	f.calls = append(f.calls, in)
	if f.failAt != 0 && in.AfterUserID == f.failAt {
		return activities.OverduePageResult{}, temporal.NewNonRetryableApplicationError("namespace refuses the signal", "InvalidArgument", nil)
	}
	res := activities.OverduePageResult{NextAfter: in.AfterUserID}
	for id := in.AfterUserID + 1; id <= f.n && id <= in.AfterUserID+int64(in.Limit); id++ {
		res.NextAfter = id
		res.Found++
		if len(res.Sample) < activities.OverdueSampleSize {
			res.Sample = append(res.Sample, id)
		}
	}
	res.Done = res.Found < in.Limit
	return res, nil
}

// counters is a metrics handler that adds up counters by name.
type counters struct {
	mu sync.Mutex
	n  map[string]int64
}

func (c *counters) WithTags(map[string]string) client.MetricsHandler { return c }
func (c *counters) Counter(name string) client.MetricsCounter {
	return counterFunc(func(d int64) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.n[name] += d
	})
}
func (c *counters) Gauge(string) client.MetricsGauge { return client.MetricsNopHandler.Gauge("") }
func (c *counters) Timer(string) client.MetricsTimer { return client.MetricsNopHandler.Timer("") }
func (c *counters) get(name string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[name]
}

// overdueEnv runs Reconcile with the live-key phase whole and the sweep
// finding users 1..n overdue.
type overdueEnv struct {
	*testsuite.TestWorkflowEnvironment
	overdue *fakeOverdue
	metrics *counters
	alerts  []activities.OverdueAlert
	order   []string // the activities, in the order they ran
}

func newOverdueEnv(n int64, alertErr error) *overdueEnv {
	var s testsuite.WorkflowTestSuite
	m := &counters{n: map[string]int64{}}
	s.SetMetricsHandler(m)
	env := s.NewTestWorkflowEnvironment()
	a := &activities.Activities{}
	env.RegisterActivity(a)
	env.RegisterWorkflowWithOptions(ReconcileNode, workflow.RegisterOptions{Name: schedules.ReconcileNodeWorkflowType})
	oneNode(env, a)
	oe := &overdueEnv{TestWorkflowEnvironment: env, overdue: &fakeOverdue{n: n}, metrics: m}
	env.OnActivity(a.HandOverOverdue, mock.Anything, mock.Anything).Return(func(ctx context.Context, in activities.OverduePageInput) (activities.OverduePageResult, error) {
		oe.order = append(oe.order, "overdue")
		return oe.overdue.page(ctx, in)
	})
	env.OnActivity(a.ReconcilePage, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.ReconcilePageInput) (activities.ReconcilePageResult, error) {
		oe.order = append(oe.order, "live")
		return activities.ReconcilePageResult{NextAfter: in.AfterUserID, Done: true}, nil
	})
	env.OnActivity(a.RemoveOrphans, mock.Anything, mock.Anything).Return(func(context.Context, activities.RemoveOrphansInput) (activities.RemoveOrphansResult, error) {
		oe.order = append(oe.order, "orphans")
		return activities.RemoveOrphansResult{}, nil
	})
	env.OnActivity(a.AlertAdminsOverdue, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.OverdueAlert) (activities.AdminAlertResult, error) {
		oe.order = append(oe.order, "alert")
		oe.alerts = append(oe.alerts, in)
		if alertErr != nil {
			return activities.AdminAlertResult{Failed: 1}, alertErr
		}
		return activities.AdminAlertResult{Sent: 1}, nil
	})
	return oe
}

// TestReconcileSweepsOverdueRows: every run of the reconcile schedule first
// pages through the live rows past their expiry (by the workflow's clock,
// less the grace that lets the rows' own timers go first), hands each to
// its workflow, counts them in the metric and tells the admins once, naming
// a few; then it reconciles Xray as before.
func TestReconcileSweepsOverdueRows(t *testing.T) {
	oe := newOverdueEnv(25, nil)
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	oe.SetStartTime(start)
	oe.ExecuteWorkflow(Reconcile, schedules.ReconcileInput{PageSize: 10})
	require.True(t, oe.IsWorkflowCompleted())
	require.NoError(t, oe.GetWorkflowError())
	var res ReconcileResult
	require.NoError(t, oe.GetWorkflowResult(&res))
	require.Equal(t, 25, res.Overdue)

	require.Len(t, oe.overdue.calls, 3)
	for i, c := range oe.overdue.calls {
		require.Equal(t, int64(i*10), c.AfterUserID)
		require.Equal(t, 10, c.Limit)
		require.True(t, c.Before.Equal(start.Add(-OverdueGrace)), "page %d: rows overdue before %s, want the workflow's now less %s", i, c.Before, OverdueGrace)
	}
	require.Equal(t, int64(25), oe.metrics.get(OverdueMetric))
	require.Equal(t, []activities.OverdueAlert{{Count: 25, Sample: []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}}, oe.alerts)
	require.Equal(t, []string{"overdue", "overdue", "overdue", "alert", "live", "orphans"}, oe.order)
}

func TestReconcileSweepFindingNothingSaysNothing(t *testing.T) {
	oe := newOverdueEnv(0, nil)
	oe.ExecuteWorkflow(Reconcile, schedules.ReconcileInput{PageSize: 10})
	require.NoError(t, oe.GetWorkflowError())
	require.Empty(t, oe.alerts)
	require.Zero(t, oe.metrics.get(OverdueMetric))
	require.Equal(t, []string{"overdue", "live", "orphans"}, oe.order)
}

// An alert nobody could receive does not stop the reconciliation: the
// rows are handed over and counted all the same.
func TestReconcileSweepGoesOnWhenTheAlertFails(t *testing.T) {
	oe := newOverdueEnv(3, errors.New("telegram down"))
	oe.ExecuteWorkflow(Reconcile, schedules.ReconcileInput{PageSize: 10})
	require.NoError(t, oe.GetWorkflowError())
	var res ReconcileResult
	require.NoError(t, oe.GetWorkflowResult(&res))
	require.Equal(t, 3, res.Overdue)
	require.Equal(t, int64(3), oe.metrics.get(OverdueMetric))
	require.NotEmpty(t, oe.alerts)
	require.Equal(t, []string{"live", "orphans"}, oe.order[len(oe.order)-2:])
}

// A sweep longer than a run's pages continues as new where it was; the
// admins hear once, at its end, the total of all runs.
func TestReconcileSweepContinuesAsNew(t *testing.T) {
	in := schedules.ReconcileInput{PageSize: 10, PagesPerRun: 2}
	var alerts []activities.OverdueAlert
	var overdueCalls []activities.OverduePageInput
	var counted int64
	for runs := 1; ; runs++ {
		require.LessOrEqual(t, runs, 3, "too many runs")
		oe := newOverdueEnv(45, nil)
		oe.ExecuteWorkflow(Reconcile, in)
		require.True(t, oe.IsWorkflowCompleted())
		alerts = append(alerts, oe.alerts...)
		overdueCalls = append(overdueCalls, oe.overdue.calls...)
		counted += oe.metrics.get(OverdueMetric)
		var can *workflow.ContinueAsNewError
		if err := oe.GetWorkflowError(); errors.As(err, &can) {
			var next schedules.ReconcileInput
			require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
			require.NotNil(t, next.Progress)
			require.False(t, next.Progress.OverdueDone)
			require.Equal(t, int64(runs*20), next.Progress.OverdueAfter)
			require.Equal(t, runs*20, next.Progress.Overdue)
			in = next
			continue
		}
		require.NoError(t, oe.GetWorkflowError())
		var res ReconcileResult
		require.NoError(t, oe.GetWorkflowResult(&res))
		require.Equal(t, 45, res.Overdue)
		require.Equal(t, 3, res.Runs)
		break
	}
	require.Len(t, overdueCalls, 5)
	for i, c := range overdueCalls {
		require.Equal(t, int64(i*10), c.AfterUserID)
	}
	require.Equal(t, int64(45), counted)
	require.Equal(t, []activities.OverdueAlert{{Count: 45, Sample: []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}}, alerts)
}

// A sweep that fails does not hold up the repair of Xray: the run goes on
// to the live keys and the orphans, says the sweep failed, and the rows
// found before the failure are counted and reported.
func TestReconcileGoesOnWhenTheSweepFails(t *testing.T) {
	oe := newOverdueEnv(25, nil)
	oe.overdue.failAt = 10
	oe.ExecuteWorkflow(Reconcile, schedules.ReconcileInput{PageSize: 10})
	require.True(t, oe.IsWorkflowCompleted())
	require.NoError(t, oe.GetWorkflowError())
	var res ReconcileResult
	require.NoError(t, oe.GetWorkflowResult(&res))
	require.True(t, res.OverdueFailed)
	require.Equal(t, 10, res.Overdue)
	require.Equal(t, int64(10), oe.metrics.get(OverdueMetric))
	require.Equal(t, []activities.OverdueAlert{{Count: 10, Sample: []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}}, oe.alerts)
	require.Equal(t, []string{"overdue", "overdue", "alert", "live", "orphans"}, oe.order)
}
