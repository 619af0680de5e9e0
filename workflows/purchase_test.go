package workflows

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"vpnflow/activities"
	"vpnflow/internal/notice"
	"vpnflow/internal/shop"
)

// purchaseEnv is a test environment with every purchase activity mocked.
// Tests override what they need and count what was called.
type purchaseEnv struct {
	*testsuite.TestWorkflowEnvironment
	a       *activities.Activities
	in      shop.PurchaseInput
	notices []string
	failed  []activities.FailPurchaseInput // FailPurchase calls
	// recordedOn is where RecordPurchase ran: "local" or its task queue.
	recordedOn string
}

func newPurchaseEnv(t *testing.T, provider string) *purchaseEnv {
	env := newTestEnv()
	a := &activities.Activities{}
	env.RegisterActivity(a)
	in := shop.PurchaseInput{
		NewPurchase: shop.NewPurchase{
			PurchaseID: uuid.NewString(), UserID: 42, Kind: shop.KindSubscription, PlanID: "1m", Days: 30,
			Amount: 300, Currency: "USD", Provider: provider,
		},
		InvoiceTTL: time.Hour,
	}
	if provider == shop.ProviderStars {
		in.Amount, in.Currency = 150, "XTR"
	}
	pe := &purchaseEnv{TestWorkflowEnvironment: env, a: a, in: in}
	env.OnActivity(a.RecordPurchase, mock.Anything, mock.Anything).Return(func(ctx context.Context, _ shop.NewPurchase) (activities.RecordPurchaseResult, error) {
		pe.recordedOn = where(ctx)
		return activities.RecordPurchaseResult{Status: shop.PurchasePending}, nil
	})
	env.OnActivity(a.SaveInvoice, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(a.SendInvoiceMessage, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(a.SendStarsInvoice, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(a.ExpirePurchase, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(a.FailPurchase, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.FailPurchaseInput) error {
		pe.failed = append(pe.failed, in)
		return nil
	})
	env.OnActivity(a.Notify, mock.Anything, mock.Anything).Return(func(_ context.Context, n notice.Notice) error {
		pe.notices = append(pe.notices, n.Message)
		return nil
	})
	return pe
}

func (pe *purchaseEnv) invoiceExpiresIn(d time.Duration) {
	pe.OnActivity(pe.a.CreateInvoice, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.CreateInvoiceInput) (activities.Invoice, error) {
		return activities.Invoice{InvoiceID: "1001", PayURL: "http://pay/1001", ExpiresAt: pe.Now().Add(d)}, nil
	})
}

func (pe *purchaseEnv) creditOK() *int {
	calls := 0
	pe.OnActivity(pe.a.CreditPurchase, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.CreditInput) (activities.CreditResult, error) {
		calls++
		return activities.CreditResult{Kind: pe.in.Kind, ExpiresAt: pe.Now().Add(30 * 24 * time.Hour), Balance: 500}, nil
	})
	return &calls
}

func (pe *purchaseEnv) deliveries() *[]activities.DeliverExtensionInput {
	var got []activities.DeliverExtensionInput
	pe.OnActivity(pe.a.DeliverExtension, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.DeliverExtensionInput) error {
		got = append(got, in)
		return nil
	})
	return &got
}

func (pe *purchaseEnv) result(t *testing.T) shop.PurchaseState {
	t.Helper()
	require.True(t, pe.IsWorkflowCompleted())
	require.NoError(t, pe.GetWorkflowError())
	var st shop.PurchaseState
	require.NoError(t, pe.GetWorkflowResult(&st))
	return st
}

func TestPurchasePaidByWebhook(t *testing.T) {
	pe := newPurchaseEnv(t, shop.ProviderCryptoPay)
	pe.invoiceExpiresIn(time.Hour)
	credits := pe.creditOK()
	delivered := pe.deliveries()
	pe.OnActivity(pe.a.CheckInvoice, mock.Anything, mock.Anything).Return(activities.InvoiceStatus{Status: "active"}, nil)
	pe.RegisterDelayedCallback(func() {
		pe.SignalWorkflow(shop.SignalPayment, shop.Payment{Provider: shop.ProviderCryptoPay, InvoiceID: "1001", Source: "webhook"})
	}, 10*time.Second)

	pe.ExecuteWorkflow(Purchase, pe.in)

	st := pe.result(t)
	require.Equal(t, shop.PurchasePaid, st.Status)
	require.Equal(t, "webhook", st.PaidVia)
	require.Equal(t, 1, *credits)
	require.Len(t, *delivered, 1)
	require.Equal(t, shop.PurchaseExtensionID(pe.in.PurchaseID), (*delivered)[0].Extension.ID)
	require.Equal(t, int64(42), (*delivered)[0].UserID)
}

func TestPurchaseDuplicateWebhooksCreditOnce(t *testing.T) {
	pe := newPurchaseEnv(t, shop.ProviderCryptoPay)
	pe.invoiceExpiresIn(time.Hour)
	credits := pe.creditOK()
	delivered := pe.deliveries()
	pe.OnActivity(pe.a.CheckInvoice, mock.Anything, mock.Anything).Return(activities.InvoiceStatus{Status: "paid"}, nil)
	pe.RegisterDelayedCallback(func() {
		for range 5 {
			pe.SignalWorkflow(shop.SignalPayment, shop.Payment{Provider: shop.ProviderCryptoPay, InvoiceID: "1001", Source: "webhook"})
		}
	}, 45*time.Second) // after the first poll already saw it paid

	pe.ExecuteWorkflow(Purchase, pe.in)

	st := pe.result(t)
	require.Equal(t, shop.PurchasePaid, st.Status)
	require.Equal(t, 1, *credits)
	require.Len(t, *delivered, 1)
}

func TestPurchasePaidByPollingWhenWebhookLost(t *testing.T) {
	pe := newPurchaseEnv(t, shop.ProviderCryptoPay)
	pe.invoiceExpiresIn(time.Hour)
	credits := pe.creditOK()
	pe.deliveries()
	polls := 0
	pe.OnActivity(pe.a.CheckInvoice, mock.Anything, mock.Anything).Return(func(_ context.Context, _ activities.CheckInvoiceInput) (activities.InvoiceStatus, error) {
		polls++
		if polls < 3 {
			return activities.InvoiceStatus{Status: "active"}, nil
		}
		return activities.InvoiceStatus{Status: "paid"}, nil
	})
	start := pe.Now()

	pe.ExecuteWorkflow(Purchase, pe.in)

	st := pe.result(t)
	require.Equal(t, shop.PurchasePaid, st.Status)
	require.Equal(t, "poll", st.PaidVia)
	require.Equal(t, 3, polls)
	require.Equal(t, 1, *credits)
	// 30 s, then 60 s, then 120 s: the polls back off.
	require.Equal(t, 210*time.Second, pe.Now().Sub(start).Round(time.Second))
}

func TestPurchaseExpiresUnpaid(t *testing.T) {
	pe := newPurchaseEnv(t, shop.ProviderCryptoPay)
	pe.invoiceExpiresIn(time.Hour)
	pe.OnActivity(pe.a.CheckInvoice, mock.Anything, mock.Anything).Return(activities.InvoiceStatus{Status: "active"}, nil)

	pe.ExecuteWorkflow(Purchase, pe.in)

	st := pe.result(t)
	require.Equal(t, shop.PurchaseExpired, st.Status)
	require.Equal(t, []string{"purchase_expired"}, pe.notices)
	pe.AssertNotCalled(t, "CreditPurchase", mock.Anything, mock.Anything)
}

func TestPurchasePaymentRacingExpiryIsCredited(t *testing.T) {
	pe := newPurchaseEnv(t, shop.ProviderCryptoPay)
	pe.invoiceExpiresIn(time.Hour)
	credits := pe.creditOK()
	pe.deliveries()
	pe.OnActivity(pe.a.CheckInvoice, mock.Anything, mock.Anything).Return(activities.InvoiceStatus{Status: "active"}, nil)
	pe.RegisterDelayedCallback(func() {
		pe.SignalWorkflow(shop.SignalPayment, shop.Payment{Provider: shop.ProviderCryptoPay, Source: "webhook"})
	}, time.Hour+time.Minute)

	pe.ExecuteWorkflow(Purchase, pe.in)

	st := pe.result(t)
	require.Equal(t, shop.PurchasePaid, st.Status)
	require.Equal(t, 1, *credits)
}

func TestPurchaseFromBalance(t *testing.T) {
	pe := newPurchaseEnv(t, shop.ProviderBalance)
	credits := pe.creditOK()
	delivered := pe.deliveries()

	pe.ExecuteWorkflow(Purchase, pe.in)

	st := pe.result(t)
	require.Equal(t, shop.PurchasePaid, st.Status)
	require.Equal(t, 1, *credits)
	require.Len(t, *delivered, 1)
	pe.AssertNotCalled(t, "CreateInvoice", mock.Anything, mock.Anything)
}

func TestPurchaseInsufficientBalanceChangesNothing(t *testing.T) {
	pe := newPurchaseEnv(t, shop.ProviderBalance)
	pe.OnActivity(pe.a.CreditPurchase, mock.Anything, mock.Anything).Return(activities.CreditResult{},
		temporal.NewNonRetryableApplicationError("short", activities.ErrInsufficientBalance, errors.New("short")))

	pe.ExecuteWorkflow(Purchase, pe.in)

	st := pe.result(t)
	require.Equal(t, shop.PurchaseFailed, st.Status)
	require.Equal(t, []string{"insufficient_balance"}, pe.notices)
	pe.AssertNotCalled(t, "DeliverExtension", mock.Anything, mock.Anything)
}

func TestPurchaseTopUpCreditsBalance(t *testing.T) {
	pe := newPurchaseEnv(t, shop.ProviderCryptoPay)
	pe.in.Kind, pe.in.PlanID, pe.in.Days = shop.KindTopUp, "", 0
	pe.invoiceExpiresIn(time.Hour)
	pe.creditOK()
	pe.OnActivity(pe.a.CheckInvoice, mock.Anything, mock.Anything).Return(activities.InvoiceStatus{Status: "paid"}, nil)

	pe.ExecuteWorkflow(Purchase, pe.in)

	st := pe.result(t)
	require.Equal(t, shop.PurchasePaid, st.Status)
	require.Equal(t, []string{"topup_done"}, pe.notices)
	pe.AssertNotCalled(t, "DeliverExtension", mock.Anything, mock.Anything)
}

func TestPurchaseStarsCheckout(t *testing.T) {
	pe := newPurchaseEnv(t, shop.ProviderStars)
	credits := pe.creditOK()
	pe.deliveries()
	var wrongUser, wrongAmount, ok error
	pe.RegisterDelayedCallback(func() {
		pe.UpdateWorkflow(shop.UpdateApproveCheckout, "u1", updateResult(&wrongUser), shop.CheckoutRequest{UserID: 7, Amount: 150, Currency: "XTR"})
		pe.UpdateWorkflow(shop.UpdateApproveCheckout, "u2", updateResult(&wrongAmount), shop.CheckoutRequest{UserID: 42, Amount: 1, Currency: "XTR"})
		pe.UpdateWorkflow(shop.UpdateApproveCheckout, "u3", updateResult(&ok), shop.CheckoutRequest{UserID: 42, Amount: 150, Currency: "XTR"})
	}, time.Minute)
	pe.RegisterDelayedCallback(func() {
		pe.SignalWorkflow(shop.SignalPayment, shop.Payment{Provider: shop.ProviderStars, ChargeID: "ch_1", Source: "telegram"})
	}, time.Minute+time.Second)

	pe.ExecuteWorkflow(Purchase, pe.in)

	st := pe.result(t)
	require.ErrorContains(t, wrongUser, "another user")
	require.ErrorContains(t, wrongAmount, "does not match")
	require.NoError(t, ok)
	require.Equal(t, shop.PurchasePaid, st.Status)
	require.Equal(t, 1, *credits)
}

func TestPurchaseRejectsBadInput(t *testing.T) {
	pe := newPurchaseEnv(t, shop.ProviderCryptoPay)
	pe.in.Amount = 0
	pe.ExecuteWorkflow(Purchase, pe.in)
	require.ErrorContains(t, pe.GetWorkflowError(), "amount must be positive")
}

// updateResult records an update's outcome into *err.
func updateResult(err *error) *testsuite.TestUpdateCallback {
	return &testsuite.TestUpdateCallback{
		OnAccept:   func() {},
		OnReject:   func(e error) { *err = e },
		OnComplete: func(_ any, e error) { *err = e },
	}
}

// A renewal Purchase (the Subscription's child) delivers its extension as
// a renewal, and on a short balance records the failure without a notice:
// the subscription tells the user.
func TestPurchaseRenewalMode(t *testing.T) {
	t.Run("paid", func(t *testing.T) {
		pe := newPurchaseEnv(t, shop.ProviderBalance)
		pe.in.Renewal = true
		pe.creditOK()
		delivered := pe.deliveries()

		pe.ExecuteWorkflow(Purchase, pe.in)

		require.Equal(t, shop.PurchasePaid, pe.result(t).Status)
		require.Len(t, *delivered, 1)
		ext := (*delivered)[0].Extension
		require.Equal(t, "renewal", ext.Kind)
		require.Equal(t, shop.PurchaseExtensionID(pe.in.PurchaseID), ext.ID)
		require.Empty(t, pe.notices)
	})
	t.Run("short balance", func(t *testing.T) {
		pe := newPurchaseEnv(t, shop.ProviderBalance)
		pe.in.Renewal = true
		pe.OnActivity(pe.a.CreditPurchase, mock.Anything, mock.Anything).Return(activities.CreditResult{},
			temporal.NewNonRetryableApplicationError("short", activities.ErrInsufficientBalance, errors.New("short")))

		pe.ExecuteWorkflow(Purchase, pe.in)

		st := pe.result(t)
		require.Equal(t, shop.PurchaseFailed, st.Status)
		require.Equal(t, failureInsufficientBalance, st.Failure)
		require.Len(t, pe.failed, 1)
		require.Empty(t, pe.notices)
		pe.AssertNotCalled(t, "DeliverExtension", mock.Anything, mock.Anything)
	})
}
