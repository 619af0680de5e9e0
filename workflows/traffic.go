package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/schedules"
	"vpnflow/internal/shop"
)

// TrafficResult is what one collection did.
type TrafficResult struct {
	BatchID string
	Users   int  // users with traffic in this reading
	Applied bool // the batch is in the database
	Updated int  // subscriptions whose counters grew
	Revoked int  // revoked keys that moved bytes after their revocation
	// Skipped says why nothing was read: Xray was unreachable, and its
	// counters wait there for the next run.
	Skipped string `json:",omitempty"`
}

// versionSkipUnreachableXray: before it, a run that could not read Xray
// failed, and a frozen Xray left a trail of failed workflows.
const versionSkipUnreachableXray = "traffic-skip-unreachable-xray"

// CollectTraffic moves Xray's per-user traffic counters into the database.
// It reads them with reset in one activity and adds them in another, under
// a batch id that is this run's: the reading lives in the workflow history
// between the two, so a failed or retried database write neither loses nor
// double-counts it. A schedule runs it every few minutes and skips a run
// while one is still going, so counters wait in Xray during an outage.
func CollectTraffic(ctx workflow.Context, in schedules.TrafficInput) (TrafficResult, error) {
	info := workflow.GetInfo(ctx)
	res := TrafficResult{BatchID: info.WorkflowExecution.ID + "/" + info.WorkflowExecution.RunID}
	if workflow.GetVersion(ctx, trafficPerNodeChange, workflow.DefaultVersion, 1) == 1 {
		return collectTrafficNodes(ctx, in, res)
	}
	var a *activities.Activities
	var reading activities.TrafficReading
	if err := workflow.ExecuteActivity(withTrafficRead(ctx), a.ReadTrafficCounters, activities.ReadTrafficInput{}).Get(ctx, &reading); err != nil {
		if workflow.GetVersion(ctx, versionSkipUnreachableXray, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
			return res, fmt.Errorf("read traffic counters: %w", err)
		}
		// The health check reports the outage; this run has nothing to do.
		workflow.GetLogger(ctx).Warn("traffic collection skipped: xray unreachable", "error", err)
		res.Skipped = "xray unreachable: " + err.Error()
		return res, nil
	}
	res.Users = len(reading.Deltas)
	if res.Users == 0 {
		return res, nil
	}
	var rec activities.RecordTrafficResult
	if err := workflow.ExecuteActivity(withDB(ctx), a.RecordTrafficBatch, activities.RecordTrafficInput{
		BatchID: res.BatchID, Deltas: reading.Deltas, ReadAt: reading.ReadAt, RevokedGrace: in.RevokedGrace,
	}).Get(ctx, &rec); err != nil {
		return res, fmt.Errorf("record traffic batch: %w", err)
	}
	res.Applied, res.Updated, res.Revoked = rec.Applied, rec.Updated, rec.Revoked
	return res, nil
}

// withTrafficRead is for reading counters with reset. Few attempts: a
// retry after a lost answer reads counters that were already reset, and a
// failed run simply leaves them for the next one.
func withTrafficRead(ctx workflow.Context) workflow.Context {
	return on(ctx, shop.BulkheadXray, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 3},
	})
}
