package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/shop"
)

// A paid invoice is always credited, however late the news comes: a
// webhook after the purchase's grace period, a Stars payment the bot could
// not hand over while Temporal was down, a paid invoice only the payments
// sweep found. Each of them signal-with-starts purchase/<id>; if the
// purchase's run is still open it gets the signal as usual, otherwise a new
// run starts in late mode (shop.PurchaseInput.Late), reads the purchase from the
// database and settles the payment. purchase/<id> stays the one writer.
//
// The rule for a late payment:
//   - a purchase not yet paid (pending, invoiced, expired, or failed: an
//     invoice whose send timed out can still have reached the user) is
//     credited as bought: a subscription purchase extends the subscription by its days
//     from its current end or from now, a top-up credits the balance; the
//     user gets the usual key or top-up message, the ledger the payment;
//   - a repeat of the charge that paid it changes nothing;
//   - any other Stars charge for it, or one for a refunded or unknown
//     purchase, is refunded (purchase_stars.go);
//   - a Crypto Pay payment of an unknown purchase cannot be given back by
//     API: it is recorded in payment_reports and reported to the admins,
//     once.

// latePayWait bounds how long a late run waits for the payment signal
// that started it (it is in the same request, so it is there at once).
const latePayWait = time.Minute

func latePurchase(ctx workflow.Context, in shop.PurchaseInput) (shop.PurchaseState, error) {
	if in.PurchaseID == "" {
		err := errors.New("purchase id is empty")
		return shop.PurchaseState{}, temporal.NewNonRetryableApplicationError(err.Error(), "InvalidInput", err)
	}
	p := &purchase{in: in, state: shop.PurchaseState{PurchaseID: in.PurchaseID}}
	var a *activities.Activities
	var info activities.PurchaseInfo
	err := workflow.ExecuteActivity(withDB(ctx), a.LoadPurchase, activities.PurchaseRef{PurchaseID: in.PurchaseID}).Get(ctx, &info)
	var appErr *temporal.ApplicationError
	known := err == nil
	if err != nil && !(errors.As(err, &appErr) && appErr.Type() == shop.ErrNotFound) {
		return p.state, fmt.Errorf("load purchase: %w", err)
	}
	if known {
		p.in.NewPurchase = shop.NewPurchase{
			PurchaseID: info.PurchaseID, UserID: info.UserID, Kind: info.Kind, PlanID: info.PlanID, Days: info.Days,
			Amount: info.Amount, Currency: info.Currency, Provider: info.Provider,
		}
		p.state = shop.PurchaseState{
			PurchaseID: info.PurchaseID, UserID: info.UserID, Kind: info.Kind, PlanID: info.PlanID,
			Provider: info.Provider, Amount: info.Amount, Currency: info.Currency, Status: info.Status,
		}
	}
	if err := p.setup(ctx); err != nil {
		return p.state, err
	}
	if ok, _ := workflow.AwaitWithTimeout(ctx, latePayWait, func() bool { return p.payment != nil }); !ok {
		workflow.GetLogger(ctx).Warn("late purchase run started without a payment")
		return p.state, nil
	}
	err = p.settleLate(ctx, known, info)
	p.awaitExtras(ctx)
	return p.state, err
}

// settleLate applies the rule above to the payment that started the run.
func (p *purchase) settleLate(ctx workflow.Context, known bool, info activities.PurchaseInfo) error {
	pay := *p.payment
	log := workflow.GetLogger(ctx)
	if !known {
		if pay.Provider == shop.ProviderStars {
			p.in.UserID, p.in.Amount, p.in.Currency = pay.UserID, pay.Amount, "XTR"
			p.extras = append(p.extras, pay)
			return nil
		}
		p.report(ctx, pay, activities.PaymentAlert{Event: activities.PaymentUnknownPurchase, PurchaseID: p.in.PurchaseID,
			ChargeID: pay.InvoiceID, Detail: "a paid invoice names a purchase the database does not know"})
		return nil
	}
	switch info.Status {
	case shop.PurchasePaid, shop.PurchaseRefunded:
		if pay.Provider == shop.ProviderStars && pay.ChargeID != "" && pay.ChargeID != info.ChargeID {
			p.extras = append(p.extras, pay)
			return nil
		}
		log.Info("late payment already credited", "source", pay.Source)
		return nil
	}
	log.Info("late payment credited", "status", info.Status, "source", pay.Source)
	return p.credit(ctx)
}

// report hands a Crypto Pay payment that cannot be credited to the
// admins: a durable record first (payment_reports, which also keeps the
// payments sweep from reporting it again), then the alert.
func (p *purchase) report(ctx workflow.Context, pay shop.Payment, alert activities.PaymentAlert) {
	var a *activities.Activities
	if err := workflow.ExecuteActivity(withDB(ctx), a.RecordPaymentReport, activities.PaymentReportInput{
		Provider: pay.Provider, Reference: pay.InvoiceID, PurchaseID: p.in.PurchaseID, Reason: alert.Event,
	}).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Error("payment report not recorded", "event", alert.Event, "error", err)
	}
	p.alert(ctx, alert)
}

// versionGracePoll guards polling Crypto Pay during the grace period:
// before it, the grace period only listened, so a webhook lost at the end
// and a failed final poll left a paid invoice uncredited.
const versionGracePoll = "grace-poll"

// gracePoll is how often Crypto Pay is asked during the grace period.
const gracePoll = 2 * time.Minute

// grace listens for a payment for lateGrace after the expiry and reports
// whether one came. For Crypto Pay it also polls, which retries a final
// poll that failed, until Crypto Pay says the invoice has expired.
func (p *purchase) grace(ctx workflow.Context) bool {
	paid := func() bool { return p.payment != nil }
	if p.in.Provider != shop.ProviderCryptoPay ||
		workflow.GetVersion(ctx, versionGracePoll, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		ok, _ := workflow.AwaitWithTimeout(ctx, lateGrace, paid)
		return ok
	}
	end := workflow.Now(ctx).Add(lateGrace)
	polling := true
	for {
		left := end.Sub(workflow.Now(ctx))
		if left <= 0 {
			return paid()
		}
		wait := left
		if polling {
			wait = min(gracePoll, left)
		}
		if ok, _ := workflow.AwaitWithTimeout(ctx, wait, paid); ok {
			return true
		}
		if polling {
			// "expired": Crypto Pay will take no payment now, so only a
			// webhook already on its way is left to wait for.
			polling = p.poll(ctx) != "expired"
			if paid() {
				return true
			}
		}
	}
}
