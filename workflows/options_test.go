package workflows

import (
	"context"
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"

	"vpnflow/activities"
	"vpnflow/internal/schedules"
	"vpnflow/internal/shop"
)

// Each activity runs on the bulkhead queue of the system it calls, beside
// the workflow's own task queue, so the worker's per-queue limits apply.
func TestActivitiesRunOnTheirBulkheadQueues(t *testing.T) {
	env := newTestEnv()
	a := &activities.Activities{}
	env.RegisterActivity(a)
	oneNode(env, a)
	queues := map[string]string{}
	env.OnActivity(a.ReadTrafficCounters, mock.Anything, mock.Anything).Return(func(ctx context.Context, _ activities.ReadTrafficInput) (activities.TrafficReading, error) {
		queues["read"] = activity.GetInfo(ctx).TaskQueue
		return activities.TrafficReading{Deltas: []activities.TrafficDelta{{Email: "tg1@vpnflow", Up: 1}}}, nil
	})
	env.OnActivity(a.RecordTrafficBatch, mock.Anything, mock.Anything).Return(func(ctx context.Context, _ activities.RecordTrafficInput) (activities.RecordTrafficResult, error) {
		queues["record"] = activity.GetInfo(ctx).TaskQueue
		return activities.RecordTrafficResult{Applied: true}, nil
	})
	env.ExecuteWorkflow(CollectTraffic, schedules.TrafficInput{})
	require.NoError(t, env.GetWorkflowError())
	base := "default-test-taskqueue"
	require.Equal(t, shop.BulkheadQueue(base, shop.BulkheadXray), queues["read"])
	require.Equal(t, shop.BulkheadQueue(base, shop.BulkheadDB), queues["record"])
}
