package workflows

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"vpnflow/activities"
	"vpnflow/internal/shop"
)

// lateRun starts a late run of pe's purchase, as a payment that found no
// open workflow does (signal-with-start), with the database saying status.
func (pe *purchaseEnv) lateRun(status, chargeID string, pay shop.Payment) {
	info := activities.PurchaseInfo{
		PurchaseID: pe.in.PurchaseID, UserID: pe.in.UserID, Kind: pe.in.Kind, PlanID: pe.in.PlanID, Days: pe.in.Days,
		Amount: pe.in.Amount, Currency: pe.in.Currency, Provider: pe.in.Provider, Status: status, ChargeID: chargeID,
	}
	pe.OnActivity(pe.a.LoadPurchase, mock.Anything, mock.Anything).Return(info, nil)
	pe.RegisterDelayedCallback(func() { pe.SignalWorkflow(shop.SignalPayment, pay) }, 0)
	pe.ExecuteWorkflow(Purchase, shop.PurchaseInput{NewPurchase: shop.NewPurchase{PurchaseID: pe.in.PurchaseID}, Late: true})
}

// A Crypto Pay payment that arrives after the purchase expired and its
// workflow closed is credited: the subscription is extended and the user
// gets the key message.
func TestPurchaseLatePaymentCredited(t *testing.T) {
	pe := newPurchaseEnv(t, shop.ProviderCryptoPay)
	credits := pe.creditOK()
	delivered := pe.deliveries()
	pe.starsRefunds()

	pe.lateRun(shop.PurchaseExpired, "", shop.Payment{Provider: shop.ProviderCryptoPay, InvoiceID: "1001", Source: "webhook"})

	st := pe.result(t)
	require.Equal(t, shop.PurchasePaid, st.Status)
	require.Equal(t, 1, *credits)
	require.Len(t, *delivered, 1)
	require.Equal(t, shop.PurchaseExtensionID(pe.in.PurchaseID), (*delivered)[0].Extension.ID)
	pe.AssertNotCalled(t, "RecordPurchase", mock.Anything, mock.Anything)
	pe.AssertNotCalled(t, "CreateInvoice", mock.Anything, mock.Anything)
}

// A late top-up credits the balance and says so.
func TestPurchaseLateTopUpCredited(t *testing.T) {
	pe := newPurchaseEnv(t, shop.ProviderCryptoPay)
	pe.in.Kind, pe.in.PlanID, pe.in.Days = shop.KindTopUp, "", 0
	credits := pe.creditOK()
	pe.starsRefunds()

	pe.lateRun(shop.PurchaseExpired, "", shop.Payment{Provider: shop.ProviderCryptoPay, InvoiceID: "1001", Source: "sweep"})

	st := pe.result(t)
	require.Equal(t, shop.PurchasePaid, st.Status)
	require.Equal(t, 1, *credits)
	require.Equal(t, []string{"topup_done"}, pe.notices)
}

// A Stars charge for a purchase already paid with another charge is
// refunded; the one that paid it is left alone.
func TestPurchaseLateStarsForPaidPurchaseRefunded(t *testing.T) {
	pe := newPurchaseEnv(t, shop.ProviderStars)
	pe.creditOK()
	r := pe.starsRefunds()

	pe.lateRun(shop.PurchasePaid, "ch_1", shop.Payment{Provider: shop.ProviderStars, ChargeID: "ch_2", UserID: 42, Amount: 150, Source: "telegram"})

	pe.result(t)
	require.Equal(t, []activities.RefundStarsInput{{UserID: 42, ChargeID: "ch_2"}}, r.refunded)
	pe.AssertNotCalled(t, "CreditPurchase", mock.Anything, mock.Anything)
}

// The same charge again (Telegram's redelivery, the sweep) changes nothing.
func TestPurchaseLateRepeatIsNoop(t *testing.T) {
	pe := newPurchaseEnv(t, shop.ProviderStars)
	pe.creditOK()
	r := pe.starsRefunds()

	pe.lateRun(shop.PurchasePaid, "ch_1", shop.Payment{Provider: shop.ProviderStars, ChargeID: "ch_1", UserID: 42, Amount: 150, Source: "sweep"})

	pe.result(t)
	require.Empty(t, r.refunded)
	pe.AssertNotCalled(t, "CreditPurchase", mock.Anything, mock.Anything)
}

// A Stars charge naming a purchase the database does not know is refunded.
func TestPurchaseLateStarsUnknownPurchaseRefunded(t *testing.T) {
	pe := newPurchaseEnv(t, shop.ProviderStars)
	r := pe.starsRefunds()
	pe.OnActivity(pe.a.LoadPurchase, mock.Anything, mock.Anything).Return(activities.PurchaseInfo{},
		newNotFound())
	pe.RegisterDelayedCallback(func() {
		pe.SignalWorkflow(shop.SignalPayment, shop.Payment{Provider: shop.ProviderStars, ChargeID: "ch_9", UserID: 77, Amount: 10, Source: "sweep"})
	}, 0)
	pe.ExecuteWorkflow(Purchase, shop.PurchaseInput{NewPurchase: shop.NewPurchase{PurchaseID: pe.in.PurchaseID}, Late: true})

	pe.result(t)
	require.Equal(t, []activities.RefundStarsInput{{UserID: 77, ChargeID: "ch_9"}}, r.refunded)
	require.Equal(t, int64(10), r.recorded[0].Amount)
}

func newNotFound() error {
	return temporal.NewNonRetryableApplicationError("purchase not found", shop.ErrNotFound, nil)
}

// Crypto Pay: the webhook is lost and the final poll at expiry fails (Crypto
// Pay down for minutes); the invoice was paid in its last seconds. Polling
// goes on through the grace period and finds it.
func TestPurchaseGracePollFindsPayment(t *testing.T) {
	pe := newPurchaseEnv(t, shop.ProviderCryptoPay)
	pe.invoiceExpiresIn(time.Hour)
	credits := pe.creditOK()
	pe.deliveries()
	pe.starsRefunds()
	start := pe.Now()
	pe.OnActivity(pe.a.CheckInvoice, mock.Anything, mock.Anything).Return(func(_ context.Context, _ activities.CheckInvoiceInput) (activities.InvoiceStatus, error) {
		switch since := pe.Now().Sub(start); {
		case since < time.Hour:
			return activities.InvoiceStatus{Status: "active"}, nil
		case since < time.Hour+4*time.Minute:
			return activities.InvoiceStatus{}, errors.New("crypto pay unavailable")
		}
		return activities.InvoiceStatus{Status: "paid"}, nil
	})

	pe.ExecuteWorkflow(Purchase, pe.in)

	st := pe.result(t)
	require.Equal(t, shop.PurchasePaid, st.Status)
	require.Equal(t, "poll", st.PaidVia)
	require.Equal(t, 1, *credits)
}

// A purchase marked failed (its invoice message timed out, say) whose
// invoice was paid after all is credited like any late payment: the money
// was taken, and Crypto Pay has no refund API. No report, no refund.
func TestPurchaseLateCryptoForFailedPurchaseCredited(t *testing.T) {
	pe := newPurchaseEnv(t, shop.ProviderCryptoPay)
	credits := pe.creditOK()
	pe.deliveries()
	r := pe.starsRefunds()

	pe.lateRun(shop.PurchaseFailed, "", shop.Payment{Provider: shop.ProviderCryptoPay, InvoiceID: "1001", Source: "sweep"})

	st := pe.result(t)
	require.Equal(t, shop.PurchasePaid, st.Status)
	require.Equal(t, 1, *credits)
	require.Empty(t, r.alerts)
	require.Empty(t, r.refunded)
}
