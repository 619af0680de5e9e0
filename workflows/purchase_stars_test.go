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
