package workflows

import (
	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
)

// healthPerNodeChange marks the health checks that probe each Xray node in
// service as a component of its own ("xray:<name>"); runs recorded before
// it probe the one Xray ("xray").
const healthPerNodeChange = "health-per-node"

// healthFailoverChange versions the failover step (issue 12): runs
// recorded before it never failed a node over. It is read only by runs in
// which a node's probe failed, so a healthy run records no marker.
const healthFailoverChange = "health-node-failover"

// ComponentXrayNode is the component id of one node's Xray.
func ComponentXrayNode(name string) string { return ComponentXray + ":" + name }

// nodeProbes lists the nodes in service and makes a probe of each. When
// the nodes cannot be listed at all (the database down since the worker
// started), the one probe is of "xray" and fails saying so.
func nodeProbes(ctx workflow.Context) ([]healthProbe, []activities.XrayNode) {
	var a *activities.Activities
	var nodes activities.XrayNodes
	err := workflow.ExecuteActivity(withNodeList(ctx), a.ListXrayNodes, activities.XrayNodesInput{}).Get(ctx, &nodes)
	if err != nil {
		failed, set := workflow.NewFuture(ctx)
		set.SetError(err)
		return []healthProbe{{ComponentXray, "Xray nodes", func(workflow.Context) workflow.Future { return failed }}}, nil
	}
	probes := make([]healthProbe, len(nodes.Nodes))
	for i, n := range nodes.Nodes {
		probes[i] = healthProbe{ComponentXrayNode(n.Name), "Xray " + n.Name, func(ctx workflow.Context) workflow.Future {
			return workflow.ExecuteActivity(withProbe(ctx), a.CheckXrayNode, activities.NodeRef{NodeID: n.ID})
		}}
	}
	return probes, nodes.Nodes
}

// recordNodeHealth stores each node's probe in its row, for the admins'
// node list. A failure is logged: the alerts and the metric have the news.
func recordNodeHealth(ctx workflow.Context, nodes []activities.XrayNode, components []ComponentHealth) {
	if len(nodes) == 0 {
		return
	}
	byID := map[string]ComponentHealth{}
	for _, c := range components {
		byID[c.Component] = c
	}
	in := activities.NodeHealthInput{At: workflow.Now(ctx)}
	for _, n := range nodes {
		c, ok := byID[ComponentXrayNode(n.Name)]
		if !ok {
			continue
		}
		in.Probes = append(in.Probes, activities.NodeProbeOutcome{NodeID: n.ID, Error: c.Error})
	}
	var a *activities.Activities
	if err := workflow.ExecuteActivity(withNodeList(ctx), a.RecordNodeHealth, in).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Warn("health: node health not recorded", "error", err)
	}
}

// failOver fails over the nodes whose probes have failed for the
// configured time (activities.FailOverNodes: the rule, the cooldown and
// the evacuation are the database's and the activity's), when one of this
// run's node probes failed. It returns the names of the nodes failed
// over; a failure is logged, and the next run looks again.
func failOver(ctx workflow.Context, nodes []activities.XrayNode, components []ComponentHealth) []string {
	down := false
	for _, n := range nodes {
		for _, c := range components {
			down = down || (c.Component == ComponentXrayNode(n.Name) && !c.Up)
		}
	}
	if !down || workflow.GetVersion(ctx, healthFailoverChange, workflow.DefaultVersion, 1) < 1 {
		return nil
	}
	var a *activities.Activities
	var res activities.FailoverResult
	if err := workflow.ExecuteActivity(withNodeList(ctx), a.FailOverNodes, activities.FailoverInput{At: workflow.Now(ctx)}).Get(ctx, &res); err != nil {
		workflow.GetLogger(ctx).Warn("health: failover not checked", "error", err)
		return nil
	}
	var names []string
	for _, n := range res.Nodes {
		names = append(names, n.Name)
	}
	return names
}
