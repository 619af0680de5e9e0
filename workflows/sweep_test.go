package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"vpnflow/activities"
	"vpnflow/internal/schedules"
	"vpnflow/internal/shop"
)

// The sweep records what only Telegram knows, re-hands unhandled Stars
// charges and uncredited paid invoices to their purchases, and refunds a
// charge that names no purchase.
func TestPaymentsSweep(t *testing.T) {
	env := newTestEnv()
	a := &activities.Activities{}
	env.RegisterActivity(a)
	now := env.Now()
	stale, fresh := uuid.NewString(), uuid.NewString()
	env.OnActivity(a.LoadStarCursor, mock.Anything, mock.Anything).Return(activities.StarCursor{Offset: 7}, nil)
	env.OnActivity(a.FetchStarTransactions, mock.Anything, activities.StarCursor{Offset: 7}).Return(activities.StarPage{
		Count: 2, Charges: []activities.StarCharge{{ChargeID: "ch_a", UserID: 5, Amount: 150, Payload: stale}},
	}, nil)
	var recorded []activities.RecordStarPageInput
	env.OnActivity(a.RecordStarPage, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RecordStarPageInput) (activities.RecordStarPageResult, error) {
		recorded = append(recorded, in)
		return activities.RecordStarPageResult{Added: []string{"ch_a"}}, nil
	})
	env.OnActivity(a.UnhandledStarPayments, mock.Anything, mock.Anything).Return(activities.UnhandledStarsResult{Payments: []activities.UnhandledStar{
		{ChargeID: "ch_a", UserID: 5, Amount: 150, PurchaseID: stale},
		{ChargeID: "ch_x", UserID: 6, Amount: 30},
	}}, nil)
	env.OnActivity(a.FetchPaidInvoices, mock.Anything, mock.Anything).Return(activities.PaidInvoicesResult{Invoices: []activities.PaidInvoice{
		{InvoiceID: "11", Payload: fresh, CreatedAt: now.Add(-time.Hour)},
		{InvoiceID: "12", Payload: "not ours", CreatedAt: now.Add(-2 * time.Hour)},
		{InvoiceID: "13", Payload: uuid.NewString(), CreatedAt: now.Add(-30 * 24 * time.Hour)},
	}}, nil)
	env.OnActivity(a.UncreditedPurchases, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.PurchaseIDs) (activities.PurchaseIDs, error) {
		require.Equal(t, []string{fresh}, in.IDs)
		return in, nil
	})
	var delivered []activities.DeliverPaymentInput
	env.OnActivity(a.DeliverPayment, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.DeliverPaymentInput) error {
		delivered = append(delivered, in)
		return nil
	})
	var refunded []activities.RefundStarsInput
	env.OnActivity(a.RefundStars, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RefundStarsInput) error {
		refunded = append(refunded, in)
		return nil
	})
	env.OnActivity(a.RecordStarsRefund, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(a.Notify, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(a.AlertPayment, mock.Anything, mock.Anything).Return(activities.AdminAlertResult{Sent: 1}, nil)

	env.ExecuteWorkflow(PaymentsSweep, schedules.PaymentsSweepInput{})

	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res PaymentsSweepResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Len(t, recorded, 1)
	require.Equal(t, int64(7), recorded[0].From)
	require.Equal(t, int64(9), recorded[0].To)
	require.Equal(t, []activities.DeliverPaymentInput{
		{PurchaseID: stale, Payment: shop.Payment{Provider: shop.ProviderStars, ChargeID: "ch_a", Source: "sweep", UserID: 5, Amount: 150}},
		{PurchaseID: fresh, Payment: shop.Payment{Provider: shop.ProviderCryptoPay, InvoiceID: "11", Source: "sweep"}},
	}, delivered)
	require.Equal(t, []activities.RefundStarsInput{{UserID: 6, ChargeID: "ch_x"}}, refunded)
	require.Equal(t, PaymentsSweepResult{StarPages: 1, StarsFound: 1, StarsResent: 1, StarsRefunded: 1, InvoicesPaid: 1, InvoicesResent: 1}, res)
}
