package workflows

import (
	"fmt"
	"slices"
	"time"

	"vpnflow/internal/shop"
)

// periodClock holds the timing rules of a subscription period: when it
// expires, which reminder stage is due, when the balance renews it, and
// when the workflow must wake by itself. It is pure: it reads a copy of the
// state and policy and the time it is given, and changes nothing, so the
// rules are tested without Temporal (subscription_timing_test.go). The
// workflow asks it and acts.
type periodClock struct {
	state  shop.SubscriptionState
	policy shop.Policy
}

// clock is the timing rules over the workflow's current state and policy.
func (s *subscription) clock() periodClock {
	return periodClock{state: s.state, policy: s.policy}
}

// dueKind is what a subscription must do now.
type dueKind int

const (
	dueNothing dueKind = iota
	dueExpiry
	dueRenewal
	dueReminder
)

// due is the one thing due at now, in order of precedence: the expiry
// ends the period whatever else was planned, a renewal comes before the
// reminder it would make pointless. Lead is the reminder stage.
type due struct {
	Kind dueKind
	Lead time.Duration
}

func (c periodClock) active() bool {
	return c.state.Status == shop.StatusActive || c.state.Status == shop.StatusTrial
}

// dueAt answers what is due at now.
func (c periodClock) dueAt(now time.Time) due {
	switch {
	case c.active() && !now.Before(c.state.ExpiresAt):
		return due{Kind: dueExpiry}
	case c.renewalDue(now):
		return due{Kind: dueRenewal}
	}
	if lead, ok := c.dueReminder(now); ok {
		return due{Kind: dueReminder, Lead: lead}
	}
	return due{Kind: dueNothing}
}

// reminders are the stages for the current period, longest lead first.
func (c periodClock) reminders() []time.Duration {
	if c.state.Trial {
		return c.policy.TrialReminders
	}
	return c.policy.PaidReminders
}

func stageKey(lead time.Duration, expires time.Time) string {
	return fmt.Sprintf("%s@%d", lead, expires.Unix())
}

func renewalKey(expires time.Time) string { return fmt.Sprintf("renew@%d", expires.Unix()) }

func (c periodClock) reminded(key string) bool {
	return slices.Contains(c.state.Reminded, key)
}

// dueReminder is the first stage of the period whose moment has come and
// that was not sent yet.
func (c periodClock) dueReminder(now time.Time) (time.Duration, bool) {
	if !c.active() {
		return 0, false
	}
	for _, lead := range c.reminders() {
		if !c.state.ExpiresAt.Add(-lead).After(now) && !c.reminded(stageKey(lead, c.state.ExpiresAt)) {
			return lead, true
		}
	}
	return 0, false
}

// passedStages are the keys of the stages whose moment is already past at
// now and that are not marked yet. A new period marks them, so a user who
// renews two days before expiry is not sent the three-day reminder.
func (c periodClock) passedStages(now time.Time) []string {
	var keys []string
	for _, lead := range c.reminders() {
		key := stageKey(lead, c.state.ExpiresAt)
		if !c.state.ExpiresAt.Add(-lead).After(now) && !c.reminded(key) {
			keys = append(keys, key)
		}
	}
	return keys
}

// renewalAt is when the current period is renewed from the balance, if it
// is to be: a paid, active period with auto-renewal on, not yet tried.
func (c periodClock) renewalAt() (time.Time, bool) {
	if !c.state.AutoRenew || c.state.Status != shop.StatusActive || c.state.Trial || c.reminded(renewalKey(c.state.ExpiresAt)) {
		return time.Time{}, false
	}
	return c.state.ExpiresAt.Add(-c.policy.AutoRenewLead), true
}

func (c periodClock) renewalDue(now time.Time) bool {
	at, ok := c.renewalAt()
	return ok && !now.Before(at)
}

// nextEvent is the next moment after now the workflow must wake by itself:
// a reminder, the renewal or the expiry; none when the period is not live.
// A signal or update wakes it earlier; the timer is then simply re-armed.
func (c periodClock) nextEvent(now time.Time) (time.Time, bool) {
	if !c.active() {
		return time.Time{}, false
	}
	next := c.state.ExpiresAt
	for _, lead := range c.reminders() {
		at := c.state.ExpiresAt.Add(-lead)
		if at.After(now) && at.Before(next) && !c.reminded(stageKey(lead, c.state.ExpiresAt)) {
			next = at
		}
	}
	if at, ok := c.renewalAt(); ok && at.After(now) && at.Before(next) {
		next = at
	}
	return next, true
}
