package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"vpnflow/internal/shop"
)

// upserted records the statuses (key's values) each upsert of env sets.
func upserted(env *testsuite.TestWorkflowEnvironment, key temporal.SearchAttributeKeyKeyword) *[]string {
	var got []string
	env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		v, _ := args.Get(0).(temporal.SearchAttributes).GetKeyword(key)
		got = append(got, v)
	}).Return(nil)
	return &got
}

// A lean Purchase started as the bot starts it (shop.StartPurchase sets
// its user, provider and "pending") upserts only the changes; a run from
// before upserted what it was started with again.
func TestLeanPurchaseUpsertsOnlyChanges(t *testing.T) {
	for _, tc := range []struct {
		name string
		lean bool
		want []string
	}{
		{"lean run", true, []string{shop.PurchasePaid}},
		{"run before lean", false, []string{shop.PurchasePending, shop.PurchasePaid}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pe := newPurchaseEnv(t, shop.ProviderBalance)
			if !tc.lean {
				beforeLean(pe.TestWorkflowEnvironment)
			}
			require.NoError(t, pe.SetTypedSearchAttributesOnStart(temporal.NewSearchAttributes(
				shop.AttrTelegramUserID.ValueSet(pe.in.UserID),
				shop.AttrPurchaseStatus.ValueSet(shop.PurchasePending),
				shop.AttrPaymentProvider.ValueSet(pe.in.Provider),
			)))
			got := upserted(pe.TestWorkflowEnvironment, shop.AttrPurchaseStatus)
			pe.creditOK()
			pe.deliveries()

			pe.ExecuteWorkflow(Purchase, pe.in)

			require.Equal(t, shop.PurchasePaid, pe.result(t).Status)
			require.Equal(t, tc.want, *got)
		})
	}
}

// A lean Subscription started as shop.SubscriptionStartOptions starts it
// upserts when its status changes, not at its start; a run started
// without those values (an older bot) still sets them.
func TestLeanSubscriptionUpsertsOnlyChanges(t *testing.T) {
	for _, tc := range []struct {
		name    string
		lean    bool
		started bool // with shop.SubscriptionStartOptions' search attributes
		want    []string
	}{
		{"lean run", true, true, []string{shop.StatusActive}},
		{"lean run started without attributes", true, false, []string{shop.StatusNone, shop.StatusActive}},
		{"run before lean", false, true, []string{shop.StatusNone, shop.StatusActive}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			se := newSubEnv(t)
			if !tc.lean {
				beforeLean(se.TestWorkflowEnvironment)
			}
			if tc.started {
				require.NoError(t, se.SetTypedSearchAttributesOnStart(temporal.NewSearchAttributes(
					shop.SubscriptionStartOptions("q", 42).TypedSearchAttributes.Copy())))
			}
			got := upserted(se.TestWorkflowEnvironment, shop.AttrSubscriptionStatus)
			se.extendAt(time.Second, "purchase:a", 30*24*time.Hour)
			se.RegisterDelayedCallback(func() { se.CancelWorkflow() }, time.Hour)

			se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

			require.Equal(t, 1, se.keys)
			require.Equal(t, tc.want, *got)
		})
	}
}
