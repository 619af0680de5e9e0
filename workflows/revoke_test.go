package workflows

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/schedules"
	"vpnflow/internal/shop"
)

// The sweep reads "now" from the workflow clock, runs on the Xray
// bulkhead, and a run that cannot finish ends with the error after a few
// attempts (the next scheduled run tries again) instead of stacking.
func TestRevokeExpiredRunsOnTheXrayBulkheadWithWorkflowTime(t *testing.T) {
	env := newTestEnv()
	a := &activities.Activities{}
	env.RegisterActivity(a)
	var got activities.RevokeExpiredInput
	var queue string
	env.OnActivity(a.RevokeExpired, mock.Anything, mock.Anything).Return(func(ctx context.Context, in activities.RevokeExpiredInput) (activities.RevokeExpiredResult, error) {
		got, queue = in, activity.GetInfo(ctx).TaskQueue
		return activities.RevokeExpiredResult{Expired: 7, Removed: 5, Restored: 1}, nil
	})
	env.ExecuteWorkflow(RevokeExpired, schedules.RevokeInput{})
	require.NoError(t, env.GetWorkflowError())
	var res RevokeResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, 5, res.Removed)
	require.Empty(t, res.Skipped)
	require.True(t, env.Now().Equal(got.Now), "the sweep judges expiry by the workflow clock")
	require.Equal(t, schedules.DefaultPageSize, got.PageSize)
	require.Equal(t, shop.BulkheadQueue("default-test-taskqueue", shop.BulkheadXray), queue)
}

// A run that cannot reach Xray is skipped after three attempts, not
// failed: the chaos-seed audit counts failed workflows, and a hung Xray is
// the health check's to report.
func TestRevokeExpiredSkipsAfterThreeAttempts(t *testing.T) {
	env := newTestEnv()
	a := &activities.Activities{}
	env.RegisterActivity(a)
	attempts := 0
	env.OnActivity(a.RevokeExpired, mock.Anything, mock.Anything).Return(func(context.Context, activities.RevokeExpiredInput) (activities.RevokeExpiredResult, error) {
		attempts++
		return activities.RevokeExpiredResult{}, errors.New("xray unavailable")
	})
	env.ExecuteWorkflow(RevokeExpired, schedules.RevokeInput{})
	require.NoError(t, env.GetWorkflowError())
	var res RevokeResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Contains(t, res.Skipped, "xray unavailable")
	require.Equal(t, 3, attempts)
}

// The Schedules start their workflows on the operations queue; their
// activities still go to the bulkheads of the workflows' queue, which the
// worker serves.
func TestScheduledWorkflowOnTheOpsQueueUsesTheBaseBulkheads(t *testing.T) {
	env := newTestEnv()
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{TaskQueue: shop.OpsQueue("vpnflow")})
	a := &activities.Activities{}
	env.RegisterActivity(a)
	var queue string
	env.OnActivity(a.RevokeExpired, mock.Anything, mock.Anything).Return(func(ctx context.Context, _ activities.RevokeExpiredInput) (activities.RevokeExpiredResult, error) {
		queue = activity.GetInfo(ctx).TaskQueue
		return activities.RevokeExpiredResult{}, nil
	})
	env.ExecuteWorkflow(RevokeExpired, schedules.RevokeInput{})
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, "vpnflow-xray", queue)
}

// revokeCalls records each sweep's input and answers with the storm the
// test names for it (by call, from the first): zero ends the run.
func revokeCalls(t *testing.T, storms ...func(in activities.RevokeExpiredInput) time.Time) (*testsuite.TestWorkflowEnvironment, *[]activities.RevokeExpiredInput) {
	t.Helper()
	env := newTestEnv()
	a := &activities.Activities{}
	env.RegisterActivity(a)
	var got []activities.RevokeExpiredInput
	env.OnActivity(a.RevokeExpired, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RevokeExpiredInput) (activities.RevokeExpiredResult, error) {
		got = append(got, in)
		res := activities.RevokeExpiredResult{Expired: 2, Removed: 1}
		if i := len(got) - 1; i < len(storms) {
			res.StormAt = storms[i](in)
		}
		return res, nil
	})
	return env, &got
}

// A storm due within the watch is swept when it falls due, by the same
// run: the second sweep judges expiry at the storm's moment, not 30 s
// later at the next run.
func TestRevokeExpiredSweepsAStormWhenItFallsDue(t *testing.T) {
	var stormAt time.Time
	env, got := revokeCalls(t, func(in activities.RevokeExpiredInput) time.Time {
		stormAt = in.Now.Add(12 * time.Second)
		return stormAt
	})
	start := env.Now()
	env.ExecuteWorkflow(RevokeExpired, schedules.RevokeInput{})
	require.NoError(t, env.GetWorkflowError())
	var res RevokeResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Len(t, *got, 2)
	require.Equal(t, 2, res.Sweeps)
	require.Equal(t, 2, res.Removed, "the counts add up over the sweeps")
	first, second := (*got)[0], (*got)[1]
	require.True(t, first.WatchUntil.Equal(start.Add(schedules.RevokeWatch)), "watch until %s, want %s", first.WatchUntil, start.Add(schedules.RevokeWatch))
	require.False(t, second.Now.Before(stormAt), "the second sweep at %s, before the storm at %s", second.Now, stormAt)
	require.Less(t, second.Now.Sub(stormAt), time.Second)
}

// A storm due after the watch is the next run's; and a run sweeps at
// most maxRevokeSweeps times, however many storms follow each other.
func TestRevokeExpiredLeavesLaterStormsToTheNextRun(t *testing.T) {
	env, got := revokeCalls(t, func(in activities.RevokeExpiredInput) time.Time { return in.WatchUntil.Add(time.Second) })
	env.ExecuteWorkflow(RevokeExpired, schedules.RevokeInput{})
	require.NoError(t, env.GetWorkflowError())
	require.Len(t, *got, 1)

	endless := make([]func(activities.RevokeExpiredInput) time.Time, 2*maxRevokeSweeps)
	for i := range endless {
		endless[i] = func(in activities.RevokeExpiredInput) time.Time { return in.Now.Add(500 * time.Millisecond) }
	}
	env, got = revokeCalls(t, endless...)
	env.ExecuteWorkflow(RevokeExpired, schedules.RevokeInput{})
	require.NoError(t, env.GetWorkflowError())
	require.Len(t, *got, maxRevokeSweeps)
}

// A run recorded before the watch (revokeWatchChange) sweeps once and
// asks for no storm.
func TestRevokeExpiredBeforeTheWatchSweepsOnce(t *testing.T) {
	env, got := revokeCalls(t, func(in activities.RevokeExpiredInput) time.Time { return in.Now.Add(time.Second) })
	env.OnGetVersion(revokeWatchChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	env.ExecuteWorkflow(RevokeExpired, schedules.RevokeInput{})
	require.NoError(t, env.GetWorkflowError())
	require.Len(t, *got, 1)
	require.True(t, (*got)[0].WatchUntil.IsZero())
}

func TestStormWatch(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	w := stormWatch{until: t0.Add(25 * time.Second)}
	for _, tc := range []struct {
		storm, now time.Time
		d          time.Duration
		ok         bool
	}{
		{time.Time{}, t0, 0, false},                            // none due
		{t0.Add(10 * time.Second), t0, 10 * time.Second, true}, // ahead: sleep until it
		{t0.Add(-time.Second), t0, 0, true},                    // fell due during the sweep: at once
		{t0.Add(25 * time.Second), t0, 25 * time.Second, true}, // the watch's last moment
		{t0.Add(26 * time.Second), t0, 0, false},               // the next run's
	} {
		if _, ok := (stormWatch{}).wait(tc.storm, tc.now); ok {
			t.Errorf("no watch, storm %s: swept again", tc.storm)
		}
		d, ok := w.wait(tc.storm, tc.now)
		require.Equal(t, tc.d, d, "storm %s", tc.storm)
		require.Equal(t, tc.ok, ok, "storm %s", tc.storm)
	}
}
