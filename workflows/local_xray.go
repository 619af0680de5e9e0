package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// localXrayLimit is all a local Xray call gets: one attempt of at most
// this long. A node that answers takes milliseconds; one that does not
// is tried through the bulkhead, with its retries, from then on (and the
// activity's own admission keeps a node with an open breaker off the
// local path: activities.admitXray).
const localXrayLimit = 3 * time.Second

func localXrayOptions() workflow.LocalActivityOptions {
	return workflow.LocalActivityOptions{
		StartToCloseTimeout:    localXrayLimit,
		ScheduleToCloseTimeout: localXrayLimit,
		RetryPolicy:            &temporal.RetryPolicy{MaximumAttempts: 1},
	}
}

// xrayStep runs one of a user's Xray calls: in a run from leanXray on,
// first as a local activity in this workflow task, and if that is not
// admitted or fails with an error retrying could fix, as the activity on
// the Xray bulkhead with the options in fallback. Before leanXray, only
// the latter. The calls are idempotent (adding a key that is there,
// removing one that is not), so a local try that did its work and then
// timed out costs nothing when done again.
func xrayStep(ctx, fallback workflow.Context, activity, in, out any) error {
	if leanIn(ctx) >= leanXray {
		err := xrayLocal(ctx, activity, in, out)
		if err == nil || final(err) {
			return err
		}
	}
	return workflow.ExecuteActivity(fallback, activity, in).Get(ctx, out)
}

// xrayLocal is the local try alone, for a caller with a fallback of its
// own. It is logged at debug only: a refusal is the bound working.
func xrayLocal(ctx workflow.Context, activity, in, out any) error {
	err := workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, localXrayOptions()), activity, in).Get(ctx, out)
	if err != nil {
		workflow.GetLogger(ctx).Debug("xray call not done locally; handing it to the xray queue", "error", err)
	}
	return err
}
