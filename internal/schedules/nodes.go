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

// ReconcileNodeWorkflowID names a Reconcile run's child for one node,
// started at (the parent's workflow clock). It does not derive from the
// parent's ID: a replayer runs a history under an ID of its own, and a
// child's ID is part of the command it must match.
func ReconcileNodeWorkflowID(node int16, at time.Time) string {
	return ReconcileNodeIDPrefix(node) + at.UTC().Format(time.RFC3339Nano)
}

// ReconcileNodeIDPrefix is what every reconciliation of node's ID starts
// with.
func ReconcileNodeIDPrefix(node int16) string {
	return "vpnflow-reconcile-node-" + strconv.Itoa(int(node)) + "/"
}

// XrayNodeSeen is when the Xray process of one node, as XrayWatch last saw
// it, started.
type XrayNodeSeen struct {
	NodeID    int16
	StartedAt time.Time
}
