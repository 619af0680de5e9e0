package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/shop"
)

// endSessionsChange versions the step that ends a revoked key's live
// sessions right after the key leaves Xray (issue 12, verified
// revocation). Runs recorded before it never ran the step, and replay
// without it. It is a change ID of its own, not a lean version: it touches
// revocation, not the purchase path, and only runs that revoke pay its
// marker.
const endSessionsChange = "end-sessions"

// endSessions ends the live sessions of a key just removed from Xray
// (email; empty: the user's current key). It never fails or holds up the
// revocation, which the removal before it already did: an Xray away for
// longer than withEndSessions allows, or a worker that cannot end sessions
// at all (an operator's problem), is logged at error and the workflow
// goes on. The health check's Revocation component tells the admins, and
// the traffic readings catch any session that outlives its key.
func (s *subscription) endSessions(ctx workflow.Context, email string) {
	if workflow.GetVersion(ctx, endSessionsChange, workflow.DefaultVersion, 1) < 1 {
		return
	}
	var a *activities.Activities
	var res activities.EndSessionsResult
	err := xrayStep(ctx, withEndSessions(ctx), a.EndSessions, activities.EndSessionsInput{
		UserID: s.state.UserID, Email: email,
	}, &res)
	switch {
	case err != nil:
		workflow.GetLogger(ctx).Error("revoked key's open sessions not ended: xray did not answer in time", "email", email, "error", err)
	case res.Unable != "":
		workflow.GetLogger(ctx).Error("revoked key's open sessions cannot be ended by this worker", "email", email, "reason", res.Unable)
	}
}

// withEndSessions is for ending sessions: a few quick tries on the Xray
// bulkhead, given up after a minute, since nothing waits for it but the
// user's next Xray change.
func withEndSessions(ctx workflow.Context) workflow.Context {
	return on(ctx, shop.BulkheadXray, workflow.ActivityOptions{
		StartToCloseTimeout:    15 * time.Second,
		ScheduleToCloseTimeout: time.Minute,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Second},
	})
}
