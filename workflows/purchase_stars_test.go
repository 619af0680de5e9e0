package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"vpnflow/activities"
	"vpnflow/internal/shop"
)

// starsRefunds records RefundStars, RecordStarsRefund and payment alerts.
type starsRefunds struct {
	refunded []activities.RefundStarsInput
	recorded []activities.StarsRefundRecord
	alerts   []activities.PaymentAlert
}

func (pe *purchaseEnv) starsRefunds() *starsRefunds {
	r := &starsRefunds{}
	pe.OnActivity(pe.a.RefundStars, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RefundStarsInput) error {
		r.refunded = append(r.refunded, in)
		return nil
	})
	pe.OnActivity(pe.a.RecordStarsRefund, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.StarsRefundRecord) error {
		r.recorded = append(r.recorded, in)
		return nil
	})
	pe.OnActivity(pe.a.AlertPayment, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.PaymentAlert) (activities.AdminAlertResult, error) {
		r.alerts = append(r.alerts, in)
		return activities.AdminAlertResult{Sent: 1}, nil
	})
	return r
}

// A second pre-checkout of the same invoice (a forwarded copy, a second
// invoice message) is refused once the first was approved, even though the
// purchase is still 'invoiced' until the credit commits.
func TestPurchaseStarsSecondCheckoutRefused(t *testing.T) {
	pe := newPurchaseEnv(t, shop.ProviderStars)
	pe.creditOK()
	pe.deliveries()
	pe.starsRefunds()
	var first, second, afterPaid error
	req := shop.CheckoutRequest{UserID: 42, Amount: 150, Currency: "XTR"}
	pe.RegisterDelayedCallback(func() {
		pe.UpdateWorkflow(shop.UpdateApproveCheckout, "c1", updateResult(&first), req)
		pe.UpdateWorkflow(shop.UpdateApproveCheckout, "c2", updateResult(&second), req)
	}, time.Minute)
	pe.RegisterDelayedCallback(func() {
		pe.SignalWorkflow(shop.SignalPayment, shop.Payment{Provider: shop.ProviderStars, ChargeID: "ch_1", Source: "telegram"})
		pe.UpdateWorkflow(shop.UpdateApproveCheckout, "c3", updateResult(&afterPaid), req)
	}, time.Minute+time.Second)

	pe.ExecuteWorkflow(Purchase, pe.in)

	st := pe.result(t)
	require.NoError(t, first)
	require.ErrorContains(t, second, "already")
	require.ErrorContains(t, afterPaid, "already")
	require.Equal(t, shop.PurchasePaid, st.Status)
}

// A second Stars charge for a purchase (paid from another invoice copy) is
// refunded, booked and reported, never dropped; the purchase is credited
// once with the first charge.
func TestPurchaseStarsExtraChargeRefunded(t *testing.T) {
	pe := newPurchaseEnv(t, shop.ProviderStars)
	credits := pe.creditOK()
	pe.deliveries()
	r := pe.starsRefunds()
	pe.RegisterDelayedCallback(func() {
		pe.SignalWorkflow(shop.SignalPayment, shop.Payment{Provider: shop.ProviderStars, ChargeID: "ch_1", Source: "telegram"})
		pe.SignalWorkflow(shop.SignalPayment, shop.Payment{Provider: shop.ProviderStars, ChargeID: "ch_1", Source: "sweep"})
		pe.SignalWorkflow(shop.SignalPayment, shop.Payment{Provider: shop.ProviderStars, ChargeID: "ch_2", Source: "telegram"})
	}, time.Minute)

	pe.ExecuteWorkflow(Purchase, pe.in)

	st := pe.result(t)
	require.Equal(t, shop.PurchasePaid, st.Status)
	require.Equal(t, 1, *credits)
	require.Equal(t, []activities.RefundStarsInput{{UserID: 42, ChargeID: "ch_2"}}, r.refunded)
	require.Len(t, r.recorded, 1)
	require.Equal(t, "ch_2", r.recorded[0].ChargeID)
	require.False(t, r.recorded[0].Failed)
	require.Len(t, r.alerts, 1)
	require.Contains(t, pe.notices, "stars_extra_refunded")
}

// An approved checkout that never turns into a payment (Telegram got the
// answer after its 10 s limit, or the user closed the payment form) lapses:
// the user can pay the same invoice again instead of being told, until the
// invoice expires, that it is "already being paid". Found by the chaos
// suite: the worker was slow after a kill, the approval came too late for
// Telegram, and every later checkout was refused.
func TestPurchaseStarsLapsedApprovalCanBePaidAgain(t *testing.T) {
	pe := newPurchaseEnv(t, shop.ProviderStars)
	pe.creditOK()
	pe.deliveries()
	pe.starsRefunds()
	var first, soon, later error
	req := shop.CheckoutRequest{UserID: 42, Amount: 150, Currency: "XTR"}
	pe.RegisterDelayedCallback(func() {
		pe.UpdateWorkflow(shop.UpdateApproveCheckout, "c1", updateResult(&first), req)
	}, time.Minute)
	pe.RegisterDelayedCallback(func() {
		// Within the hold: the first checkout may still be paying.
		pe.UpdateWorkflow(shop.UpdateApproveCheckout, "c2", updateResult(&soon), req)
	}, time.Minute+10*time.Second)
	pe.RegisterDelayedCallback(func() {
		pe.UpdateWorkflow(shop.UpdateApproveCheckout, "c3", updateResult(&later), req)
		pe.SignalWorkflow(shop.SignalPayment, shop.Payment{Provider: shop.ProviderStars, ChargeID: "ch_2", Source: "telegram"})
	}, 3*time.Minute)

	pe.ExecuteWorkflow(Purchase, pe.in)

	st := pe.result(t)
	require.NoError(t, first)
	require.ErrorContains(t, soon, "already")
	require.NoError(t, later, "a lapsed approval must not block the next checkout")
	require.Equal(t, shop.PurchasePaid, st.Status)
}
