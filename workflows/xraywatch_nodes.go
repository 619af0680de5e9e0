package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/schedules"
)

// xrayWatchPerNodeChange marks the XrayWatch runs that look at every node
// in service, each in its own activity; runs recorded before it look at
// the one Xray.
const xrayWatchPerNodeChange = "xray-watch-per-node"

// NodeWatch is what one look at one node's Xray found.
type NodeWatch struct {
	NodeID    int16
	Node      string
	Down      bool
	Uptime    time.Duration
	Restarted bool
}

// xrayWatchNodes looks at every node's uptime at once, each a probe of its
// own (a hung node's probe times out alone), and triggers one
// reconciliation when any node's Xray is a new process. The start times
// seen are saved in the schedule's input by node; a node that did not
// answer keeps the time seen before.
func xrayWatchNodes(ctx workflow.Context, in schedules.XrayWatchInput) (XrayWatchResult, error) {
	var a *activities.Activities
	log := workflow.GetLogger(ctx)
	var nodes activities.XrayNodes
	if err := workflow.ExecuteActivity(withNodeList(ctx), a.ListXrayNodes, activities.XrayNodesInput{}).Get(ctx, &nodes); err != nil {
		log.Warn("xray watch: the nodes cannot be listed", "error", err)
		return XrayWatchResult{XrayDown: true}, nil
	}
	futures := make([]workflow.Future, len(nodes.Nodes))
	for i, n := range nodes.Nodes {
		futures[i] = workflow.ExecuteActivity(withProbe(ctx), a.XrayUptime, activities.XrayUptimeInput{NodeID: n.ID})
	}
	var (
		res      XrayWatchResult
		next     schedules.XrayWatchInput
		restarts []string
	)
	for i, n := range nodes.Nodes {
		w := NodeWatch{NodeID: n.ID, Node: n.Name}
		last := in.Seen(n.ID)
		var seen activities.XrayUptimeResult
		if err := futures[i].Get(ctx, &seen); err != nil {
			// The health check tells the admins; the next look after the
			// node is back sees a new process and heals it.
			log.Warn("xray watch: a node's xray does not answer", "node", n.Name, "error", err)
			w.Down, res.XrayDown = true, true
			if !last.IsZero() {
				next.Nodes = append(next.Nodes, schedules.XrayNodeSeen{NodeID: n.ID, StartedAt: last})
			}
			res.Nodes = append(res.Nodes, w)
			continue
		}
		w.Uptime = seen.Uptime
		w.Restarted = XrayRestarted(last, seen.StartedAt)
		started := last
		if w.Restarted {
			started = seen.StartedAt
			what := "xray restarted on node " + n.Name
			if last.IsZero() {
				what = "first look at node " + n.Name
			}
			restarts = append(restarts, what)
			log.Info("xray watch: new xray process; reconciling now", "node", n.Name, "reason", what, "uptime", seen.Uptime)
		}
		next.Nodes = append(next.Nodes, schedules.XrayNodeSeen{NodeID: n.ID, StartedAt: started})
		res.Nodes = append(res.Nodes, w)
	}
	if len(restarts) == 0 {
		return res, nil
	}
	res.Restarted = true
	ctx = withSchedules(ctx)
	reason := strings.Join(restarts, "; ")
	if err := workflow.ExecuteActivity(ctx, a.TriggerReconcile, activities.TriggerReconcileInput{Reason: reason}).Get(ctx, nil); err != nil {
		return res, fmt.Errorf("trigger reconcile: %w", err)
	}
	res.ReconcileSent = true
	// Saved after the trigger: if this run dies in between, the next one
	// triggers again rather than never.
	if err := workflow.ExecuteActivity(ctx, a.SaveXrayWatchState, next).Get(ctx, nil); err != nil {
		log.Warn("xray watch: state not saved; the next look triggers again", "error", err)
	}
	return res, nil
}
