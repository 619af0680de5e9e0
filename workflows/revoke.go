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

// RevokeSkippedMetric counts sweep runs that could not finish (Xray or
// PostgreSQL unreachable after three attempts): on /metrics as
// vpnflow_revoke_skipped_total. The health check reports the outage; the
// next run, an interval later, tries again.
const RevokeSkippedMetric = "vpnflow_revoke_skipped"

// RevokeResult is a sweep run's outcome: the activity's counts, and why
// the run was skipped, if it was.
type RevokeResult struct {
	activities.RevokeExpiredResult
	Skipped string `json:",omitempty"`
}

// RevokeExpired is the revocation sweep (schedules.RevokeID): every key
// whose subscription expired is taken out of Xray within one schedule
// interval, however far behind the users' own workflows are. It changes
// no subscription: each user's workflow still expires them and finds the
// key gone. It writes their expiry notices to the outbox, so they are told
// at Telegram's pace (NoticeOutbox). A run that cannot reach Xray or PostgreSQL is skipped, not
// failed: it says so in its result, the log and a metric, and the next
// run tries again.
func RevokeExpired(ctx workflow.Context, in schedules.RevokeInput) (RevokeResult, error) {
	in = in.WithDefaults()
	var a *activities.Activities
	// Few attempts: the schedule runs again in RevokeEvery, with a fresh
	// "now".
	sweepCtx := on(ctx, shop.BulkheadXray, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 3},
	})
	var res RevokeResult
	err := workflow.ExecuteActivity(sweepCtx, a.RevokeExpired, activities.RevokeExpiredInput{
		Now: workflow.Now(ctx), PageSize: in.PageSize,
	}).Get(ctx, &res.RevokeExpiredResult)
	workflow.GetMetricsHandler(ctx).Counter(RevokedMetric).Inc(int64(res.Removed))
	if err != nil {
		workflow.GetMetricsHandler(ctx).Counter(RevokeSkippedMetric).Inc(1)
		workflow.GetLogger(ctx).Warn("revoke: sweep skipped; the next run tries again", "error", err)
		res.Skipped = err.Error()
		return res, nil
	}
	if res.Removed > 0 {
		workflow.GetLogger(ctx).Info("revoke: expired keys taken out of xray ahead of their workflows",
			"removed", res.Removed, "expired", res.Expired, "restored", res.Restored, "errors", res.Errors)
	}
	return res, nil
}
