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

// RevokeResult is a sweep run's outcome: the activity's counts summed over
// its sweeps, how many sweeps it made, and why the run was skipped, if it
// was.
type RevokeResult struct {
	activities.RevokeExpiredResult
	Sweeps  int    `json:",omitempty"`
	Skipped string `json:",omitempty"`
}

// revokeWatchChange: from version 1 a run sweeps again when an expiry
// storm falls due within schedules.RevokeWatch of its start (stormWatch),
// instead of leaving it to the next run up to RevokeEvery later.
const revokeWatchChange = "revoke-watches-for-storms"

// maxRevokeSweeps bounds a run's sweeps, and so its history, when storms
// fall due second after second; the next run carries on.
const maxRevokeSweeps = 30

// stormWatch is the timing rule of a run's watch: sweep again when the
// next storm is due, if that is before the watch ends.
type stormWatch struct {
	until time.Time
}

// wait is how long to sleep before the next sweep for a storm all past at
// stormAt, seen at now; ok is false when the run should end: no storm, or
// one due after the watch (the next run's), or no watch at all.
func (w stormWatch) wait(stormAt, now time.Time) (d time.Duration, ok bool) {
	if stormAt.IsZero() || stormAt.After(w.until) {
		return 0, false
	}
	return max(stormAt.Sub(now), 0), true
}

// RevokeExpired is the revocation sweep (schedules.RevokeID): every key
// whose subscription expired is taken out of Xray within one schedule
// interval, however far behind the users' own workflows are; a storm
// due within a run's watch (schedules.RevokeWatch) is swept as it falls
// due. It changes no subscription: each user's workflow still expires
// them and finds the key gone. It writes their expiry notices to the
// outbox, so they are told at Telegram's pace (NoticeOutbox). A run that
// cannot reach Xray or PostgreSQL is skipped, not failed: it says so in its
// result, the log and a metric, and the next run tries again.
func RevokeExpired(ctx workflow.Context, in schedules.RevokeInput) (RevokeResult, error) {
	in = in.WithDefaults()
	var watch stormWatch // none: a run recorded before the change sweeps once
	if workflow.GetVersion(ctx, revokeWatchChange, workflow.DefaultVersion, 1) >= 1 {
		// From the run's start, not its first task: a busy server may
		// start the task late, and the next run's start does not move.
		watch.until = workflow.GetInfo(ctx).WorkflowStartTime.Add(schedules.RevokeWatch)
	}
	var res RevokeResult
	for {
		swept, err := sweepExpired(ctx, in, watch.until)
		res.RevokeExpiredResult = res.Add(swept)
		res.Sweeps++
		if err != nil {
			res.Skipped = err.Error()
			return res, nil
		}
		d, ok := watch.wait(swept.StormAt, workflow.Now(ctx))
		if !ok || res.Sweeps >= maxRevokeSweeps {
			return res, nil
		}
		if d > 0 {
			if err := workflow.Sleep(ctx, d); err != nil {
				return res, err
			}
		}
	}
}

// sweepExpired is one sweep: the activity, its metrics and log lines.
func sweepExpired(ctx workflow.Context, in schedules.RevokeInput, watchUntil time.Time) (activities.RevokeExpiredResult, error) {
	var a *activities.Activities
	// Few attempts: the schedule runs again in RevokeEvery, with a fresh
	// "now".
	sweepCtx := on(ctx, shop.BulkheadXray, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 3},
	})
	var res activities.RevokeExpiredResult
	err := workflow.ExecuteActivity(sweepCtx, a.RevokeExpired, activities.RevokeExpiredInput{
		Now: workflow.Now(ctx), PageSize: in.PageSize, WatchUntil: watchUntil,
	}).Get(ctx, &res)
	workflow.GetMetricsHandler(ctx).Counter(RevokedMetric).Inc(int64(res.Removed))
	if err != nil {
		workflow.GetMetricsHandler(ctx).Counter(RevokeSkippedMetric).Inc(1)
		workflow.GetLogger(ctx).Warn("revoke: sweep skipped; the next run tries again", "error", err)
		return res, err
	}
	if res.Removed > 0 {
		workflow.GetLogger(ctx).Info("revoke: expired keys taken out of xray ahead of their workflows",
			"removed", res.Removed, "expired", res.Expired, "restored", res.Restored, "errors", res.Errors)
	}
	return res, nil
}
