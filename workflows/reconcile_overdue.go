package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/schedules"
)

// OverdueGrace is how long past its expiry a live row is left to its own
// Subscription workflow's timer before the sweep calls it overdue. One
// timer expires its row within seconds, but in an expiry storm the
// workflows wake together and take their turns on the server: 10,000 on
// the 2-core dev server took 4 to 12 minutes. With a one-minute grace the
// sweep handed thousands of rows whose timers had fired to their busy
// workflows, every reconcile run again (37,000 signals in one storm, each
// a workflow task more in the backlog it was waiting on), and told the
// admins of "missed expiries" that were not. Their keys are out of Xray
// meanwhile (the revocation sweep), so a longer wait costs no access.
const OverdueGrace = 10 * time.Minute

// OverdueMetric counts live subscriptions the sweep found past their
// expiry; on /metrics as vpnflow_subscriptions_overdue_total. Anything
// above zero is a missed timer.
const OverdueMetric = "vpnflow_subscriptions_overdue"

// overdueSweepVersion marks the Reconcile runs that sweep overdue rows
// first; runs recorded before it replay without the sweep.
const overdueSweepVersion = "reconcile-overdue-sweep"

// sweepOverdue pages through the live rows that expired more than
// OverdueGrace before the workflow's now, and has each handed to its
// Subscription workflow. It returns false when the run has used its pages
// and must continue as new; p keeps where the sweep is. When the sweep
// ends having found any, it counts them in OverdueMetric and tells the
// admins, once per sweep.
//
// A sweep that fails (Temporal refusing the signals, say) ends the sweep,
// not the run: Xray is reconciled all the same — an overdue key is removed
// there whatever its row says — and the rows, still overdue in the
// database, are found again by the next run.
func sweepOverdue(ctx workflow.Context, in schedules.ReconcileInput, p *schedules.ReconcileProgress) bool {
	var a *activities.Activities
	log := workflow.GetLogger(ctx)
	pageCtx := withOverduePage(ctx)
	for pages := 0; !p.OverdueDone; pages++ {
		if pages == in.PagesPerRun {
			return false
		}
		var page activities.OverduePageResult
		err := workflow.ExecuteActivity(pageCtx, a.HandOverOverdue, activities.OverduePageInput{
			Before: workflow.Now(ctx).Add(-OverdueGrace), AfterUserID: p.OverdueAfter, Limit: in.PageSize,
		}).Get(ctx, &page)
		if err != nil {
			log.Error("reconcile: overdue sweep failed; the next run sweeps again", "after_user", p.OverdueAfter, "error", err)
			p.OverdueDone, p.OverdueFailed = true, true
			break
		}
		p.OverduePages++
		p.Overdue += page.Found
		for _, id := range page.Sample {
			if len(p.OverdueSample) < activities.OverdueSampleSize {
				p.OverdueSample = append(p.OverdueSample, id)
			}
		}
		p.OverdueAfter = page.NextAfter
		p.OverdueDone = page.Done
		// Also a zero, so the series exists for alerting rules.
		workflow.GetMetricsHandler(ctx).Counter(OverdueMetric).Inc(int64(page.Found))
	}
	if p.Overdue == 0 {
		return true
	}
	log.Error("reconcile: live subscriptions past their expiry; their timers were missed",
		"overdue", p.Overdue, "users", p.OverdueSample)
	alert := activities.OverdueAlert{Count: p.Overdue, Sample: p.OverdueSample}
	if err := workflow.ExecuteActivity(withAlert(ctx), a.AlertAdminsOverdue, alert).Get(ctx, nil); err != nil {
		// Counted in OverdueMetric all the same; each row's expiry is in
		// its audit log once its workflow has expired it.
		log.Error("reconcile: admins could not be told of overdue subscriptions", "overdue", p.Overdue, "error", err)
	}
	return true
}

// withOverduePage is for one page of the sweep: a database read and up to a
// page of signals to Temporal, heartbeating. Retried for a few minutes,
// not for ever: the sweep must not hold up the repair of Xray.
func withOverduePage(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    2 * time.Minute,
		HeartbeatTimeout:       30 * time.Second,
		ScheduleToCloseTimeout: 5 * time.Minute,
		RetryPolicy:            backoff(time.Minute),
	})
}
