package workflows

import (
	"context"
	"errors"
	"strings"
	"sync"
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
// every third one was missing from Xray. The test environment runs the
// nodes' activities at once, hence the lock.
type fakeLiveKeys struct {
	mu       sync.Mutex
	n        int64
	calls    []activities.ReconcilePageInput
	failAt   int64   // a page after this user id fails for good; 0 never
	failNode int16   // every page of this node fails for good; 0 none
	hangNode int16   // every page of this node fails and may be retried (its Xray does not answer); 0 none
	swept    []int16 // the nodes whose orphans were swept
}

func (f *fakeLiveKeys) page(_ context.Context, in activities.ReconcilePageInput) (activities.ReconcilePageResult, error) {
	if in.Now.IsZero() {
		return activities.ReconcilePageResult{}, temporal.NewNonRetryableApplicationError("no time given", "Invalid", nil)
	}
	in.Now = time.Time{} // the calls are compared by page bounds
	f.mu.Lock()
	f.calls = append(f.calls, in)
	f.mu.Unlock()
	if (f.failAt != 0 && in.AfterUserID == f.failAt) || (f.failNode != 0 && in.NodeID == f.failNode) {
		return activities.ReconcilePageResult{}, temporal.NewNonRetryableApplicationError("inbound gone", activities.ErrConfiguration, nil)
	}
	if f.hangNode != 0 && in.NodeID == f.hangNode {
		return activities.ReconcilePageResult{}, errors.New("xray default: circuit open: calls fail fast until a probe gets through")
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

func newReconcileEnv(keys *fakeLiveKeys, nodes ...activities.XrayNode) (*testsuite.TestWorkflowEnvironment, *activities.Activities) {
	env := newTestEnv()
	a := &activities.Activities{}
	env.RegisterActivity(a)
	env.RegisterWorkflowWithOptions(ReconcileNode, workflow.RegisterOptions{Name: schedules.ReconcileNodeWorkflowType})
	if len(nodes) == 0 {
		nodes = []activities.XrayNode{{ID: 1, Name: "default"}}
	}
	env.OnActivity(a.ListXrayNodes, mock.Anything, mock.Anything).Return(activities.XrayNodes{Nodes: nodes}, nil)
	env.OnActivity(a.ReconcilePage, mock.Anything, mock.Anything).Return(keys.page)
	env.OnActivity(a.RemoveOrphans, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RemoveOrphansInput) (activities.RemoveOrphansResult, error) {
		keys.mu.Lock()
		keys.swept = append(keys.swept, in.NodeID)
		keys.mu.Unlock()
		return activities.RemoveOrphansResult{InXray: 10, Foreign: 2, Removed: 3, Errors: 1}, nil
	})
	// No row is overdue.
	env.OnActivity(a.HandOverOverdue, mock.Anything, mock.Anything).Return(activities.OverduePageResult{Done: true}, nil)
	return env, a
}

// legacy makes env's Reconcile a run recorded before nodes.
func legacy(env *testsuite.TestWorkflowEnvironment) {
	env.OnGetVersion(reconcilePerNodeChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
}

func TestReconcileWalksEveryPageThenSweepsOrphans(t *testing.T) {
	keys := &fakeLiveKeys{n: 2500}
	env, _ := newReconcileEnv(keys)
	env.ExecuteWorkflow(Reconcile, schedules.ReconcileInput{PageSize: 1000, PagesPerRun: 10})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res ReconcileResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Len(t, res.Nodes, 1)
	require.True(t, strings.HasPrefix(res.Nodes[0].WorkflowID, schedules.ReconcileNodeIDPrefix(1)))
	res.Nodes[0].WorkflowID = ""
	require.Equal(t, ReconcileResult{Checked: 2500, Readded: 833, Removed: 3, Foreign: 2, Errors: 1, Pages: 3, Runs: 1,
		Nodes: []NodeReconcileResult{{NodeID: 1, Node: "default", Checked: 2500, Readded: 833, Removed: 3, Foreign: 2, Errors: 1, Pages: 3, Runs: 1}}}, res)
	require.Equal(t, []activities.ReconcilePageInput{
		{AfterUserID: 0, Limit: 1000, NodeID: 1}, {AfterUserID: 1000, Limit: 1000, NodeID: 1}, {AfterUserID: 2000, Limit: 1000, NodeID: 1},
	}, keys.calls)
}

func TestReconcileBeforeNodesWalksEveryPageThenSweepsOrphans(t *testing.T) {
	keys := &fakeLiveKeys{n: 2500}
	env, _ := newReconcileEnv(keys)
	legacy(env)
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

// Every node in service is reconciled in a child of its own, with its own
// pages; the run adds them up.
func TestReconcileEachNodeInItsOwnChild(t *testing.T) {
	keys := &fakeLiveKeys{n: 1500}
	nodes := []activities.XrayNode{{ID: 1, Name: "default"}, {ID: 2, Name: "eu-2"}}
	env, _ := newReconcileEnv(keys, nodes...)
	var children []string
	env.SetOnChildWorkflowStartedListener(func(info *workflow.Info, _ workflow.Context, _ converter.EncodedValues) {
		children = append(children, info.WorkflowExecution.ID)
	})
	env.ExecuteWorkflow(Reconcile, schedules.ReconcileInput{PageSize: 1000})
	require.NoError(t, env.GetWorkflowError())
	var res ReconcileResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Len(t, res.Nodes, 2)
	require.Equal(t, 3000, res.Checked)
	require.Equal(t, 4, res.Pages)
	require.Equal(t, 6, res.Removed)
	require.Zero(t, res.NodesFailed)
	require.Len(t, children, 2)
	for i, n := range res.Nodes {
		require.True(t, strings.HasPrefix(n.WorkflowID, schedules.ReconcileNodeIDPrefix(n.NodeID)), n.WorkflowID)
		require.Contains(t, children, n.WorkflowID)
		require.NotEqual(t, res.Nodes[1-i].WorkflowID, n.WorkflowID)
	}
	perNode := map[int16]int{}
	for _, c := range keys.calls {
		perNode[c.NodeID]++
	}
	require.Equal(t, map[int16]int{1: 2, 2: 2}, perNode)
}

// A node whose reconciliation gives up (here: its inbound is gone) is
// reported, and the other node's reconciliation stands.
func TestReconcileOneNodeFailingLeavesTheOthers(t *testing.T) {
	res := reconcileWithNode2Failing(t, &fakeLiveKeys{n: 500, failNode: 2})
	for _, n := range res.Nodes {
		if n.NodeID == 2 {
			require.Contains(t, n.Failed, "inbound gone")
		} else {
			require.Empty(t, n.Failed)
		}
	}
}

// A node that does not answer for NodeGiveUp ends its reconciliation with
// a result that says why, not a failed workflow: the chaos-seed's 10-minute
// Xray hang left ten failed ReconcileNode workflows behind before this. The
// parent counts it among the nodes that failed, and the other node's
// reconciliation stands.
func TestReconcileNodeGivesUpOnAHungNode(t *testing.T) {
	keys := &fakeLiveKeys{n: 500, hangNode: 2}
	env, _ := newReconcileEnv(keys)
	env.ExecuteWorkflow(ReconcileNode, schedules.ReconcileNodeInput{NodeID: 2, Node: "hung", PageSize: 1000})
	require.NoError(t, env.GetWorkflowError(), "a hung node must not fail its reconciliation workflow")
	var nr NodeReconcileResult
	require.NoError(t, env.GetWorkflowResult(&nr))
	require.Contains(t, nr.Failed, "circuit open")
	require.Equal(t, int16(2), nr.NodeID)
	require.Empty(t, keys.swept, "orphans must not be swept after an incomplete scan")

	reconcileWithNode2Failing(t, &fakeLiveKeys{n: 500, hangNode: 2})
}

// reconcileWithNode2Failing runs Reconcile over nodes 1 and 2, whose
// pages keys fails, and checks that node 2 alone is reported failed while
// node 1's 500 keys are checked and its orphans swept.
func reconcileWithNode2Failing(t *testing.T, keys *fakeLiveKeys) ReconcileResult {
	t.Helper()
	env, _ := newReconcileEnv(keys, activities.XrayNode{ID: 1, Name: "default"}, activities.XrayNode{ID: 2, Name: "broken"})
	env.ExecuteWorkflow(Reconcile, schedules.ReconcileInput{PageSize: 1000})
	require.NoError(t, env.GetWorkflowError())
	var res ReconcileResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, 1, res.NodesFailed)
	require.Equal(t, 500, res.Checked)
	require.Equal(t, []int16{1}, keys.swept, "orphans must not be swept after an incomplete scan")
	return res
}

// A run recorded before reconcileNodeGiveUpChange still fails there, so
// its history replays.
func TestReconcileNodeBeforeGiveUpChangeFails(t *testing.T) {
	keys := &fakeLiveKeys{n: 500, hangNode: 2}
	env, _ := newReconcileEnv(keys)
	env.OnGetVersion(reconcileNodeGiveUpChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	env.ExecuteWorkflow(ReconcileNode, schedules.ReconcileNodeInput{NodeID: 2, Node: "hung", PageSize: 1000})
	require.ErrorContains(t, env.GetWorkflowError(), "circuit open")
}

// A node's child stops after PagesPerRun pages and continues as new with
// its progress; the chain of runs adds up to one reconciliation.
func TestReconcileNodeContinuesAsNewAndCarriesTotals(t *testing.T) {
	keys := &fakeLiveKeys{n: 10_500}
	in := schedules.ReconcileNodeInput{NodeID: 2, Node: "eu-2", PageSize: 1000, PagesPerRun: 4}
	var runs int
	for {
		runs++
		require.LessOrEqual(t, runs, 5, "too many runs")
		env, _ := newReconcileEnv(keys)
		env.ExecuteWorkflow(ReconcileNode, in)
		require.True(t, env.IsWorkflowCompleted())
		err := env.GetWorkflowError()
		var can *workflow.ContinueAsNewError
		if errors.As(err, &can) {
			require.Equal(t, schedules.ReconcileNodeWorkflowType, can.WorkflowType.Name)
			var next schedules.ReconcileNodeInput
			require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
			require.NotNil(t, next.Progress)
			require.Equal(t, runs, next.Progress.Runs)
			require.Equal(t, int64(runs*4000), next.Progress.AfterUserID)
			require.Equal(t, runs*4, next.Progress.Pages)
			require.Equal(t, int16(2), next.NodeID)
			in = next
			continue
		}
		require.NoError(t, err)
		var res NodeReconcileResult
		require.NoError(t, env.GetWorkflowResult(&res))
		require.Equal(t, NodeReconcileResult{NodeID: 2, Node: "eu-2", Checked: 10_500, Readded: 3500, Removed: 3, Foreign: 2, Errors: 1, Pages: 11, Runs: 3}, res)
		break
	}
	require.Equal(t, 3, runs)
	require.Len(t, keys.calls, 11)
	for i, c := range keys.calls {
		require.Equal(t, int64(i*1000), c.AfterUserID)
		require.Equal(t, int16(2), c.NodeID)
	}
}

// A run recorded before nodes stops after PagesPerRun pages and continues
// as new with its progress, as it always did.
func TestReconcileBeforeNodesContinuesAsNewAndCarriesTotals(t *testing.T) {
	keys := &fakeLiveKeys{n: 10_500}
	in := schedules.ReconcileInput{PageSize: 1000, PagesPerRun: 4}
	var runs int
	for {
		runs++
		require.LessOrEqual(t, runs, 5, "too many runs")
		env, _ := newReconcileEnv(keys)
		legacy(env)
		env.ExecuteWorkflow(Reconcile, in)
		require.True(t, env.IsWorkflowCompleted())
		err := env.GetWorkflowError()
		var can *workflow.ContinueAsNewError
		if errors.As(err, &can) {
			var next schedules.ReconcileInput
			require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
			require.Equal(t, runs, next.Progress.Runs)
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
}

func TestReconcileBeforeNodesFailsOnAPermanentPageError(t *testing.T) {
	keys := &fakeLiveKeys{n: 5000, failAt: 2000}
	env, _ := newReconcileEnv(keys)
	legacy(env)
	env.ExecuteWorkflow(Reconcile, schedules.ReconcileInput{PageSize: 1000})
	err := env.GetWorkflowError()
	require.Error(t, err)
	require.ErrorContains(t, err, "after user 2000")
	require.Empty(t, keys.swept, "orphans must not be swept after an incomplete scan")
}

func TestReconcileInputDefaults(t *testing.T) {
	in := schedules.ReconcileInput{}.WithDefaults()
	require.Equal(t, schedules.DefaultPageSize, in.PageSize)
	require.Equal(t, schedules.DefaultPagesPerRun, in.PagesPerRun)
	require.Equal(t, schedules.MaxPageSize, schedules.ReconcileInput{PageSize: 1 << 20}.WithDefaults().PageSize)
}

// watchEnv runs XrayWatch against nodes whose Xray started at starts (a
// node missing from starts does not answer).
type watchEnv struct {
	*testsuite.TestWorkflowEnvironment
	triggers []string
	saved    []schedules.XrayWatchInput
}

func newWatchEnv(xrayStart time.Time, xrayErr error) *watchEnv {
	starts := map[int16]time.Time{1: xrayStart}
	if xrayErr != nil {
		starts = nil
	}
	return newNodesWatchEnv([]activities.XrayNode{{ID: 1, Name: "default"}}, starts)
}

func newNodesWatchEnv(nodes []activities.XrayNode, starts map[int16]time.Time) *watchEnv {
	env := newTestEnv()
	a := &activities.Activities{}
	env.RegisterActivity(a)
	we := &watchEnv{TestWorkflowEnvironment: env}
	env.OnActivity(a.ListXrayNodes, mock.Anything, mock.Anything).Return(activities.XrayNodes{Nodes: nodes}, nil)
	env.OnActivity(a.XrayUptime, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.XrayUptimeInput) (activities.XrayUptimeResult, error) {
		node := in.NodeID
		if node == 0 {
			node = 1 // a run from before nodes: the worker's own node
		}
		start, ok := starts[node]
		if !ok {
			return activities.XrayUptimeResult{}, errors.New("connection refused")
		}
		return activities.XrayUptimeResult{Uptime: 42 * time.Second, StartedAt: start}, nil
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
	in := schedules.XrayWatchInput{}
	if !last.IsZero() {
		in.Nodes = []schedules.XrayNodeSeen{{NodeID: 1, StartedAt: last}}
	}
	return we.runFrom(t, in)
}

func (we *watchEnv) runFrom(t *testing.T, in schedules.XrayWatchInput) XrayWatchResult {
	t.Helper()
	we.ExecuteWorkflow(XrayWatch, in)
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
		require.Equal(t, []string{"first look at node default"}, we.triggers)
		require.Len(t, we.saved, 1)
		require.True(t, we.saved[0].Seen(1).Equal(t0))
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
		require.Equal(t, []string{"xray restarted on node default"}, we.triggers)
		require.Len(t, we.saved, 1)
		require.True(t, we.saved[0].Seen(1).Equal(t0.Add(10*time.Minute)))
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
	t.Run("a run from before nodes looks at the one xray", func(t *testing.T) {
		we := newWatchEnv(t0.Add(10*time.Minute), nil)
		we.OnGetVersion(xrayWatchPerNodeChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
		res := we.runFrom(t, schedules.XrayWatchInput{XrayStartedAt: t0})
		require.True(t, res.Restarted)
		require.Equal(t, []string{"xray restarted"}, we.triggers)
		require.True(t, we.saved[0].XrayStartedAt.Equal(t0.Add(10*time.Minute)))
	})
}

// Each node is looked at on its own: a restart on one triggers one
// reconciliation, a node that does not answer keeps what was seen of it,
// and an unchanged node changes nothing.
func TestXrayWatchPerNode(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	nodes := []activities.XrayNode{{ID: 1, Name: "default"}, {ID: 2, Name: "eu-2"}, {ID: 3, Name: "us-1"}}
	we := newNodesWatchEnv(nodes, map[int16]time.Time{1: t0, 3: t0.Add(time.Hour)})
	res := we.runFrom(t, schedules.XrayWatchInput{Nodes: []schedules.XrayNodeSeen{
		{NodeID: 1, StartedAt: t0}, {NodeID: 2, StartedAt: t0}, {NodeID: 3, StartedAt: t0},
	}})
	require.True(t, res.XrayDown)
	require.True(t, res.Restarted)
	require.Equal(t, []string{"xray restarted on node us-1"}, we.triggers)
	require.Len(t, res.Nodes, 3)
	require.True(t, res.Nodes[1].Down)
	require.True(t, res.Nodes[2].Restarted)
	require.Equal(t, []schedules.XrayWatchInput{{Nodes: []schedules.XrayNodeSeen{
		{NodeID: 1, StartedAt: t0}, {NodeID: 2, StartedAt: t0}, {NodeID: 3, StartedAt: t0.Add(time.Hour)},
	}}}, we.saved)
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
