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
//
// Lean runs (leanPolicy) read it in a local activity (it is the worker's
// configuration, in memory) and not again within policyFresh: a run
// started by a purchase begins a new period in its first workflow task,
// and the policy read for the run a moment earlier is the current one.
func (s *subscription) refreshPolicy(ctx workflow.Context) {
	var a *activities.Activities
	var p shop.Policy
	lean := leanIn(ctx) >= leanPolicy
	now := workflow.Now(ctx)
	if lean && !s.policyRead.IsZero() && now.Sub(s.policyRead) < policyFresh {
		return
	}
	if err := step(ctx, leanPolicy, withConfig(ctx), a.CurrentPolicy, activities.PolicyRequest{}, &p); err != nil {
		workflow.GetLogger(ctx).Warn("current policy not read; keeping the one in hand", "error", err)
		return
	}
	s.policy = p
	if lean {
		s.policyRead = now
	}
}

// policyFresh is how long a policy just read counts as the current one.
// The configuration changes when the worker restarts, and a workflow
// task's clock moves on with each local activity, so "the same moment"
// is a short while, not an instant.
const policyFresh = time.Minute

// skipPassedReminders marks the stages whose moment is already past for a
// new period (see periodClock.passedStages).
func (s *subscription) skipPassedReminders(ctx workflow.Context) {
	s.state.Reminded = append(s.state.Reminded, s.clock().passedStages(workflow.Now(ctx))...)
}

// remind sends one reminder stage. The stage is marked before sending, so a
// reminder goes out once per period even if this run continues as new.
// From leanReminder on it is written to the notice outbox, which sends it
// (and drops it if the period is renewed first); if the database cannot
// take it, this workflow sends it as before.
func (s *subscription) remind(ctx workflow.Context, lead time.Duration) {
	s.state.Reminded = append(s.state.Reminded, stageKey(lead, s.state.ExpiresAt))
	n := notice.Reminder(s.state.PlanID, s.state.ExpiresAt, s.state.ExpiresAt.Sub(workflow.Now(ctx)))
	if leanIn(ctx) >= leanReminder {
		var a *activities.Activities
		err := dbStep(ctx, a.EnqueueReminder, activities.ReminderInput{UserID: s.state.UserID, Lead: lead, Notice: n}, nil)
		if err == nil {
			return
		}
		workflow.GetLogger(ctx).Warn("reminder not written to the notice outbox; sending it from here", "error", err)
	}
	s.notify(ctx, n)
}
