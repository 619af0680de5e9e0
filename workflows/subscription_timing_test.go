package workflows

import (
	"slices"
	"testing"
	"time"

	"vpnflow/internal/shop"
)

// The timing rules are pure: these tests build a state and a time and ask,
// without Temporal.

var (
	clockExpiry = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	clockPolicy = shop.Policy{
		PaidReminders:  []time.Duration{72 * time.Hour, 24 * time.Hour, time.Hour},
		TrialReminders: []time.Duration{24 * time.Hour, time.Hour},
		AutoRenewLead:  12 * time.Hour,
	}
)

func paidClock(mod func(*shop.SubscriptionState)) periodClock {
	st := shop.SubscriptionState{UserID: 1, Status: shop.StatusActive, PlanID: "m1", ExpiresAt: clockExpiry}
	if mod != nil {
		mod(&st)
	}
	return periodClock{state: st, policy: clockPolicy}
}

func trial(st *shop.SubscriptionState)     { st.Status, st.Trial = shop.StatusTrial, true }
func autoRenew(st *shop.SubscriptionState) { st.AutoRenew = true }

func TestPeriodClockDue(t *testing.T) {
	before := func(d time.Duration) time.Time { return clockExpiry.Add(-d) }
	tests := []struct {
		name string
		c    periodClock
		now  time.Time
		want due
	}{
		{"paid, nothing due a week out", paidClock(nil), before(7 * 24 * time.Hour), due{Kind: dueNothing}},
		{"paid, three-day stage at its moment", paidClock(nil), before(72 * time.Hour), due{Kind: dueReminder, Lead: 72 * time.Hour}},
		{"paid, one-day stage after three-day sent", paidClock(func(st *shop.SubscriptionState) {
			st.Reminded = []string{stageKey(72*time.Hour, clockExpiry)}
		}), before(23 * time.Hour), due{Kind: dueReminder, Lead: 24 * time.Hour}},
		{"paid, every stage sent", paidClock(func(st *shop.SubscriptionState) {
			st.Reminded = []string{stageKey(72*time.Hour, clockExpiry), stageKey(24*time.Hour, clockExpiry), stageKey(time.Hour, clockExpiry)}
		}), before(time.Minute), due{Kind: dueNothing}},
		{"stage keys of another period do not count", paidClock(func(st *shop.SubscriptionState) {
			st.Reminded = []string{stageKey(72*time.Hour, clockExpiry.Add(-30*24*time.Hour))}
		}), before(71 * time.Hour), due{Kind: dueReminder, Lead: 72 * time.Hour}},
		{"trial uses trial stages", paidClock(trial), before(48 * time.Hour), due{Kind: dueNothing}},
		{"trial one-day stage", paidClock(trial), before(24 * time.Hour), due{Kind: dueReminder, Lead: 24 * time.Hour}},
		{"expiry at its moment", paidClock(nil), clockExpiry, due{Kind: dueExpiry}},
		{"expiry wins over an unsent reminder and renewal", paidClock(autoRenew), clockExpiry.Add(time.Second), due{Kind: dueExpiry}},
		{"renewal at its lead, before the reminder it makes moot", paidClock(autoRenew), before(12 * time.Hour), due{Kind: dueRenewal}},
		{"renewal tried once per period", paidClock(func(st *shop.SubscriptionState) {
			st.AutoRenew = true
			st.Reminded = []string{renewalKey(clockExpiry), stageKey(72*time.Hour, clockExpiry), stageKey(24*time.Hour, clockExpiry)}
		}), before(12 * time.Hour), due{Kind: dueNothing}},
		{"no renewal without auto-renew", paidClock(func(st *shop.SubscriptionState) {
			st.Reminded = []string{stageKey(72*time.Hour, clockExpiry), stageKey(24*time.Hour, clockExpiry)}
		}), before(12 * time.Hour), due{Kind: dueNothing}},
		{"no renewal of a trial", paidClock(func(st *shop.SubscriptionState) {
			trial(st)
			st.AutoRenew = true
			st.Reminded = []string{stageKey(24*time.Hour, clockExpiry)}
		}), before(12 * time.Hour), due{Kind: dueNothing}},
		{"nothing when expired", paidClock(func(st *shop.SubscriptionState) { st.Status = shop.StatusExpired; st.AutoRenew = true }), clockExpiry.Add(time.Hour), due{Kind: dueNothing}},
		{"nothing when banned", paidClock(func(st *shop.SubscriptionState) { st.Status = shop.StatusBanned; st.AutoRenew = true }), before(time.Minute), due{Kind: dueNothing}},
		{"nothing before any subscription", periodClock{state: shop.SubscriptionState{Status: shop.StatusNone}, policy: clockPolicy}, clockExpiry, due{Kind: dueNothing}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.dueAt(tt.now); got != tt.want {
				t.Fatalf("dueAt(%s) = %+v, want %+v", tt.now, got, tt.want)
			}
		})
	}
}

func TestPeriodClockNextEvent(t *testing.T) {
	before := func(d time.Duration) time.Time { return clockExpiry.Add(-d) }
	tests := []struct {
		name   string
		c      periodClock
		now    time.Time
		want   time.Time
		wantOK bool
	}{
		{"paid: the three-day stage first", paidClock(nil), before(10 * 24 * time.Hour), before(72 * time.Hour), true},
		{"paid: a sent stage is skipped", paidClock(func(st *shop.SubscriptionState) {
			st.Reminded = []string{stageKey(72*time.Hour, clockExpiry)}
		}), before(10 * 24 * time.Hour), before(24 * time.Hour), true},
		{"paid: a passed stage is not a future wake-up", paidClock(nil), before(30 * time.Hour), before(24 * time.Hour), true},
		{"the renewal before the one-hour stage", paidClock(autoRenew), before(20 * time.Hour), before(12 * time.Hour), true},
		{"renewal already tried: the next stage", paidClock(func(st *shop.SubscriptionState) {
			st.AutoRenew = true
			st.Reminded = []string{renewalKey(clockExpiry)}
		}), before(20 * time.Hour), before(time.Hour), true},
		{"trial: its own stages", paidClock(trial), before(10 * 24 * time.Hour), before(24 * time.Hour), true},
		{"after the last stage: the expiry", paidClock(nil), before(30 * time.Minute), clockExpiry, true},
		{"not active: no timer", paidClock(func(st *shop.SubscriptionState) { st.Status = shop.StatusExpired }), before(72 * time.Hour), time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.c.nextEvent(tt.now)
			if ok != tt.wantOK || !got.Equal(tt.want) {
				t.Fatalf("nextEvent(%s) = %s, %v; want %s, %v", tt.now, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// A new period marks the stages already past, and only those not marked.
func TestPeriodClockPassedStages(t *testing.T) {
	c := paidClock(func(st *shop.SubscriptionState) { st.Reminded = []string{stageKey(72*time.Hour, clockExpiry)} })
	got := c.passedStages(clockExpiry.Add(-2 * time.Hour))
	want := []string{stageKey(24*time.Hour, clockExpiry)}
	if !slices.Equal(got, want) {
		t.Fatalf("passedStages = %v, want %v", got, want)
	}
	if got := paidClock(nil).passedStages(clockExpiry.Add(-100 * time.Hour)); len(got) != 0 {
		t.Fatalf("nothing passed a week out, got %v", got)
	}
	if got := paidClock(trial).passedStages(clockExpiry.Add(-30 * time.Minute)); len(got) != 2 {
		t.Fatalf("trial: both trial stages passed, got %v", got)
	}
}
