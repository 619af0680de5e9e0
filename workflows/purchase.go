package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/notice"
	"vpnflow/internal/shop"
)

// Polling backs off from the first interval (shop.PurchaseInput.PollEvery) to
// the last. Crypto Pay webhooks
// can be lost or the webhook disabled after three days of failures, so the
// workflow asks for itself.
const (
	firstPoll = 30 * time.Second
	lastPoll  = 5 * time.Minute
	// lateGrace keeps an expired purchase listening for a payment a little
	// longer: a Stars checkout approved seconds before expiry is still paid.
	lateGrace = 10 * time.Minute
)

// Purchase takes one purchase from invoice to credited, exactly once: the
// workflow ID (purchase/<id>) makes it the only thing acting on the purchase,
// the first payment signal wins, and the credit is one transaction guarded by
// the schema's unique keys.
func Purchase(ctx workflow.Context, in shop.PurchaseInput) (shop.PurchaseState, error) {
	if in.Late {
		return latePurchase(ctx, in)
	}
	if err := in.Validate(); err != nil {
		return shop.PurchaseState{}, temporal.NewNonRetryableApplicationError(err.Error(), "InvalidInput", err)
	}
	ctx = withLean(ctx)
	p := &purchase{in: in, state: shop.PurchaseState{
		PurchaseID: in.PurchaseID, UserID: in.UserID, Kind: in.Kind, PlanID: in.PlanID,
		Provider: in.Provider, Amount: in.Amount, Currency: in.Currency, Status: shop.PurchasePending,
	}}
	if err := p.setup(ctx); err != nil {
		return p.state, err
	}
	p.outbox = newOutbox(ctx, in.UserID, nil)
	err := p.run(ctx)
	// Extra Stars charges are given back, and the user told, before the
	// workflow closes.
	p.awaitExtras(ctx)
	p.outbox.flush(ctx, 0)
	return p.state, err
}

type purchase struct {
	in               shop.PurchaseInput
	state            shop.PurchaseState
	payment          *shop.Payment
	checkoutApproved time.Time
	// extras are Stars charges beyond the one that pays the purchase,
	// waiting to be refunded (see purchase_stars.go); charges are the
	// charge ids seen so far, so a repeated signal is not an extra.
	extras  []shop.Payment
	charges map[string]bool
	outbox  *outbox // nil in runs recorded before versionOutbox
}

func (p *purchase) setup(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, shop.QueryState, func() (shop.PurchaseState, error) {
		return p.state, nil
	}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, shop.UpdateApproveCheckout, p.approveCheckout,
		workflow.UpdateHandlerOptions{Validator: p.validateCheckout}); err != nil {
		return err
	}
	payments := workflow.GetSignalChannel(ctx, shop.SignalPayment)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var pay shop.Payment
			payments.Receive(ctx, &pay)
			if pay.Provider != p.in.Provider && p.in.Provider != "" {
				// Defence in depth: the webhook signature and Telegram
				// already vouch for the sender.
				workflow.GetLogger(ctx).Warn("payment signal from another provider ignored", "provider", pay.Provider, "source", pay.Source)
				continue
			}
			if p.extraCharge(pay) {
				continue
			}
			if p.payment != nil {
				// Duplicate webhooks, a poll that raced a webhook, the same
				// Stars charge from the bot and the sweep: all expected.
				workflow.GetLogger(ctx).Info("duplicate payment signal ignored", "source", pay.Source)
				continue
			}
			p.payment = &pay
		}
	})
	workflow.Go(ctx, p.refundExtras)
	return p.upsert(ctx)
}

func (p *purchase) run(ctx workflow.Context) error {
	var a *activities.Activities
	if err := dbStep(ctx, a.RecordPurchase, p.in.NewPurchase, nil); err != nil {
		return p.fail(ctx, "record purchase", err)
	}

	switch p.in.Provider {
	case shop.ProviderBalance:
		p.payment = &shop.Payment{Provider: shop.ProviderBalance, Source: shop.SourceBalance}
	case shop.ProviderCryptoPay:
		if err := p.invoiceCryptoPay(ctx); err != nil {
			return err
		}
	case shop.ProviderStars:
		if err := p.invoiceStars(ctx); err != nil {
			return err
		}
	}

	if !p.awaitPayment(ctx) {
		if err := p.expire(ctx); err != nil {
			return err
		}
		// Listen a little longer: a payment that raced the expiry is credited.
		if !p.grace(ctx) {
			return nil
		}
	}
	return p.credit(ctx)
}

func (p *purchase) invoiceCryptoPay(ctx workflow.Context) error {
	var a *activities.Activities
	var inv activities.Invoice
	err := workflow.ExecuteActivity(withCryptoPay(ctx), a.CreateInvoice, activities.CreateInvoiceInput{
		PurchaseID: p.in.PurchaseID, Kind: p.in.Kind, PlanID: p.in.PlanID,
		Amount: p.in.Amount, Currency: p.in.Currency, TTL: p.in.InvoiceTTL,
	}).Get(ctx, &inv)
	if err != nil {
		p.notify(ctx, notice.Busy())
		return p.fail(ctx, "create invoice", err)
	}
	p.state.InvoiceID, p.state.InvoiceExpiresAt = inv.InvoiceID, inv.ExpiresAt
	if err := dbStep(ctx, a.SaveInvoice, activities.SaveInvoiceInput{
		PurchaseID: p.in.PurchaseID, Invoice: inv,
	}, nil); err != nil {
		return p.fail(ctx, "save invoice", err)
	}
	p.state.Status = shop.PurchaseInvoiced
	if err := p.upsert(ctx); err != nil {
		return err
	}
	// A failed send is not fatal: the invoice can still be paid (the user can
	// ask again), and expiry will tidy up.
	if err := workflow.ExecuteActivity(withTelegram(ctx), a.SendInvoiceMessage, activities.InvoiceMessage{
		UserID: p.in.UserID, PurchaseID: p.in.PurchaseID, Kind: p.in.Kind, PlanID: p.in.PlanID,
		Amount: p.in.Amount, Currency: p.in.Currency, PayURL: inv.PayURL, TTL: p.in.InvoiceTTL,
	}).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Warn("invoice message not delivered", "error", err)
	}
	return nil
}

func (p *purchase) invoiceStars(ctx workflow.Context) error {
	var a *activities.Activities
	p.state.InvoiceExpiresAt = workflow.Now(ctx).Add(p.in.InvoiceTTL)
	p.state.Status = shop.PurchaseInvoiced
	if err := p.upsert(ctx); err != nil {
		return err
	}
	if err := workflow.ExecuteActivity(withTelegram(ctx), a.SendStarsInvoice, activities.StarsInvoice{
		UserID: p.in.UserID, PurchaseID: p.in.PurchaseID, PlanID: p.in.PlanID, Days: p.in.Days, Stars: p.in.Amount,
	}).Get(ctx, nil); err != nil {
		p.state.Status = shop.PurchasePending
		return p.fail(ctx, "send stars invoice", err)
	}
	return nil
}

// awaitPayment waits for a payment signal until the invoice expires. For
// Crypto Pay it also polls on a durable timer, backing off, because webhooks
// can be lost. It reports whether the purchase was paid.
func (p *purchase) awaitPayment(ctx workflow.Context) bool {
	paid := func() bool { return p.payment != nil }
	interval := p.in.PollEvery
	if interval <= 0 {
		interval = firstPoll
	}
	for !paid() {
		now := workflow.Now(ctx)
		deadline := p.state.InvoiceExpiresAt
		// A Stars checkout approved just now gets time to complete.
		if !p.checkoutApproved.IsZero() && p.checkoutApproved.Add(2*time.Minute).After(deadline) {
			deadline = p.checkoutApproved.Add(2 * time.Minute)
		}
		if !now.Before(deadline) {
			if p.in.Provider == shop.ProviderCryptoPay {
				// One last look: paid in the final seconds, webhook lost.
				p.poll(ctx)
			}
			return paid()
		}
		wait := deadline.Sub(now)
		if p.in.Provider == shop.ProviderCryptoPay && interval < wait {
			wait = interval
		}
		if ok, _ := workflow.AwaitWithTimeout(ctx, wait, paid); ok {
			return true
		}
		if p.in.Provider == shop.ProviderCryptoPay && workflow.Now(ctx).Before(p.state.InvoiceExpiresAt) {
			if p.poll(ctx) == "expired" {
				return paid()
			}
			interval = min(interval*2, lastPoll)
		}
	}
	return true
}

// poll asks Crypto Pay for the invoice status and records a payment it finds.
func (p *purchase) poll(ctx workflow.Context) string {
	var a *activities.Activities
	var st activities.InvoiceStatus
	if err := workflow.ExecuteActivity(withCryptoPay(ctx), a.CheckInvoice, activities.CheckInvoiceInput{
		InvoiceID: p.state.InvoiceID,
	}).Get(ctx, &st); err != nil {
		// The next poll or the webhook will do; the timer keeps ticking.
		workflow.GetLogger(ctx).Warn("invoice poll failed", "error", err)
		return ""
	}
	if st.Status == "paid" && p.payment == nil {
		p.payment = &shop.Payment{Provider: shop.ProviderCryptoPay, InvoiceID: p.state.InvoiceID, Source: shop.SourcePoll}
	}
	return st.Status
}

func (p *purchase) expire(ctx workflow.Context) error {
	var a *activities.Activities
	if err := dbStep(ctx, a.ExpirePurchase, activities.PurchaseRef{PurchaseID: p.in.PurchaseID}, nil); err != nil {
		return p.fail(ctx, "expire purchase", err)
	}
	p.state.Status = shop.PurchaseExpired
	if err := p.upsert(ctx); err != nil {
		return err
	}
	p.notify(ctx, notice.PurchaseExpired(p.in.PlanID))
	return nil
}

// credit books the payment (one transaction) and hands the result on.
func (p *purchase) credit(ctx workflow.Context) error {
	var a *activities.Activities
	p.state.PaidVia = p.payment.Source
	var res activities.CreditResult
	err := dbStep(ctx, a.CreditPurchase, activities.CreditInput{
		PurchaseID: p.in.PurchaseID, ChargeID: p.payment.ChargeID,
	}, &res)
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == activities.ErrInsufficientBalance {
		p.state.Status, p.state.Failure = shop.PurchaseFailed, failureInsufficientBalance
		p.recordFailure(ctx)
		if !p.in.Renewal {
			p.notify(ctx, notice.InsufficientBalance(p.in.Amount, p.in.Currency))
		}
		return p.upsert(ctx)
	}
	if err != nil {
		return p.fail(ctx, "credit purchase", err)
	}
	p.state.Status, p.state.ExpiresAt = shop.PurchasePaid, res.ExpiresAt
	if err := p.upsert(ctx); err != nil {
		return err
	}
	if p.in.Kind == shop.KindTopUp {
		p.notify(ctx, notice.TopUpDone(p.in.Amount, p.in.Currency, res.Balance))
	} else {
		// The Subscription workflow adds the key to Xray and sends it; the
		// extension's id makes a repeat delivery a no-op there. A renewal's
		// extension says so: its parent sends the renewal's own message.
		kind := shop.ExtensionPurchase
		if p.in.Renewal {
			kind = shop.ExtensionRenewal
		}
		if err := step(ctx, leanDeliver, withTemporal(ctx), a.DeliverExtension, activities.DeliverExtensionInput{
			UserID: p.in.UserID,
			Extension: shop.Extension{
				ID: shop.PurchaseExtensionID(p.in.PurchaseID), Kind: kind,
				PlanID: p.in.PlanID, ExpiresAt: res.ExpiresAt,
			},
		}, nil); err != nil {
			return p.fail(ctx, "deliver extension", err)
		}
	}
	if res.ReferralBonusPaid && res.ReferrerID != 0 {
		p.notify(ctx, notice.ReferralBonus(res.ReferrerID, res.ReferralBonus))
	}
	return nil
}

// notify sends a notice to the purchase's user (or Notice.UserID); a failure
// is logged, never fatal: money matters more than messages.
func (p *purchase) notify(ctx workflow.Context, n notice.Notice) {
	var a *activities.Activities
	if n.UserID == 0 {
		n.UserID = p.in.UserID
	}
	if p.outbox != nil {
		p.outbox.post(noticeOf(n))
		return
	}
	if err := workflow.ExecuteActivity(withTelegram(ctx), a.Notify, n).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Warn("notice not delivered", "message", n.Message, "error", err)
	}
}

func (p *purchase) fail(ctx workflow.Context, step string, err error) error {
	p.state.Failure = step + ": " + err.Error()
	if p.state.Status != shop.PurchasePaid {
		p.state.Status = shop.PurchaseFailed
		// A payment received but not credited stays open for the credit
		// that has yet to happen; it is not a failed purchase.
		if step != stepRecord && p.payment == nil {
			p.recordFailure(ctx)
		}
	}
	_ = p.upsert(ctx)
	return fmt.Errorf("%s: %w", step, err)
}

func (p *purchase) upsert(ctx workflow.Context) error {
	return upsertChanged(ctx,
		shop.AttrTelegramUserID.ValueSet(p.in.UserID),
		shop.AttrPurchaseStatus.ValueSet(p.state.Status),
		shop.AttrPaymentProvider.ValueSet(p.in.Provider),
	)
}
