package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/schedules"
	"vpnflow/internal/shop"
)

// RevokedMetric counts keys the revocation sweep took out of Xray before
// their Subscription workflow did: on /metrics as
// vpnflow_keys_revoked_by_sweep_total. It grows in expiry storms and when
// a timer was missed.
const RevokedMetric = "vpnflow_keys_revoked_by_sweep"

// RevokeExpired is the revocation sweep (schedules.RevokeID): every key
// whose subscription expired is taken out of Xray within one schedule
// interval, however far behind the users' own workflows are. It never
// changes the database: each user's workflow still expires them and finds
// the key gone. A run that cannot reach Xray or PostgreSQL ends with the
// error, and the next run, an interval later, tries again.
func RevokeExpired(ctx workflow.Context, in schedules.RevokeInput) (activities.RevokeExpiredResult, error) {
	in = in.WithDefaults()
	var a *activities.Activities
	// One attempt per run and a short retry: the schedule runs again in
	// RevokeEvery, with a fresh "now".
	sweepCtx := on(ctx, shop.BulkheadXray, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 3},
	})
	var res activities.RevokeExpiredResult
	err := workflow.ExecuteActivity(sweepCtx, a.RevokeExpired, activities.RevokeExpiredInput{
		Now: workflow.Now(ctx), PageSize: in.PageSize,
	}).Get(ctx, &res)
	workflow.GetMetricsHandler(ctx).Counter(RevokedMetric).Inc(int64(res.Removed))
	if err != nil {
		return res, err
	}
	if res.Removed > 0 {
		workflow.GetLogger(ctx).Info("revoke: expired keys taken out of xray ahead of their workflows",
			"removed", res.Removed, "expired", res.Expired, "restored", res.Restored, "errors", res.Errors)
	}
	return res, nil
}
