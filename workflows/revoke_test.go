package workflows

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"

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
