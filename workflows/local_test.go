package workflows

import (
	"context"
	"errors"
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

// where says how an activity ran: "local", or the task queue it ran on.
func where(ctx context.Context) string {
	if info := activity.GetInfo(ctx); !info.IsLocalActivity {
		return info.TaskQueue
	}
	return "local"
}

var dbQueue = shop.BulkheadQueue("default-test-taskqueue", shop.BulkheadDB)

// A lean run stores and credits a purchase and hands its extension on in
// local activities; a run from before does the first two on the database
// bulkhead and the last on the workflows' queue.
func TestLeanStepsRunLocally(t *testing.T) {
	for _, tc := range []struct {
		name          string
		lean          bool
		want, deliver string
	}{{"lean run", true, "local", "local"}, {"run before lean", false, dbQueue, "default-test-taskqueue"}} {
		t.Run(tc.name, func(t *testing.T) {
			pe := newPurchaseEnv(t, shop.ProviderBalance)
			if !tc.lean {
				beforeLean(pe.TestWorkflowEnvironment)
			}
			ran := map[string]string{}
			pe.OnActivity(pe.a.CreditPurchase, mock.Anything, mock.Anything).Return(func(ctx context.Context, _ activities.CreditInput) (activities.CreditResult, error) {
				ran["credit"] = where(ctx)
				return activities.CreditResult{Kind: shop.KindSubscription, ExpiresAt: pe.Now().Add(30 * 24 * time.Hour)}, nil
			})
			pe.OnActivity(pe.a.DeliverExtension, mock.Anything, mock.Anything).Return(func(ctx context.Context, _ activities.DeliverExtensionInput) error {
				ran["deliver"] = where(ctx)
				return nil
			})

			pe.ExecuteWorkflow(Purchase, pe.in)

			require.Equal(t, shop.PurchasePaid, pe.result(t).Status)
			ran["record"] = pe.recordedOn
			require.Equal(t, map[string]string{"record": tc.want, "credit": tc.want, "deliver": tc.deliver}, ran)
		})
	}
}

// A credit that cannot be made locally (the database down past
// localLimit) is handed to the database bulkhead, which retries it until
// the database is back: the payment is credited once all the same.
func TestLocalStepHandedToBulkheadWhenDatabaseDown(t *testing.T) {
	pe := newPurchaseEnv(t, shop.ProviderBalance)
	var ran []string
	credited := 0
	pe.OnActivity(pe.a.CreditPurchase, mock.Anything, mock.Anything).Return(func(ctx context.Context, _ activities.CreditInput) (activities.CreditResult, error) {
		ran = append(ran, where(ctx))
		if len(ran) < 12 { // down for every local attempt and the first ones on the bulkhead
			return activities.CreditResult{}, errors.New("connection refused")
		}
		credited++
		return activities.CreditResult{Kind: shop.KindSubscription, ExpiresAt: pe.Now().Add(30 * 24 * time.Hour)}, nil
	})
	delivered := pe.deliveries()

	pe.ExecuteWorkflow(Purchase, pe.in)

	require.Equal(t, shop.PurchasePaid, pe.result(t).Status)
	require.Equal(t, 1, credited)
	require.Len(t, *delivered, 1)
	require.Equal(t, "local", ran[0])
	require.Equal(t, dbQueue, ran[len(ran)-1])
	locals := count(ran, "local")
	require.Greater(t, locals, 1, "tried locally more than once: %v", ran)
	require.Less(t, locals, len(ran)-1, "handed over while the database was still down: %v", ran)
	require.Empty(t, pe.failed)
}

// A non-retryable answer from a local step is the answer: the short
// balance fails the purchase at once, without a second try on the
// bulkhead.
func TestLocalStepAnswerIsFinal(t *testing.T) {
	pe := newPurchaseEnv(t, shop.ProviderBalance)
	var ran []string
	pe.OnActivity(pe.a.CreditPurchase, mock.Anything, mock.Anything).Return(func(ctx context.Context, _ activities.CreditInput) (activities.CreditResult, error) {
		ran = append(ran, where(ctx))
		return activities.CreditResult{}, temporal.NewNonRetryableApplicationError("short", activities.ErrInsufficientBalance, errors.New("short"))
	})

	pe.ExecuteWorkflow(Purchase, pe.in)

	st := pe.result(t)
	require.Equal(t, shop.PurchaseFailed, st.Status)
	require.Equal(t, failureInsufficientBalance, st.Failure)
	require.Equal(t, []string{"local"}, ran)
	require.Equal(t, []string{"insufficient_balance"}, pe.notices)
}

// An extension Temporal does not take locally within localLimit (the
// frontend unreachable) is handed to the activity on the workflows' queue,
// which retries until it is delivered.
func TestLocalDeliveryHandedToActivity(t *testing.T) {
	pe := newPurchaseEnv(t, shop.ProviderBalance)
	pe.creditOK()
	var ran []string
	pe.OnActivity(pe.a.DeliverExtension, mock.Anything, mock.Anything).Return(func(ctx context.Context, _ activities.DeliverExtensionInput) error {
		ran = append(ran, where(ctx))
		if where(ctx) == "local" {
			return errors.New("frontend unavailable")
		}
		return nil
	})

	pe.ExecuteWorkflow(Purchase, pe.in)

	require.Equal(t, shop.PurchasePaid, pe.result(t).Status)
	require.Equal(t, "default-test-taskqueue", ran[len(ran)-1])
	require.Equal(t, len(ran)-1, count(ran, "local"))
}

// A lean Subscription run reads the configured policy locally, once for
// its start and the period it begins at that moment, and again for a
// period that begins later; a run from before reads it as an activity
// each time.
func TestLeanPolicyReadOncePerMoment(t *testing.T) {
	for _, tc := range []struct {
		name string
		lean bool
		want []string
	}{
		{"lean run", true, []string{"local", "local"}},
		{"run before lean", false, []string{"default-test-taskqueue", "default-test-taskqueue", "default-test-taskqueue"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			se := newSubEnv(t)
			if !tc.lean {
				beforeLean(se.TestWorkflowEnvironment)
			}
			se.extendAt(3*24*time.Hour, "purchase:b", 30*24*time.Hour)
			se.RegisterDelayedCallback(func() { se.CancelWorkflow() }, 4*24*time.Hour)

			// Started with its first extension, as a purchase starts it.
			se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy, Pending: []shop.Extension{
				{ID: "purchase:a", Kind: "purchase", PlanID: "1m", ExpiresAt: se.Now().Add(2 * 24 * time.Hour)},
			}})

			require.Equal(t, tc.want, se.policyReads)
			require.Equal(t, 2, se.keys, "both periods activated")
		})
	}
}

// A run from leanExpiry on expires its period in a local activity; a run
// recorded at the version before does it on the database bulkhead, as
// before. Either way the key leaves Xray and the user is told once.
func TestLeanExpiryRunsLocally(t *testing.T) {
	for _, tc := range []struct {
		name    string
		version workflow.Version
		want    string
	}{{"lean run", leanVersion, "local"}, {"run at the version before", leanTimer, dbQueue}} {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestEnv()
			env.OnGetVersion(leanChange, workflow.DefaultVersion, leanVersion).Return(tc.version)
			se := newSubEnvIn(t, env)
			se.extendAt(time.Second, "purchase:a", 24*time.Hour)
			se.RegisterDelayedCallback(func() { se.CancelWorkflow() }, 48*time.Hour)

			se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

			require.Equal(t, []string{tc.want}, se.expiredOn)
			require.Equal(t, 1, se.removes)
			require.Equal(t, 1, count(se.notices, "subscription_expired"))
		})
	}
}
