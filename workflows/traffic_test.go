package workflows

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/schedules"
)

func TestCollectTrafficRetriesTheWriteWithTheSameBatch(t *testing.T) {
	env := newTestEnv()
	a := &activities.Activities{}
	env.RegisterActivity(a)
	oneNode(env, a)
	reads := 0
	reading := activities.TrafficReading{Deltas: []activities.TrafficDelta{{Email: "tg1@vpnflow", Up: 10, Down: 20}}}
	env.OnActivity(a.ReadTrafficCounters, mock.Anything, mock.Anything).Return(func(context.Context, activities.ReadTrafficInput) (activities.TrafficReading, error) {
		reads++
		return reading, nil
	})
	var writes []activities.RecordTrafficInput
	env.OnActivity(a.RecordTrafficBatch, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RecordTrafficInput) (activities.RecordTrafficResult, error) {
		writes = append(writes, in)
		if len(writes) < 3 {
			return activities.RecordTrafficResult{}, errors.New("database restarting")
		}
		return activities.RecordTrafficResult{Applied: true, Updated: 1}, nil
	})
	env.ExecuteWorkflow(CollectTraffic, schedules.TrafficInput{})
	require.NoError(t, env.GetWorkflowError())
	var res TrafficResult
	require.NoError(t, env.GetWorkflowResult(&res))

	// One reading (the counters were reset by it), written until the
	// database takes it, every time under the same batch id.
	require.Equal(t, 1, reads)
	require.Len(t, writes, 3)
	for _, w := range writes {
		require.Equal(t, res.BatchID+"/node-1", w.BatchID)
		require.Equal(t, reading.Deltas, w.Deltas)
	}
	require.NotEmpty(t, res.BatchID)
	require.True(t, res.Applied)
	require.Equal(t, 1, res.Users)
}

func TestCollectTrafficWithoutTrafficWritesNothing(t *testing.T) {
	env := newTestEnv()
	a := &activities.Activities{}
	env.RegisterActivity(a)
	oneNode(env, a)
	env.OnActivity(a.ReadTrafficCounters, mock.Anything, mock.Anything).Return(activities.TrafficReading{}, nil)
	env.ExecuteWorkflow(CollectTraffic, schedules.TrafficInput{})
	require.NoError(t, env.GetWorkflowError())
	env.AssertNotCalled(t, "RecordTrafficBatch", mock.Anything, mock.Anything)
}

// Xray down or hung is an outage the health check reports, not a failed
// workflow: the counters wait in Xray for the next run, so the run ends as
// skipped. Found by the chaos suite, whose audit counts failed workflows:
// every collection during an Xray freeze failed.
func TestCollectTrafficSkipsWhileXrayIsUnreachable(t *testing.T) {
	env := newTestEnv()
	a := &activities.Activities{}
	env.RegisterActivity(a)
	oneNode(env, a)
	env.OnActivity(a.ReadTrafficCounters, mock.Anything, mock.Anything).Return(activities.TrafficReading{}, errors.New("xray: circuit open"))
	env.ExecuteWorkflow(CollectTraffic, schedules.TrafficInput{})
	require.NoError(t, env.GetWorkflowError())
	var res TrafficResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Contains(t, res.Skipped, "circuit open")
	require.False(t, res.Applied)
	env.AssertNotCalled(t, "RecordTrafficBatch", mock.Anything, mock.Anything)
}

// Each node is read and written on its own: a node whose Xray does not
// answer is skipped, and the others' counters are recorded under batch
// ids of their own.
func TestCollectTrafficPerNode(t *testing.T) {
	env := newTestEnv()
	a := &activities.Activities{}
	env.RegisterActivity(a)
	env.OnActivity(a.ListXrayNodes, mock.Anything, mock.Anything).Return(activities.XrayNodes{Nodes: []activities.XrayNode{
		{ID: 1, Name: "default"}, {ID: 2, Name: "eu-2"}, {ID: 3, Name: "us-1"},
	}}, nil)
	env.OnActivity(a.ReadTrafficCounters, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.ReadTrafficInput) (activities.TrafficReading, error) {
		if in.NodeID == 2 {
			return activities.TrafficReading{}, errors.New("xray: circuit open")
		}
		return activities.TrafficReading{Deltas: []activities.TrafficDelta{{Email: fmt.Sprintf("tg%d@vpnflow", in.NodeID), Up: 1}}}, nil
	})
	var mu sync.Mutex // the nodes' writes run at once
	var batches []string
	env.OnActivity(a.RecordTrafficBatch, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RecordTrafficInput) (activities.RecordTrafficResult, error) {
		mu.Lock()
		defer mu.Unlock()
		batches = append(batches, in.BatchID)
		return activities.RecordTrafficResult{Applied: true, Updated: len(in.Deltas)}, nil
	})
	env.ExecuteWorkflow(CollectTraffic, schedules.TrafficInput{})
	require.NoError(t, env.GetWorkflowError())
	var res TrafficResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.ElementsMatch(t, []string{res.BatchID + "/node-1", res.BatchID + "/node-3"}, batches)
	require.Equal(t, 2, res.Users)
	require.Equal(t, 2, res.Updated)
	require.True(t, res.Applied)
	require.Contains(t, res.Skipped, "eu-2")
}

// Each node's reading carries its time and the run's grace to the write,
// which looks for revoked keys that moved bytes; their counts add up.
func TestCollectTrafficPerNodeChecksRevokedKeys(t *testing.T) {
	env := newTestEnv()
	a := &activities.Activities{}
	env.RegisterActivity(a)
	env.OnActivity(a.ListXrayNodes, mock.Anything, mock.Anything).Return(activities.XrayNodes{Nodes: []activities.XrayNode{
		{ID: 1, Name: "default"}, {ID: 2, Name: "eu-2"},
	}}, nil)
	readAt := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	env.OnActivity(a.ReadTrafficCounters, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.ReadTrafficInput) (activities.TrafficReading, error) {
		return activities.TrafficReading{ReadAt: readAt.Add(time.Duration(in.NodeID) * time.Second),
			Deltas: []activities.TrafficDelta{{Email: fmt.Sprintf("tg%d@vpnflow", in.NodeID), Up: 1}}}, nil
	})
	var mu sync.Mutex // the nodes' writes run at once
	var writes []activities.RecordTrafficInput
	env.OnActivity(a.RecordTrafficBatch, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RecordTrafficInput) (activities.RecordTrafficResult, error) {
		mu.Lock()
		defer mu.Unlock()
		writes = append(writes, in)
		return activities.RecordTrafficResult{Applied: true, Updated: 1, Revoked: 1}, nil
	})
	env.ExecuteWorkflow(CollectTraffic, schedules.TrafficInput{RevokedGrace: 7 * time.Second})
	require.NoError(t, env.GetWorkflowError())
	var res TrafficResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Len(t, writes, 2)
	for _, w := range writes {
		node := int64(1)
		if strings.HasSuffix(w.BatchID, "/node-2") {
			node = 2
		}
		require.Equal(t, 7*time.Second, w.RevokedGrace, w.BatchID)
		require.True(t, w.ReadAt.Equal(readAt.Add(time.Duration(node)*time.Second)), "%s read at %s", w.BatchID, w.ReadAt)
	}
	require.Equal(t, 2, res.Revoked)
}

// Runs recorded before nodes read the one Xray under the run's batch id.
func TestCollectTrafficBeforeNodes(t *testing.T) {
	env := newTestEnv()
	a := &activities.Activities{}
	env.RegisterActivity(a)
	env.OnGetVersion(trafficPerNodeChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	env.OnActivity(a.ReadTrafficCounters, mock.Anything, mock.Anything).Return(activities.TrafficReading{Deltas: []activities.TrafficDelta{{Email: "tg1@vpnflow", Up: 1}}}, nil)
	var batch string
	env.OnActivity(a.RecordTrafficBatch, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RecordTrafficInput) (activities.RecordTrafficResult, error) {
		batch = in.BatchID
		return activities.RecordTrafficResult{Applied: true, Updated: 1}, nil
	})
	env.ExecuteWorkflow(CollectTraffic, schedules.TrafficInput{})
	require.NoError(t, env.GetWorkflowError())
	var res TrafficResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, res.BatchID, batch)
}

// oneNode gives env's workflows one Xray node, "default" (id 1).
func oneNode(env *testsuite.TestWorkflowEnvironment, a *activities.Activities) {
	env.OnActivity(a.ListXrayNodes, mock.Anything, mock.Anything).Return(activities.XrayNodes{Nodes: []activities.XrayNode{{ID: 1, Name: "default"}}}, nil)
}
