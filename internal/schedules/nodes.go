package schedules

import (
	"strconv"
	"time"
)

// ReconcileNodeWorkflowType is the child workflow a Reconcile run starts
// for each Xray node in service: each node is reconciled on its own, in
// parallel, so a node that hangs holds up nothing but its own child.
const ReconcileNodeWorkflowType = "ReconcileNode"

// ReconcileNodeInput starts the reconciliation of one node. Progress is
// nil at first and carries the totals over continue-as-new.
type ReconcileNodeInput struct {
	NodeID      int16
	Node        string // the node's name, for people
	PageSize    int
	PagesPerRun int
	Progress    *ReconcileNodeProgress
}

// ReconcileNodeProgress is where a node's reconciliation is and what it
// did so far. It holds user ids and counts only, never a key.
type ReconcileNodeProgress struct {
	AfterUserID int64
	Pages       int
	Checked     int
	Readded     int
	Errors      int
	Runs        int
}

// ReconcileNodeWorkflowID names a Reconcile run's child for one node.
func ReconcileNodeWorkflowID(parentID string, node int16) string {
	return parentID + "/node-" + strconv.Itoa(int(node))
}

// XrayNodeSeen is when the Xray process of one node, as XrayWatch last saw
// it, started.
type XrayNodeSeen struct {
	NodeID    int16
	StartedAt time.Time
}
