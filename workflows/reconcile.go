package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/schedules"
)

// ReconcileResult is what a whole reconciliation did, over all its runs.
type ReconcileResult struct {
	Checked int // live keys of this node looked up in Xray
	Readded int // keys put back into Xray (missing, or another UUID or flow)
	Removed int // orphans under our email domain removed from Xray
	Foreign int // Xray users of other domains, left alone
	Errors  int // keys Xray refused (each logged by the activity)
	Pages   int
	Runs    int // workflow runs, continue-as-new included
	Overdue int // live rows past their expiry, handed to their workflows

	OverdueFailed bool // the sweep gave up; the next run sweeps again

	// Runs with one child per node (reconcile_nodes.go): each node's part,
	// and how many of them gave up.
	Nodes       []NodeReconcileResult `json:",omitempty"`
	NodesFailed int                   `json:",omitempty"`
}

// Reconcile makes the database's expiries hold and each Xray node serve
// exactly the database's live keys of that node. First it sweeps the live
// rows whose expiry has passed (sweepOverdue) and hands each to its
// Subscription workflow. Then it reconciles every node in service at once,
// each in a child workflow of its own (ReconcileNode): it walks the node's
// keys live at the workflow's now a page at a time (each page one activity
// that reads the page and repairs Xray), and removes the users under our
// email domain that no live key of the node accounts for — a row past its
// expiry among them. Runs recorded before nodes do the walk themselves, on
// the one Xray. Histories hold page bounds and counts only; after
// PagesPerRun pages of a phase a run continues as new, so any number of
// users fits.
func Reconcile(ctx workflow.Context, in schedules.ReconcileInput) (ReconcileResult, error) {
	in = in.WithDefaults()
	var p schedules.ReconcileProgress
	if in.Progress != nil {
		p = *in.Progress
	}
	p.Runs++
	continueAsNew := func() error {
		next := in
		next.Progress = &p
		return workflow.NewContinueAsNewError(ctx, schedules.ReconcileWorkflowType, next)
	}
	if workflow.GetVersion(ctx, overdueSweepVersion, workflow.DefaultVersion, 1) == 1 && !p.OverdueDone {
		if !sweepOverdue(ctx, in, &p) {
			return ReconcileResult{}, continueAsNew()
		}
	}
	if workflow.GetVersion(ctx, reconcilePerNodeChange, workflow.DefaultVersion, 1) == 1 {
		return reconcileNodes(ctx, in, p)
	}
	var a *activities.Activities
	pageCtx := withReconcilePage(ctx)
	for done, pages := false, 0; !done; pages++ {
		if pages == in.PagesPerRun {
			return ReconcileResult{}, continueAsNew()
		}
		var page activities.ReconcilePageResult
		err := workflow.ExecuteActivity(pageCtx, a.ReconcilePage, activities.ReconcilePageInput{
			AfterUserID: p.AfterUserID, Limit: in.PageSize, Now: workflow.Now(ctx),
		}).Get(ctx, &page)
		if err != nil {
			return ReconcileResult{}, fmt.Errorf("reconcile page after user %d: %w", p.AfterUserID, err)
		}
		p.Pages++
		p.Checked += page.Checked
		p.Readded += page.Readded
		p.Errors += page.Errors
		p.AfterUserID = page.NextAfter
		done = page.Done
	}

	var orphans activities.RemoveOrphansResult
	err := workflow.ExecuteActivity(withOrphanSweep(ctx), a.RemoveOrphans,
		activities.RemoveOrphansInput{PageSize: in.PageSize, Now: workflow.Now(ctx)}).Get(ctx, &orphans)
	if err != nil {
		return ReconcileResult{}, fmt.Errorf("remove orphans: %w", err)
	}
	res := ReconcileResult{
		Checked: p.Checked, Readded: p.Readded, Removed: orphans.Removed, Foreign: orphans.Foreign,
		Errors: p.Errors + orphans.Errors, Pages: p.Pages, Runs: p.Runs, Overdue: p.Overdue,
		OverdueFailed: p.OverdueFailed,
	}
	workflow.GetLogger(ctx).Info("reconcile done", "checked", res.Checked, "readded", res.Readded,
		"removed", res.Removed, "errors", res.Errors, "foreign", res.Foreign, "pages", res.Pages, "runs", res.Runs,
		"overdue", res.Overdue, "overdue_failed", res.OverdueFailed)
	return res, nil
}

// withReconcilePage is for one page: a thousand Xray look-ups take well
// under a second, so two minutes means something hangs. Xray or the
// database being away is retried without limit (the workflow's execution
// timeout bounds the run).
func withReconcilePage(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy:         backoff(time.Minute),
	})
}

// withOrphanSweep is for the sweep, which lists all of Xray and scans every
// live key: seconds for 100,000 users, heartbeating per page.
func withOrphanSweep(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy:         backoff(time.Minute),
	})
}

// XrayRestartSlack absorbs the error of "now minus uptime": whole seconds of
// uptime and clocks of different workers. A start time that moves later by
// more than this is a new Xray process.
const XrayRestartSlack = 5 * time.Second

// XrayWatchResult is what one look at Xray found.
type XrayWatchResult struct {
	XrayDown      bool // with nodes: some node's Xray did not answer
	Uptime        time.Duration
	Restarted     bool // a new Xray process since the last look (or the first look)
	ReconcileSent bool
	Nodes         []NodeWatch `json:",omitempty"` // runs with nodes: each node's look
}

// XrayWatch looks at Xray's uptime; when the Xray process is a new one — it
// restarted and dropped every user added through the API — it triggers a
// reconciliation at once, so Xray heals within one watch interval. The
// start time of the Xray it last saw is its input, saved back into its
// schedule when it changes. With nodes it looks at each node in service
// at once (xrayWatchNodes).
func XrayWatch(ctx workflow.Context, in schedules.XrayWatchInput) (XrayWatchResult, error) {
	if workflow.GetVersion(ctx, xrayWatchPerNodeChange, workflow.DefaultVersion, 1) == 1 {
		return xrayWatchNodes(ctx, in)
	}
	var a *activities.Activities
	log := workflow.GetLogger(ctx)
	var seen activities.XrayUptimeResult
	if err := workflow.ExecuteActivity(withProbe(ctx), a.XrayUptime, activities.XrayUptimeInput{}).Get(ctx, &seen); err != nil {
		// The health check tells the admins; the next look after Xray is
		// back sees a new process and heals it.
		log.Warn("xray watch: xray does not answer", "error", err)
		return XrayWatchResult{XrayDown: true}, nil
	}
	res := XrayWatchResult{Uptime: seen.Uptime, Restarted: XrayRestarted(in.XrayStartedAt, seen.StartedAt)}
	if !res.Restarted {
		return res, nil
	}
	reason := "xray restarted"
	if in.XrayStartedAt.IsZero() {
		reason = "first look at xray"
	}
	log.Info("xray watch: new xray process; reconciling now", "reason", reason, "uptime", seen.Uptime)
	ctx = withSchedules(ctx)
	if err := workflow.ExecuteActivity(ctx, a.TriggerReconcile, activities.TriggerReconcileInput{Reason: reason}).Get(ctx, nil); err != nil {
		return res, fmt.Errorf("trigger reconcile: %w", err)
	}
	res.ReconcileSent = true
	// Saved after the trigger: if this run dies in between, the next one
	// triggers again rather than never.
	if err := workflow.ExecuteActivity(ctx, a.SaveXrayWatchState, schedules.XrayWatchInput{XrayStartedAt: seen.StartedAt}).Get(ctx, nil); err != nil {
		log.Warn("xray watch: state not saved; the next look triggers again", "error", err)
	}
	return res, nil
}

// XrayRestarted reports whether an Xray that started at now is another
// process than the one that started at last. Only a later start counts: an
// earlier one is clock skew between workers, and following it back and
// forth would reconcile on every look.
func XrayRestarted(last, now time.Time) bool {
	return last.IsZero() || now.After(last.Add(XrayRestartSlack))
}

// withProbe is for a quick look at a component: a short timeout and one
// retry, because the next scheduled run looks again anyway.
func withProbe(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    2 * time.Second,
			BackoffCoefficient: 1,
			MaximumAttempts:    2,
		},
	})
}

// withSchedules is for a call to Temporal's schedule API, bounded so a run
// of a frequent schedule does not hang past the next one.
func withSchedules(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    10 * time.Second,
		ScheduleToCloseTimeout: time.Minute,
		RetryPolicy:            backoff(10 * time.Second),
	})
}
