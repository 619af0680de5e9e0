package workflows

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/schedules"
)

// fakeLiveKeys pages through users 1..n the way the store does, and says
// every third one was missing from Xray.
type fakeLiveKeys struct {
	n      int64
	calls  []activities.ReconcilePageInput
	failAt int64 // a page after this user id fails for good; 0 never
}

func (f *fakeLiveKeys) page(_ context.Context, in activities.ReconcilePageInput) (activities.ReconcilePageResult, error) {
	if in.Now.IsZero() {
		return activities.ReconcilePageResult{}, temporal.NewNonRetryableApplicationError("no time given", "Invalid", nil)
	}
	in.Now = time.Time{} // the calls are compared by page bounds
	f.calls = append(f.calls, in)
	if f.failAt != 0 && in.AfterUserID == f.failAt {
		return activities.ReconcilePageResult{}, temporal.NewNonRetryableApplicationError("inbound gone", activities.ErrConfiguration, nil)
	}
	res := activities.ReconcilePageResult{NextAfter: in.AfterUserID}
	for id := in.AfterUserID + 1; id <= f.n && id <= in.AfterUserID+int64(in.Limit); id++ {
		res.NextAfter = id
		res.Checked++
		if id%3 == 0 {
			res.Readded++
		}
	}
	res.Done = res.Checked < in.Limit
	return res, nil
}

func newReconcileEnv(keys *fakeLiveKeys) (*testsuite.TestWorkflowEnvironment, *activities.Activities) {
	env := newTestEnv()
	a := &activities.Activities{}
	env.RegisterActivity(a)
	env.OnActivity(a.ReconcilePage, mock.Anything, mock.Anything).Return(keys.page)
	env.OnActivity(a.RemoveOrphans, mock.Anything, mock.Anything).Return(
		activities.RemoveOrphansResult{InXray: 10, Foreign: 2, Removed: 3, Errors: 1}, nil)
	// No row is overdue.
	env.OnActivity(a.HandOverOverdue, mock.Anything, mock.Anything).Return(activities.OverduePageResult{Done: true}, nil)
	return env, a
}

func TestReconcileWalksEveryPageThenSweepsOrphans(t *testing.T) {
	keys := &fakeLiveKeys{n: 2500}
	env, _ := newReconcileEnv(keys)
	env.ExecuteWorkflow(Reconcile, schedules.ReconcileInput{PageSize: 1000, PagesPerRun: 10})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res ReconcileResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, ReconcileResult{Checked: 2500, Readded: 833, Removed: 3, Foreign: 2, Errors: 1, Pages: 3, Runs: 1}, res)
	require.Equal(t, []activities.ReconcilePageInput{
		{AfterUserID: 0, Limit: 1000}, {AfterUserID: 1000, Limit: 1000}, {AfterUserID: 2000, Limit: 1000},
	}, keys.calls)
}

func TestReconcileExactPageMultipleReadsOneEmptyPage(t *testing.T) {
	keys := &fakeLiveKeys{n: 2000}
	env, _ := newReconcileEnv(keys)
	env.ExecuteWorkflow(Reconcile, schedules.ReconcileInput{PageSize: 1000})
	var res ReconcileResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, 3, res.Pages)
	require.Equal(t, 2000, res.Checked)
}

// A run stops after PagesPerRun pages and continues as new with its
// progress; the chain of runs adds up to one reconciliation.
func TestReconcileContinuesAsNewAndCarriesTotals(t *testing.T) {
	keys := &fakeLiveKeys{n: 10_500}
	in := schedules.ReconcileInput{PageSize: 1000, PagesPerRun: 4}
	var runs int
	for {
		runs++
		require.LessOrEqual(t, runs, 5, "too many runs")
		env, _ := newReconcileEnv(keys)
		env.ExecuteWorkflow(Reconcile, in)
		require.True(t, env.IsWorkflowCompleted())
		err := env.GetWorkflowError()
		var can *workflow.ContinueAsNewError
		if errors.As(err, &can) {
			require.Equal(t, schedules.ReconcileWorkflowType, can.WorkflowType.Name)
			var next schedules.ReconcileInput
			require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
			require.NotNil(t, next.Progress)
			require.Equal(t, runs, next.Progress.Runs)
			require.Equal(t, int64(runs*4000), next.Progress.AfterUserID)
			require.Equal(t, runs*4, next.Progress.Pages)
			in = next
			continue
		}
		require.NoError(t, err)
		var res ReconcileResult
		require.NoError(t, env.GetWorkflowResult(&res))
		require.Equal(t, ReconcileResult{Checked: 10_500, Readded: 3500, Removed: 3, Foreign: 2, Errors: 1, Pages: 11, Runs: 3}, res)
		break
	}
	require.Equal(t, 3, runs)
	// Every page was read once, in order, across the runs.
	require.Len(t, keys.calls, 11)
	for i, c := range keys.calls {
		require.Equal(t, int64(i*1000), c.AfterUserID)
	}
}

func TestReconcileFailsOnAPermanentPageError(t *testing.T) {
	keys := &fakeLiveKeys{n: 5000, failAt: 2000}
	env, a := newReconcileEnv(keys)
	swept := false
	env.OnActivity(a.RemoveOrphans, mock.Anything, mock.Anything).Return(func(context.Context, activities.RemoveOrphansInput) (activities.RemoveOrphansResult, error) {
		swept = true
		return activities.RemoveOrphansResult{}, nil
	})
	env.ExecuteWorkflow(Reconcile, schedules.ReconcileInput{PageSize: 1000})
	err := env.GetWorkflowError()
	require.Error(t, err)
	require.ErrorContains(t, err, "after user 2000")
	require.False(t, swept, "orphans must not be swept after an incomplete scan")
}

func TestReconcileInputDefaults(t *testing.T) {
	in := schedules.ReconcileInput{}.WithDefaults()
	require.Equal(t, schedules.DefaultPageSize, in.PageSize)
	require.Equal(t, schedules.DefaultPagesPerRun, in.PagesPerRun)
	require.Equal(t, schedules.MaxPageSize, schedules.ReconcileInput{PageSize: 1 << 20}.WithDefaults().PageSize)
}

// watchEnv runs XrayWatch against an Xray that started at xrayStart.
type watchEnv struct {
	*testsuite.TestWorkflowEnvironment
	triggers []string
	saved    []schedules.XrayWatchInput
}

func newWatchEnv(xrayStart time.Time, xrayErr error) *watchEnv {
	env := newTestEnv()
	a := &activities.Activities{}
	env.RegisterActivity(a)
	we := &watchEnv{TestWorkflowEnvironment: env}
	env.OnActivity(a.XrayUptime, mock.Anything, mock.Anything).Return(func(context.Context, activities.XrayUptimeInput) (activities.XrayUptimeResult, error) {
		if xrayErr != nil {
			return activities.XrayUptimeResult{}, xrayErr
		}
		return activities.XrayUptimeResult{Uptime: 42 * time.Second, StartedAt: xrayStart}, nil
	})
	env.OnActivity(a.TriggerReconcile, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.TriggerReconcileInput) error {
		we.triggers = append(we.triggers, in.Reason)
		return nil
	})
	env.OnActivity(a.SaveXrayWatchState, mock.Anything, mock.Anything).Return(func(_ context.Context, in schedules.XrayWatchInput) error {
		we.saved = append(we.saved, in)
		return nil
	})
	return we
}

func (we *watchEnv) run(t *testing.T, last time.Time) XrayWatchResult {
	t.Helper()
	we.ExecuteWorkflow(XrayWatch, schedules.XrayWatchInput{XrayStartedAt: last})
	require.True(t, we.IsWorkflowCompleted())
	require.NoError(t, we.GetWorkflowError())
	var res XrayWatchResult
	require.NoError(t, we.GetWorkflowResult(&res))
	return res
}

func TestXrayWatch(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	t.Run("first look reconciles and remembers", func(t *testing.T) {
		we := newWatchEnv(t0, nil)
		res := we.run(t, time.Time{})
		require.True(t, res.Restarted)
		require.True(t, res.ReconcileSent)
		require.Equal(t, []string{"first look at xray"}, we.triggers)
		require.Len(t, we.saved, 1)
		require.True(t, we.saved[0].XrayStartedAt.Equal(t0))
	})
	t.Run("same process does nothing", func(t *testing.T) {
		we := newWatchEnv(t0.Add(time.Second), nil) // rounding of uptime
		res := we.run(t, t0)
		require.False(t, res.Restarted)
		require.Empty(t, we.triggers)
		require.Empty(t, we.saved)
	})
	t.Run("restart reconciles at once", func(t *testing.T) {
		we := newWatchEnv(t0.Add(10*time.Minute), nil)
		res := we.run(t, t0)
		require.True(t, res.Restarted)
		require.Equal(t, []string{"xray restarted"}, we.triggers)
		require.Len(t, we.saved, 1)
		require.True(t, we.saved[0].XrayStartedAt.Equal(t0.Add(10*time.Minute)))
	})
	t.Run("an earlier start is clock skew, not a restart", func(t *testing.T) {
		we := newWatchEnv(t0.Add(-time.Minute), nil)
		res := we.run(t, t0)
		require.False(t, res.Restarted)
		require.Empty(t, we.triggers)
		require.Empty(t, we.saved)
	})
	t.Run("xray down is reported, not failed", func(t *testing.T) {
		we := newWatchEnv(t0, errors.New("connection refused"))
		res := we.run(t, t0)
		require.True(t, res.XrayDown)
		require.Empty(t, we.triggers)
		require.Empty(t, we.saved)
	})
}

func TestXrayRestarted(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		last, now time.Time
		want      bool
	}{
		{time.Time{}, t0, true},
		{t0, t0, false},
		{t0, t0.Add(XrayRestartSlack), false},
		{t0, t0.Add(XrayRestartSlack + time.Second), true},
		{t0, t0.Add(-time.Hour), false},
	} {
		require.Equal(t, c.want, XrayRestarted(c.last, c.now), "last %s now %s", c.last, c.now)
	}
}
