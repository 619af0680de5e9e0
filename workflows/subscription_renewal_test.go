package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/shop"
)

// renewalEnv runs the Subscription with the real Purchase as its renewal
// child; the database is mocked. credit answers the child's CreditPurchase.
type renewalEnv struct {
	*subEnv
	starts     []string // workflow ids that recorded a purchase
	recorded   []shop.NewPurchase
	failed     []activities.FailPurchaseInput
	deliveries []shop.Extension
	periodEnds []time.Time
	planGone   bool                      // the plan is no longer sold
	offeredAt  []time.Time               // when each renewal began
	outcome    activities.RenewalOutcome // what RenewalOutcome reads
	outcomes   int                       // RenewalOutcome calls
}

func newRenewalEnv(t *testing.T, credit func(activities.CreditInput) (activities.CreditResult, error)) *renewalEnv {
	se := newSubEnv(t)
	se.RegisterWorkflowWithOptions(Purchase, workflow.RegisterOptions{Name: shop.PurchaseWorkflowType})
	re := &renewalEnv{subEnv: se, outcome: activities.RenewalOutcome{Status: shop.PurchaseFailed, Balance: 100}}
	se.OnActivity(se.a.SetAutoRenew, mock.Anything, mock.Anything).Return(nil)
	se.OnActivity(se.a.RenewalOffer, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RenewalOfferInput) (activities.RenewalOffer, error) {
		re.periodEnds = append(re.periodEnds, in.PeriodEnd)
		re.offeredAt = append(re.offeredAt, se.Now())
		if re.planGone {
			return activities.RenewalOffer{}, nil
		}
		return activities.RenewalOffer{
			Found: true, PurchaseID: activities.RenewalPurchaseID(in.UserID, in.PeriodEnd).String(),
			PlanID: in.PlanID, Days: 30, Amount: 300, Currency: "USD",
		}, nil
	})
	se.OnActivity(se.a.RecordPurchase, mock.Anything, mock.Anything).Return(func(ctx context.Context, in shop.NewPurchase) (activities.RecordPurchaseResult, error) {
		re.starts = append(re.starts, activity.GetInfo(ctx).WorkflowExecution.ID)
		re.recorded = append(re.recorded, in)
		return activities.RecordPurchaseResult{Status: shop.PurchasePending}, nil
	})
	se.OnActivity(se.a.CreditPurchase, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.CreditInput) (activities.CreditResult, error) {
		return credit(in)
	})
	se.OnActivity(se.a.FailPurchase, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.FailPurchaseInput) error {
		re.failed = append(re.failed, in)
		return nil
	})
	// DeliverExtension signal-with-starts subscription/<id>: the parent.
	se.OnActivity(se.a.DeliverExtension, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.DeliverExtensionInput) error {
		re.deliveries = append(re.deliveries, in.Extension)
		se.SignalWorkflow(shop.SignalExtend, in.Extension)
		return nil
	})
	se.OnActivity(se.a.RenewalOutcome, mock.Anything, mock.Anything).Return(func(_ context.Context, _ activities.RenewalOutcomeInput) (activities.RenewalOutcome, error) {
		re.outcomes++
		return re.outcome, nil
	})
	return re
}

func (re *renewalEnv) autoRenewOnAt(after time.Duration, err *error) {
	re.RegisterDelayedCallback(func() {
		re.UpdateWorkflow(shop.UpdateSetAutoRenew, "a1", updateResult(err), shop.AutoRenewRequest{On: true})
	}, after)
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

// An auto-renewal is a Purchase under purchase/<renewal id>, started once
// per period; its extension arrives as a renewal, so the user hears
// "renewed" once and not "extended" too.
func TestSubscriptionAutoRenewRunsAsPurchaseChild(t *testing.T) {
	var re *renewalEnv
	re = newRenewalEnv(t, func(in activities.CreditInput) (activities.CreditResult, error) {
		return activities.CreditResult{Kind: shop.KindSubscription, ExpiresAt: re.periodEnds[len(re.periodEnds)-1].Add(30 * 24 * time.Hour), Balance: 200}, nil
	})
	re.extendAt(time.Second, "purchase:a", 10*24*time.Hour)
	var err error
	re.autoRenewOnAt(time.Minute, &err)
	var day12, day45 shop.SubscriptionState
	re.RegisterDelayedCallback(func() { day12 = re.state(t) }, 12*24*time.Hour)
	re.RegisterDelayedCallback(func() { day45 = re.state(t) }, 45*24*time.Hour)
	re.RegisterDelayedCallback(func() { re.CancelWorkflow() }, 46*24*time.Hour)

	re.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

	require.NoError(t, err)
	// Two periods (day 10, day 40), one purchase each, under the derived id.
	require.Len(t, re.periodEnds, 2)
	var want []string
	for _, end := range re.periodEnds {
		want = append(want, shop.PurchaseWorkflowID(activities.RenewalPurchaseID(42, end).String()))
	}
	require.Equal(t, want, re.starts)
	for _, p := range re.recorded {
		require.Equal(t, shop.ProviderBalance, p.Provider)
		require.Equal(t, shop.KindSubscription, p.Kind)
		require.Equal(t, "1m", p.PlanID)
		require.Equal(t, 30, p.Days)
		require.Equal(t, int64(300), p.Amount)
	}
	require.Len(t, re.deliveries, 2)
	for _, ext := range re.deliveries {
		require.Equal(t, "renewal", ext.Kind)
	}
	first := shop.PurchaseExtensionID(activities.RenewalPurchaseID(42, re.periodEnds[0]).String())
	require.Equal(t, []string{"purchase:a", first}, day12.Applied, "the purchase's extension, and no second renewal:<ts> one")
	require.Equal(t, shop.StatusActive, day12.Status)
	require.True(t, day12.ExpiresAt.Equal(re.periodEnds[0].Add(30*24*time.Hour)))
	require.Equal(t, shop.StatusActive, day45.Status)
	require.Equal(t, 2, count(re.notices, "autorenew_done"))
	require.Zero(t, count(re.notices, "subscription_extended"))
	require.Zero(t, count(re.notices, "subscription_expired"))
	require.Zero(t, re.removes)
	require.Equal(t, 1, re.keys, "only the first activation sends the key")
	for _, n := range re.sent {
		if n.Message == "autorenew_done" {
			require.Equal(t, int64(300), n.Amount)
			require.Equal(t, "USD", n.Currency)
		}
	}
}

// A balance too short for the renewal: the Purchase records its failure
// and stays quiet; the subscription tells the user once, with the
// balance, and the period ends.
func TestSubscriptionAutoRenewShortBalanceByPurchase(t *testing.T) {
	re := newRenewalEnv(t, func(activities.CreditInput) (activities.CreditResult, error) {
		return activities.CreditResult{}, temporal.NewNonRetryableApplicationError("insufficient balance", activities.ErrInsufficientBalance, nil)
	})
	re.extendAt(time.Second, "purchase:a", 10*24*time.Hour)
	var err error
	re.autoRenewOnAt(time.Minute, &err)
	re.RegisterDelayedCallback(func() { re.CancelWorkflow() }, 11*24*time.Hour)

	re.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

	require.NoError(t, err)
	require.Len(t, re.starts, 1)
	require.Len(t, re.failed, 1)
	require.Equal(t, re.recorded[0].PurchaseID, re.failed[0].PurchaseID)
	require.Empty(t, re.deliveries)
	require.Equal(t, 1, count(re.notices, "autorenew_short_balance"))
	require.Zero(t, count(re.notices, "insufficient_balance"), "the Purchase of a renewal leaves the telling to the subscription")
	for _, n := range re.sent {
		if n.Message == "autorenew_short_balance" {
			require.Equal(t, int64(100), n.Balance)
			require.Equal(t, int64(300), n.Amount)
		}
	}
	require.Equal(t, 1, count(re.notices, "subscription_expired"))
	require.Equal(t, 1, re.removes)
}

// A plan no longer sold: no purchase is started, and the user is told.
func TestSubscriptionAutoRenewPlanGoneStartsNoPurchase(t *testing.T) {
	re := newRenewalEnv(t, func(activities.CreditInput) (activities.CreditResult, error) {
		return activities.CreditResult{}, nil
	})
	re.planGone = true
	re.extendAt(time.Second, "purchase:a", 10*24*time.Hour)
	var err error
	re.autoRenewOnAt(time.Minute, &err)
	re.RegisterDelayedCallback(func() { re.CancelWorkflow() }, 11*24*time.Hour)

	re.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

	require.NoError(t, err)
	require.Empty(t, re.starts)
	require.Equal(t, 1, count(re.notices, "autorenew_needs_plan"))
}

// Turning auto-renewal on re-arms the timer: a renewal lead longer than
// the next reminder's renews at its moment, not at that reminder.
func TestSubscriptionAutoRenewOnRearmsTimer(t *testing.T) {
	var re *renewalEnv
	re = newRenewalEnv(t, func(in activities.CreditInput) (activities.CreditResult, error) {
		return activities.CreditResult{Kind: shop.KindSubscription, ExpiresAt: re.periodEnds[0].Add(30 * 24 * time.Hour)}, nil
	})
	// Renewal at expiry - 100h (day 5.8); the first reminder is at day 7.
	re.policy.AutoRenewLead = 100 * time.Hour
	re.extendAt(time.Second, "purchase:a", 10*24*time.Hour)
	var err error
	re.autoRenewOnAt(time.Minute, &err)
	re.RegisterDelayedCallback(func() { re.CancelWorkflow() }, 8*24*time.Hour)

	re.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: re.policy})

	require.NoError(t, err)
	require.Len(t, re.offeredAt, 1)
	due := re.periodEnds[0].Add(-100 * time.Hour)
	require.False(t, re.offeredAt[0].Before(due))
	require.True(t, re.offeredAt[0].Before(due.Add(time.Minute)), "renewed at %s, due at %s", re.offeredAt[0], due)
	require.Equal(t, 1, count(re.notices, "autorenew_done"))
}

// A period renewed again (here an admin's correction puts the expiry back
// to the renewed period's end) meets the closed purchase/<id>: the start is
// rejected, nothing is charged twice, and the outcome is read instead.
func TestSubscriptionAutoRenewSamePeriodIsNotChargedTwice(t *testing.T) {
	var re *renewalEnv
	credits := 0
	re = newRenewalEnv(t, func(in activities.CreditInput) (activities.CreditResult, error) {
		credits++
		return activities.CreditResult{Kind: shop.KindSubscription, ExpiresAt: re.periodEnds[0].Add(30 * 24 * time.Hour)}, nil
	})
	re.extendAt(time.Second, "purchase:a", 10*24*time.Hour)
	var err error
	re.autoRenewOnAt(time.Minute, &err)
	re.RegisterDelayedCallback(func() {
		re.outcome = activities.RenewalOutcome{Status: shop.PurchasePaid, ExpiresAt: re.periodEnds[0].Add(30 * 24 * time.Hour)}
		re.SignalWorkflow(shop.SignalExtend, shop.Extension{ID: "fix:1", Kind: "grant", ExpiresAt: re.periodEnds[0], Replace: true})
	}, 9*24*time.Hour+time.Hour)
	var st shop.SubscriptionState
	re.RegisterDelayedCallback(func() { st = re.state(t) }, 9*24*time.Hour+2*time.Hour)
	re.RegisterDelayedCallback(func() { re.CancelWorkflow() }, 9*24*time.Hour+3*time.Hour)

	re.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

	require.NoError(t, err)
	require.Len(t, re.periodEnds, 2, "the renewal was due twice for the same period")
	require.Equal(t, re.periodEnds[0], re.periodEnds[1])
	require.Len(t, re.starts, 1, "the purchase ran once")
	require.Equal(t, 1, credits)
	require.Equal(t, 1, re.outcomes)
	require.Equal(t, 1, count(re.notices, "autorenew_done"))
	require.Zero(t, count(re.notices, "autorenew_failed"))
	require.Contains(t, st.Reminded, renewalKey(re.periodEnds[0]))
}
