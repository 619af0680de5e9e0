package workflows

import (
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/schedules"
)

// reconcilePerNodeChange marks the Reconcile runs that reconcile each Xray
// node in a child workflow of its own, all at once; runs recorded before
// it walk one Xray's keys themselves.
const reconcilePerNodeChange = "reconcile-per-node"

// reconcileNodeGiveUpChange marks the ReconcileNode runs that, when their
// node has not answered for NodeGiveUp, end with a result that says so
// instead of failing. A node down is an outage the health check reports
// and the next run retries; runs recorded before it failed there.
const reconcileNodeGiveUpChange = "reconcile-node-gives-up"

// NodeReconcileResult is what the reconciliation of one node did.
type NodeReconcileResult struct {
	NodeID     int16
	Node       string
	WorkflowID string `json:",omitempty"` // the node's child (set by the parent)
	Checked    int
	Readded    int
	Removed    int
	Foreign    int
	Errors     int
	Pages      int
	Runs       int
	Failed     string `json:",omitempty"` // why the node's reconciliation gave up; "" when it finished
}

// reconcileNodes starts one ReconcileNode child per node in service and
// adds up what they did. A node whose child fails (its Xray hung or down
// for longer than its activities wait) is reported, and the others'
// results stand: the next run tries that node again.
func reconcileNodes(ctx workflow.Context, in schedules.ReconcileInput, p schedules.ReconcileProgress) (ReconcileResult, error) {
	var a *activities.Activities
	log := workflow.GetLogger(ctx)
	var nodes activities.XrayNodes
	if err := workflow.ExecuteActivity(withNodeList(ctx), a.ListXrayNodes, activities.XrayNodesInput{}).Get(ctx, &nodes); err != nil {
		return ReconcileResult{}, fmt.Errorf("list xray nodes: %w", err)
	}
	at := workflow.Now(ctx)
	futures := make([]workflow.ChildWorkflowFuture, len(nodes.Nodes))
	for i, n := range nodes.Nodes {
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID:               schedules.ReconcileNodeWorkflowID(n.ID, at),
			WorkflowExecutionTimeout: time.Hour,
			WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		})
		futures[i] = workflow.ExecuteChildWorkflow(cctx, schedules.ReconcileNodeWorkflowType, schedules.ReconcileNodeInput{
			NodeID: n.ID, Node: n.Name, PageSize: in.PageSize, PagesPerRun: in.PagesPerRun,
		})
	}
	res := ReconcileResult{
		Checked: p.Checked, Readded: p.Readded, Errors: p.Errors, Pages: p.Pages, Runs: p.Runs,
		Overdue: p.Overdue, OverdueFailed: p.OverdueFailed,
	}
	for i, f := range futures {
		var nr NodeReconcileResult
		if err := f.Get(ctx, &nr); err != nil {
			nr = NodeReconcileResult{NodeID: nodes.Nodes[i].ID, Node: nodes.Nodes[i].Name, Failed: err.Error()}
		}
		if nr.Failed != "" {
			res.NodesFailed++
			log.Error("reconcile: a node's reconciliation gave up; the next run tries again", "node", nr.Node, "error", nr.Failed)
		}
		nr.WorkflowID = schedules.ReconcileNodeWorkflowID(nodes.Nodes[i].ID, at)
		res.Nodes = append(res.Nodes, nr)
		res.Checked += nr.Checked
		res.Readded += nr.Readded
		res.Removed += nr.Removed
		res.Foreign += nr.Foreign
		res.Errors += nr.Errors
		res.Pages += nr.Pages
	}
	log.Info("reconcile done", "nodes", len(res.Nodes), "nodes_failed", res.NodesFailed, "checked", res.Checked,
		"readded", res.Readded, "removed", res.Removed, "errors", res.Errors, "foreign", res.Foreign, "pages", res.Pages,
		"overdue", res.Overdue, "overdue_failed", res.OverdueFailed)
	return res, nil
}

// ReconcileNode makes one node's Xray serve exactly that node's live keys:
// it walks them a page at a time (each page one activity), continuing as
// new after PagesPerRun pages, and then removes the users under our email
// domain that no live key of the node accounts for. Its activities give up
// after a few minutes of the node not answering, so a hung node's child
// ends within the schedule's interval instead of running on: with a result
// whose Failed says why (from reconcileNodeGiveUpChange; failed before).
func ReconcileNode(ctx workflow.Context, in schedules.ReconcileNodeInput) (NodeReconcileResult, error) {
	rin := schedules.ReconcileInput{PageSize: in.PageSize, PagesPerRun: in.PagesPerRun}.WithDefaults()
	in.PageSize, in.PagesPerRun = rin.PageSize, rin.PagesPerRun
	var p schedules.ReconcileNodeProgress
	if in.Progress != nil {
		p = *in.Progress
	}
	p.Runs++
	var a *activities.Activities
	pageCtx := withNodePage(ctx)
	for done, pages := false, 0; !done; pages++ {
		if pages == in.PagesPerRun {
			next := in
			next.Progress = &p
			return NodeReconcileResult{}, workflow.NewContinueAsNewError(ctx, schedules.ReconcileNodeWorkflowType, next)
		}
		var page activities.ReconcilePageResult
		err := workflow.ExecuteActivity(pageCtx, a.ReconcilePage, activities.ReconcilePageInput{
			AfterUserID: p.AfterUserID, Limit: in.PageSize, Now: workflow.Now(ctx), NodeID: in.NodeID,
		}).Get(ctx, &page)
		if err != nil {
			err = fmt.Errorf("reconcile node %s: page after user %d: %w", in.Node, p.AfterUserID, err)
			if nodeGaveUp(ctx, err) {
				return gaveUp(ctx, in, p, err), nil
			}
			return NodeReconcileResult{}, err
		}
		p.Pages++
		p.Checked += page.Checked
		p.Readded += page.Readded
		p.Errors += page.Errors
		p.AfterUserID = page.NextAfter
		done = page.Done
	}
	var orphans activities.RemoveOrphansResult
	err := workflow.ExecuteActivity(withNodeOrphanSweep(ctx), a.RemoveOrphans, activities.RemoveOrphansInput{
		PageSize: in.PageSize, Now: workflow.Now(ctx), NodeID: in.NodeID,
	}).Get(ctx, &orphans)
	if err != nil {
		err = fmt.Errorf("reconcile node %s: remove orphans: %w", in.Node, err)
		if nodeGaveUp(ctx, err) {
			return gaveUp(ctx, in, p, err), nil
		}
		return NodeReconcileResult{}, err
	}
	res := NodeReconcileResult{
		NodeID: in.NodeID, Node: in.Node, Checked: p.Checked, Readded: p.Readded, Removed: orphans.Removed,
		Foreign: orphans.Foreign, Errors: p.Errors + orphans.Errors, Pages: p.Pages, Runs: p.Runs,
	}
	workflow.GetLogger(ctx).Info("reconcile node done", "node", in.Node, "checked", res.Checked, "readded", res.Readded,
		"removed", res.Removed, "errors", res.Errors, "pages", res.Pages, "runs", res.Runs)
	return res, nil
}

// nodeGaveUp reports whether err is an activity's retries running out of
// time (its node did not answer for NodeGiveUp), not a failure of its own,
// in a run from reconcileNodeGiveUpChange on. The node activities' retry
// policies set no attempt limit, so a timeout or a retryable error reaches
// the workflow only when their ScheduleToClose has passed; a non-retryable
// error (the inbound gone, a bad page) still fails the run.
func nodeGaveUp(ctx workflow.Context, err error) bool {
	var timeout *temporal.TimeoutError
	var app *temporal.ApplicationError
	switch {
	case errors.As(err, &timeout):
	case errors.As(err, &app) && !app.NonRetryable():
	default:
		return false
	}
	return workflow.GetVersion(ctx, reconcileNodeGiveUpChange, workflow.DefaultVersion, 1) == 1
}

// gaveUp is the result of a node's reconciliation that stopped because the
// node did not answer: what it had done, and why it stopped. Orphans are
// not swept after an incomplete scan.
func gaveUp(ctx workflow.Context, in schedules.ReconcileNodeInput, p schedules.ReconcileNodeProgress, err error) NodeReconcileResult {
	workflow.GetLogger(ctx).Warn("reconcile node gave up: the node does not answer; the next run tries again",
		"node", in.Node, "error", err)
	return NodeReconcileResult{
		NodeID: in.NodeID, Node: in.Node, Checked: p.Checked, Readded: p.Readded, Errors: p.Errors,
		Pages: p.Pages, Runs: p.Runs, Failed: err.Error(),
	}
}

// NodeGiveUp is how long one node's page or orphan sweep is retried while
// the node does not answer before its reconciliation gives up until the
// next run: well inside the reconcile interval (10 minutes by default).
const NodeGiveUp = 3 * time.Minute

// withNodePage is withReconcilePage bounded by NodeGiveUp.
func withNodePage(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    2 * time.Minute,
		HeartbeatTimeout:       30 * time.Second,
		ScheduleToCloseTimeout: NodeGiveUp,
		RetryPolicy:            backoff(30 * time.Second),
	})
}

// withNodeOrphanSweep is withOrphanSweep bounded by NodeGiveUp beyond its
// own longest run.
func withNodeOrphanSweep(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    10 * time.Minute,
		HeartbeatTimeout:       time.Minute,
		ScheduleToCloseTimeout: 10*time.Minute + NodeGiveUp,
		RetryPolicy:            backoff(30 * time.Second),
	})
}

// withNodeList is for reading the nodes in service: one query (or the
// worker's last view of them), retried for a minute.
func withNodeList(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    10 * time.Second,
		ScheduleToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    10 * time.Second,
		},
	})
}
