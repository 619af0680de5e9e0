package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/shop"
)

// refreshPolicy reads the reminder and renewal policy from the current
// configuration, at the start of each run and of each new period, so a
// changed configuration reaches users already subscribed. If it cannot be
// read, the policy in hand stays.
func (s *subscription) refreshPolicy(ctx workflow.Context) {
	var a *activities.Activities
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Second, ScheduleToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Second},
	})
	var p shop.Policy
	if err := workflow.ExecuteActivity(ctx, a.CurrentPolicy, activities.PolicyRequest{}).Get(ctx, &p); err != nil {
		workflow.GetLogger(ctx).Warn("current policy not read; keeping the one in hand", "error", err)
		return
	}
	s.policy = p
}

// reminders are the stages for the current period, longest lead first.
func (s *subscription) reminders() []time.Duration {
	if s.state.Trial {
		return s.policy.TrialReminders
	}
	return s.policy.PaidReminders
}

func stageKey(lead time.Duration, expires time.Time) string {
	return fmt.Sprintf("%s@%d", lead, expires.Unix())
}

func (s *subscription) reminded(key string) bool {
	for _, r := range s.state.Reminded {
		if r == key {
			return true
		}
	}
	return false
}

// skipPassedReminders marks stages whose moment is already past for a new
// period, so a user who renews two days before expiry is not sent the
// three-day reminder.
func (s *subscription) skipPassedReminders(ctx workflow.Context) {
	now := workflow.Now(ctx)
	for _, lead := range s.reminders() {
		key := stageKey(lead, s.state.ExpiresAt)
		if !s.state.ExpiresAt.Add(-lead).After(now) && !s.reminded(key) {
			s.state.Reminded = append(s.state.Reminded, key)
		}
	}
}

func (s *subscription) dueReminder(ctx workflow.Context) (bool, time.Duration) {
	if !s.active() {
		return false, 0
	}
	now := workflow.Now(ctx)
	for _, lead := range s.reminders() {
		if !s.state.ExpiresAt.Add(-lead).After(now) && !s.reminded(stageKey(lead, s.state.ExpiresAt)) {
			return true, lead
		}
	}
	return false, 0
}

// remind sends one reminder stage. The stage is marked before sending, so a
// reminder goes out once per period even if this run continues as new.
func (s *subscription) remind(ctx workflow.Context, lead time.Duration) {
	s.state.Reminded = append(s.state.Reminded, stageKey(lead, s.state.ExpiresAt))
	s.notify(ctx, activities.Notice{
		Message: "reminder", PlanID: s.state.PlanID, Expires: s.state.ExpiresAt,
		Left: s.state.ExpiresAt.Sub(workflow.Now(ctx)), Buttons: []activities.Button{activities.ButtonRenew},
	})
}

// nextEvent is the next moment the workflow must wake by itself: a reminder
// or the expiry. A signal or update wakes it earlier; the timer is then
// simply re-armed for the new moment.
func (s *subscription) nextEvent(ctx workflow.Context) (time.Time, bool) {
	if !s.active() {
		return time.Time{}, false
	}
	next := s.state.ExpiresAt
	now := workflow.Now(ctx)
	for _, lead := range s.reminders() {
		at := s.state.ExpiresAt.Add(-lead)
		if at.After(now) && at.Before(next) && !s.reminded(stageKey(lead, s.state.ExpiresAt)) {
			next = at
		}
	}
	if at, ok := s.renewalAt(); ok && at.After(now) && at.Before(next) {
		next = at
	}
	return next, true
}
