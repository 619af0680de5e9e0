package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/notice"
	"vpnflow/internal/shop"
)

// Telegram can charge a Stars invoice more than once: a second invoice
// message (a retried sendInvoice), a checkout approved just before the
// first payment landed. The purchase is paid by the first charge; every
// other charge is refunded with refundStarPayment, booked (star_payments
// and two ledger rows) and reported to the admins. None is dropped.

// versionRefundExtras guards the refund of extra charges: before it, a
// second charge was logged and ignored.
const versionRefundExtras = "refund-extra-stars"

// extraCharge reports whether pay is a Stars charge other than the one
// that pays the purchase (and queues it for refunding), or a repeat of a
// charge already seen.
func (p *purchase) extraCharge(pay shop.Payment) bool {
	if pay.Provider != shop.ProviderStars || pay.ChargeID == "" {
		return false
	}
	if p.charges == nil {
		p.charges = map[string]bool{}
	}
	if p.charges[pay.ChargeID] {
		return false // a repeat: the caller logs it as a duplicate
	}
	p.charges[pay.ChargeID] = true
	if p.payment == nil {
		return false
	}
	p.extras = append(p.extras, pay)
	return true
}

// refundExtras runs for the workflow's life and refunds extra charges one
// by one as they come.
func (p *purchase) refundExtras(ctx workflow.Context) {
	for {
		if err := workflow.Await(ctx, func() bool { return len(p.extras) > 0 }); err != nil {
			return
		}
		pay := p.extras[0]
		if version(ctx, versionRefundExtras, 1) == workflow.DefaultVersion {
			workflow.GetLogger(ctx).Warn("extra stars charge ignored (old workflow version)", "charge_id", pay.ChargeID)
		} else {
			p.refundExtra(ctx, pay)
		}
		p.extras = p.extras[1:]
	}
}

// awaitExtras waits until every extra charge is refunded.
func (p *purchase) awaitExtras(ctx workflow.Context) {
	_ = workflow.Await(ctx, func() bool { return len(p.extras) == 0 })
}

// refundExtra gives one charge back: refund, book, tell the user, tell the
// admins. A refund Telegram refuses is booked as refund_failed and the
// admins are asked to act.
func (p *purchase) refundExtra(ctx workflow.Context, pay shop.Payment) {
	var a *activities.Activities
	log := workflow.GetLogger(ctx)
	// Telegram's figures where the signal carries them (the payer of an
	// unknown purchase), the purchase's otherwise.
	userID, amount := p.in.UserID, p.in.Amount
	if pay.UserID != 0 {
		userID = pay.UserID
	}
	if pay.Amount != 0 {
		amount = pay.Amount
	}
	err := workflow.ExecuteActivity(withRefund(ctx), a.RefundStars, activities.RefundStarsInput{
		UserID: userID, ChargeID: pay.ChargeID,
	}).Get(ctx, nil)
	failed := err != nil
	if failed {
		log.Error("extra stars charge not refunded", "charge_id", pay.ChargeID, "error", err)
	}
	if err := workflow.ExecuteActivity(withDB(ctx), a.RecordStarsRefund, activities.StarsRefundRecord{
		ChargeID: pay.ChargeID, UserID: userID, PurchaseID: p.in.PurchaseID, Amount: amount, Failed: failed,
	}).Get(ctx, nil); err != nil {
		log.Error("extra stars charge not booked", "charge_id", pay.ChargeID, "error", err)
	}
	alert := activities.PaymentAlert{
		Event: activities.PaymentExtraRefunded, UserID: userID, PurchaseID: p.in.PurchaseID,
		ChargeID: pay.ChargeID, Amount: amount, Currency: "XTR",
	}
	if failed {
		alert.Event, alert.Detail = activities.PaymentRefundFailed, err.Error()
	} else {
		p.notify(ctx, notice.StarsExtraRefunded(userID, amount))
	}
	p.alert(ctx, alert)
}

// alert tells the admins; like notify, a failure is logged, not fatal.
func (p *purchase) alert(ctx workflow.Context, in activities.PaymentAlert) {
	var a *activities.Activities
	if err := workflow.ExecuteActivity(withPaymentAlert(ctx), a.AlertPayment, in).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Error("payment alert not delivered", "event", in.Event, "error", err)
	}
}

// withPaymentAlert is for telling the admins about money: like a user's
// message it is retried for ten minutes, and like every admin alert it
// heartbeats per admin told (withAlert).
func withPaymentAlert(ctx workflow.Context) workflow.Context {
	return on(ctx, shop.BulkheadTelegram, workflow.ActivityOptions{
		StartToCloseTimeout:    time.Minute,
		HeartbeatTimeout:       alertHeartbeat,
		ScheduleToCloseTimeout: 10 * time.Minute,
		RetryPolicy:            backoff(time.Minute),
	})
}

// withRefund is for refundStarPayment: the user's Stars must come back,
// so a Telegram outage is waited out; a refusal (already refunded is
// success, anything else is final) ends it at once.
func withRefund(ctx workflow.Context) workflow.Context {
	return on(ctx, shop.BulkheadTelegram, workflow.ActivityOptions{
		StartToCloseTimeout: 15 * time.Second,
		RetryPolicy:         backoff(5 * time.Minute),
	})
}

// validateCheckout runs before Telegram charges the user's Stars: only the
// purchase's own user, paying the exact amount, while it still waits.
func (p *purchase) validateCheckout(ctx workflow.Context, req shop.CheckoutRequest) error {
	switch {
	case p.in.Provider != shop.ProviderStars:
		return errors.New("this purchase is not paid with Stars")
	case p.state.Status != shop.PurchaseInvoiced:
		return fmt.Errorf("purchase is %s, not awaiting payment", p.state.Status)
	case p.payment != nil || p.checkoutPending(ctx):
		// The status stays 'invoiced' until the credit commits; a second
		// copy of the invoice must not be charged meanwhile.
		return errors.New("purchase is already being paid")
	case req.UserID != p.in.UserID:
		return errors.New("invoice belongs to another user")
	case req.Amount != p.in.Amount || req.Currency != p.in.Currency:
		return fmt.Errorf("amount %d %s does not match %d %s", req.Amount, req.Currency, p.in.Amount, p.in.Currency)
	}
	return nil
}

// checkoutHold is how long an approved checkout blocks the next one.
// Telegram wants the pre-checkout answer within 10 s and reports the charge
// seconds later; an approval older than this never became a payment (the
// answer came too late, the user closed the form), so it lapses and the
// invoice can be paid again. Should the old one be charged after all, the
// second charge is an extra and is refunded.
const checkoutHold = time.Minute

// checkoutPending reports whether an approved checkout may still be paying.
func (p *purchase) checkoutPending(ctx workflow.Context) bool {
	return !p.checkoutApproved.IsZero() && workflow.Now(ctx).Before(p.checkoutApproved.Add(checkoutHold))
}

func (p *purchase) approveCheckout(ctx workflow.Context, req shop.CheckoutRequest) error {
	p.checkoutApproved = workflow.Now(ctx)
	return nil
}
