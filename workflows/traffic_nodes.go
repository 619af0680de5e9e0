package workflows

import (
	"fmt"
	"strings"

	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/schedules"
)

// trafficPerNodeChange marks the CollectTraffic runs that read each node's
// counters, each node in activities of its own; runs recorded before it
// read the one Xray.
const trafficPerNodeChange = "traffic-per-node"

// collectTrafficNodes reads every node in service at once and adds each
// node's reading under a batch id of its own (the run's, plus the node), so
// a node that cannot be read leaves its counters for the next run and
// holds up no other node's.
func collectTrafficNodes(ctx workflow.Context, in schedules.TrafficInput, res TrafficResult) (TrafficResult, error) {
	var a *activities.Activities
	var nodes activities.XrayNodes
	if err := workflow.ExecuteActivity(withNodeList(ctx), a.ListXrayNodes, activities.XrayNodesInput{}).Get(ctx, &nodes); err != nil {
		res.Skipped = "xray nodes cannot be listed: " + err.Error()
		return res, nil
	}
	type outcome struct {
		users, updated int
		revoked        int
		applied        bool
		skipped        string
		err            error
	}
	outcomes := make([]outcome, len(nodes.Nodes))
	wg := workflow.NewWaitGroup(ctx)
	for i, n := range nodes.Nodes {
		wg.Add(1)
		workflow.Go(ctx, func(ctx workflow.Context) {
			defer wg.Done()
			var reading activities.TrafficReading
			if err := workflow.ExecuteActivity(withTrafficRead(ctx), a.ReadTrafficCounters, activities.ReadTrafficInput{NodeID: n.ID}).Get(ctx, &reading); err != nil {
				workflow.GetLogger(ctx).Warn("traffic collection skipped a node: xray unreachable", "node", n.Name, "error", err)
				outcomes[i].skipped = n.Name + ": xray unreachable: " + err.Error()
				return
			}
			outcomes[i].users = len(reading.Deltas)
			if len(reading.Deltas) == 0 {
				return
			}
			var rec activities.RecordTrafficResult
			err := workflow.ExecuteActivity(withDB(ctx), a.RecordTrafficBatch, activities.RecordTrafficInput{
				BatchID: fmt.Sprintf("%s/node-%d", res.BatchID, n.ID), Deltas: reading.Deltas,
				ReadAt: reading.ReadAt, RevokedGrace: in.RevokedGrace,
			}).Get(ctx, &rec)
			if err != nil {
				outcomes[i].err = fmt.Errorf("record traffic batch of node %s: %w", n.Name, err)
				return
			}
			outcomes[i].updated, outcomes[i].applied, outcomes[i].revoked = rec.Updated, rec.Applied, rec.Revoked
		})
	}
	wg.Wait(ctx)
	var skipped []string
	for _, o := range outcomes {
		if o.err != nil {
			return res, o.err
		}
		res.Users += o.users
		res.Updated += o.updated
		res.Revoked += o.revoked
		res.Applied = res.Applied || o.applied
		if o.skipped != "" {
			skipped = append(skipped, o.skipped)
		}
	}
	res.Skipped = strings.Join(skipped, "; ")
	return res, nil
}
