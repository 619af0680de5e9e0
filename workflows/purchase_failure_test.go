package workflows

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"vpnflow/activities"
	"vpnflow/internal/shop"
)

// A purchase whose invoice cannot be created is marked failed in the
// database, with the reason, so it does not stay pending and its promo is
// freed.
func TestPurchaseInvoiceFailureRecordsFailure(t *testing.T) {
	pe := newPurchaseEnv(t, shop.ProviderCryptoPay)
	pe.OnActivity(pe.a.CreateInvoice, mock.Anything, mock.Anything).Return(activities.Invoice{},
		temporal.NewNonRetryableApplicationError("refused", "CryptoPay", errors.New("refused")))

	pe.ExecuteWorkflow(Purchase, pe.in)

	require.True(t, pe.IsWorkflowCompleted())
	require.Error(t, pe.GetWorkflowError())
	require.Len(t, pe.failed, 1)
	require.Equal(t, pe.in.PurchaseID, pe.failed[0].PurchaseID)
	require.Contains(t, pe.failed[0].Reason, "create invoice")
}

func TestPurchaseInsufficientBalanceRecordsFailure(t *testing.T) {
	pe := newPurchaseEnv(t, shop.ProviderBalance)
	pe.OnActivity(pe.a.CreditPurchase, mock.Anything, mock.Anything).Return(activities.CreditResult{},
		temporal.NewNonRetryableApplicationError("short", activities.ErrInsufficientBalance, errors.New("short")))

	pe.ExecuteWorkflow(Purchase, pe.in)

	require.Equal(t, shop.PurchaseFailed, pe.result(t).Status)
	require.Equal(t, []activities.FailPurchaseInput{{PurchaseID: pe.in.PurchaseID, Reason: "insufficient balance"}}, pe.failed)
}

// A failure after the payment was credited (the extension could not be
// handed on) does not mark the paid purchase failed.
func TestPurchaseFailureAfterCreditKeepsItPaid(t *testing.T) {
	pe := newPurchaseEnv(t, shop.ProviderBalance)
	pe.creditOK()
	pe.OnActivity(pe.a.DeliverExtension, mock.Anything, mock.Anything).Return(
		temporal.NewNonRetryableApplicationError("bad", "Invalid", errors.New("bad")))

	pe.ExecuteWorkflow(Purchase, pe.in)

	require.Error(t, pe.GetWorkflowError())
	require.Empty(t, pe.failed)
}

// A payment that arrived but could not be credited leaves the purchase open
// for the credit that must still happen: it is not marked failed.
func TestPurchaseCreditFailureAfterPaymentIsNotFailed(t *testing.T) {
	pe := newPurchaseEnv(t, shop.ProviderBalance)
	pe.OnActivity(pe.a.CreditPurchase, mock.Anything, mock.Anything).Return(activities.CreditResult{},
		temporal.NewNonRetryableApplicationError("no node", "Invalid", errors.New("no node")))

	pe.ExecuteWorkflow(Purchase, pe.in)

	require.Error(t, pe.GetWorkflowError())
	require.Empty(t, pe.failed)
}
