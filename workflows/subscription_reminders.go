package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/notice"
	"vpnflow/internal/shop"
)

// refreshPolicy reads the reminder and renewal policy from the current
// configuration, at the start of each run and of each new period, so a
// changed configuration reaches users already subscribed. If it cannot be
// read, the policy in hand stays.
func (s *subscription) refreshPolicy(ctx workflow.Context) {
	var a *activities.Activities
	var p shop.Policy
	if err := workflow.ExecuteActivity(withConfig(ctx), a.CurrentPolicy, activities.PolicyRequest{}).Get(ctx, &p); err != nil {
		workflow.GetLogger(ctx).Warn("current policy not read; keeping the one in hand", "error", err)
		return
	}
	s.policy = p
}

// skipPassedReminders marks the stages whose moment is already past for a
// new period (see periodClock.passedStages).
func (s *subscription) skipPassedReminders(ctx workflow.Context) {
	s.state.Reminded = append(s.state.Reminded, s.clock().passedStages(workflow.Now(ctx))...)
}

// remind sends one reminder stage. The stage is marked before sending, so a
// reminder goes out once per period even if this run continues as new.
func (s *subscription) remind(ctx workflow.Context, lead time.Duration) {
	s.state.Reminded = append(s.state.Reminded, stageKey(lead, s.state.ExpiresAt))
	s.notify(ctx, notice.Reminder(s.state.PlanID, s.state.ExpiresAt, s.state.ExpiresAt.Sub(workflow.Now(ctx))))
}
