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

// Admin actions are short workflows, so each step (a database transaction,
// a Telegram call, a signal) is retried on its own and a retry of the
// whole action cannot repeat a step that already happened. The bot starts
// them and waits a few seconds for the outcome.

// Extension ids and kinds of the admin actions, as the Subscription
// workflow deduplicates them.
func grantExtensionID(reference string) string   { return "grant:" + reference }
func promoExtensionID(code string) string        { return "promo:" + shop.NormalizePromoCode(code) }
func refundExtensionID(purchaseID string) string { return "refund:" + purchaseID }

// Grant books days in the database and hands the new expiry to the user's
// Subscription workflow, which puts the key in Xray.
func Grant(ctx workflow.Context, in shop.GrantRequest) (shop.GrantOutcome, error) {
	if in.UserID <= 0 || in.Days <= 0 || in.Reference == "" {
		return shop.GrantOutcome{}, invalidInput(fmt.Errorf("grant %d days to user %d (ref %q): user, days and reference are required", in.Days, in.UserID, in.Reference))
	}
	var a *activities.Activities
	var g activities.GrantResult
	if err := workflow.ExecuteActivity(withDB(ctx), a.GrantTime, activities.GrantInput{
		UserID: in.UserID, Days: in.Days, Kind: shop.GrantAdmin, Reference: in.Reference,
	}).Get(ctx, &g); err != nil {
		return shop.GrantOutcome{}, fmt.Errorf("book grant: %w", err)
	}
	ext := shop.Extension{ID: grantExtensionID(in.Reference), Kind: shop.ExtensionGrant, ExpiresAt: g.ExpiresAt}
	if err := deliverExtension(ctx, in.UserID, ext); err != nil {
		return shop.GrantOutcome{}, err
	}
	return shop.GrantOutcome{ExpiresAt: g.ExpiresAt, Status: g.Status}, nil
}

func deliverExtension(ctx workflow.Context, userID int64, ext shop.Extension) error {
	var a *activities.Activities
	if err := workflow.ExecuteActivity(withTemporal(ctx), a.DeliverExtension, activities.DeliverExtensionInput{
		UserID: userID, Extension: ext,
	}).Get(ctx, nil); err != nil {
		return fmt.Errorf("deliver extension %s: %w", ext.ID, err)
	}
	return nil
}

// Moderate records a ban or unban in the database, then tells the user's
// Subscription workflow, which removes or restores the key. The signal is
// sent even when nothing changed, so repeating a command repairs a
// workflow that missed it.
func Moderate(ctx workflow.Context, in shop.ModerationRequest) (shop.ModerationOutcome, error) {
	if in.UserID <= 0 {
		return shop.ModerationOutcome{}, invalidInput(errors.New("user id must be positive"))
	}
	var a *activities.Activities
	var res activities.BanResult
	if err := workflow.ExecuteActivity(withDB(ctx), a.SetBanned, activities.BanInput{UserID: in.UserID, Banned: in.Ban}).Get(ctx, &res); err != nil {
		return shop.ModerationOutcome{}, fmt.Errorf("record ban=%t: %w", in.Ban, err)
	}
	if err := workflow.ExecuteActivity(withTemporal(ctx), a.DeliverBan, activities.DeliverBanInput{
		UserID: in.UserID, Ban: shop.Ban{Banned: in.Ban, By: in.AdminID},
	}).Get(ctx, nil); err != nil {
		return shop.ModerationOutcome{}, fmt.Errorf("deliver ban=%t: %w", in.Ban, err)
	}
	return shop.ModerationOutcome{Banned: res.Banned}, nil
}

// refundTelegram is for the Stars refund call: retried for a few minutes,
// then the refund fails with the database untouched and the admin can
// send /refund again (Telegram refunds a charge only once).
func refundTelegram(ctx workflow.Context) workflow.Context {
	return on(ctx, shop.BulkheadTelegram, workflow.ActivityOptions{
		StartToCloseTimeout:    15 * time.Second,
		ScheduleToCloseTimeout: 5 * time.Minute,
		RetryPolicy:            backoff(30 * time.Second),
	})
}

// Refund gives a paid purchase's money back and takes its days back:
// Stars through Telegram's refundStarPayment, Crypto Pay (which has no
// refund API) as bot balance, balance purchases to the balance. Telegram is
// called before the database is written, each in its own activity: a retry
// of the database write cannot call Telegram again, and a new /refund
// finds the purchase refunded and skips the call.
func Refund(ctx workflow.Context, in shop.RefundRequest) (shop.RefundOutcome, error) {
	if in.PurchaseID == "" {
		return shop.RefundOutcome{}, invalidInput(errors.New("purchase id is empty"))
	}
	var a *activities.Activities
	var p activities.PurchaseInfo
	if err := workflow.ExecuteActivity(withDB(ctx), a.LoadPurchase, activities.PurchaseRef{PurchaseID: in.PurchaseID}).Get(ctx, &p); err != nil {
		return shop.RefundOutcome{}, fmt.Errorf("load purchase: %w", err)
	}
	out := shop.RefundOutcome{UserID: p.UserID, Provider: p.Provider, Amount: p.Amount, Currency: p.Currency}
	switch {
	case p.Status != shop.PurchasePaid && p.Status != shop.PurchaseRefunded:
		return out, temporal.NewNonRetryableApplicationError("purchase is "+p.Status, shop.ErrNotPaid, nil)
	case p.Kind == shop.KindTopUp:
		// A top-up's money is the balance; giving it back is a manual
		// transfer, not a button.
		return out, temporal.NewNonRetryableApplicationError("a top-up cannot be refunded here", activities.ErrNotRefundable, nil)
	}
	if p.Provider == shop.ProviderStars && p.Status == shop.PurchasePaid {
		if err := workflow.ExecuteActivity(refundTelegram(ctx), a.RefundStars, activities.RefundStarsInput{
			UserID: p.UserID, ChargeID: p.ChargeID,
		}).Get(ctx, nil); err != nil {
			return out, fmt.Errorf("refund stars: %w", err)
		}
	}
	var rec activities.RecordRefundResult
	if err := workflow.ExecuteActivity(withDB(ctx), a.RecordRefund, activities.RecordRefundInput{
		PurchaseID: p.PurchaseID, Reason: fmt.Sprintf("admin %d", in.AdminID),
	}).Get(ctx, &rec); err != nil {
		return out, fmt.Errorf("record refund: %w", err)
	}
	out.AlreadyRefunded = rec.AlreadyRefunded
	if p.Provider == shop.ProviderCryptoPay {
		if err := workflow.ExecuteActivity(withDB(ctx), a.CreditRefundToBalance, activities.PurchaseRef{PurchaseID: p.PurchaseID}).Get(ctx, nil); err != nil {
			return out, fmt.Errorf("credit refund to balance: %w", err)
		}
	}
	out.ToBalance = p.Provider != shop.ProviderStars
	if p.Days > 0 {
		var g activities.GrantResult
		if err := workflow.ExecuteActivity(withDB(ctx), a.GrantTime, activities.GrantInput{
			UserID: p.UserID, Days: -p.Days, Kind: shop.GrantRefund, Reference: p.PurchaseID,
		}).Get(ctx, &g); err != nil {
			return out, fmt.Errorf("take back days: %w", err)
		}
		out.ExpiresAt = g.ExpiresAt
		// Replace: the expiry moves earlier, which only an explicit
		// correction may do.
		if err := deliverExtension(ctx, p.UserID, shop.Extension{
			ID: refundExtensionID(p.PurchaseID), Kind: shop.ExtensionRefund, ExpiresAt: g.ExpiresAt, Replace: true,
		}); err != nil {
			return out, err
		}
	}
	if !rec.AlreadyRefunded {
		if err := workflow.ExecuteActivity(withTelegram(ctx), a.Notify, notice.RefundDone(p.UserID, p.Amount, p.Currency)).Get(ctx, nil); err != nil {
			workflow.GetLogger(ctx).Warn("refund notice not delivered", "error", err)
		}
	}
	return out, nil
}

// PromoRedemption uses one of the code's uses (the database keeps the
// count within the limit) and applies it: a days code through the
// Subscription workflow, a percent code kept for the next purchase. An
// already-redeemed code is applied again idempotently, which finishes a
// redemption that was interrupted, and reported as such.
func PromoRedemption(ctx workflow.Context, in shop.PromoRequest) (shop.PromoOutcome, error) {
	if in.UserID <= 0 || in.Code == "" {
		return shop.PromoOutcome{}, invalidInput(errors.New("user and code are required"))
	}
	var a *activities.Activities
	var r activities.RedeemPromoResult
	if err := workflow.ExecuteActivity(withDB(ctx), a.RedeemPromo, activities.RedeemPromoInput{Code: in.Code, UserID: in.UserID}).Get(ctx, &r); err != nil {
		return shop.PromoOutcome{}, fmt.Errorf("redeem: %w", err)
	}
	out := shop.PromoOutcome{Code: r.Code, Kind: r.Kind, Value: r.Value, AlreadyRedeemed: r.AlreadyRedeemed}
	switch r.Kind {
	case shop.PromoDays:
		var g activities.GrantResult
		if err := workflow.ExecuteActivity(withDB(ctx), a.GrantTime, activities.GrantInput{
			UserID: in.UserID, Days: r.Value, Kind: shop.GrantPromo, Reference: r.Code,
		}).Get(ctx, &g); err != nil {
			return out, fmt.Errorf("grant promo days: %w", err)
		}
		out.ExpiresAt = g.ExpiresAt
		if err := deliverExtension(ctx, in.UserID, shop.Extension{ID: promoExtensionID(r.Code), Kind: shop.ExtensionPromo, ExpiresAt: g.ExpiresAt}); err != nil {
			return out, err
		}
	case shop.PromoPercent:
		if err := workflow.ExecuteActivity(withDB(ctx), a.SavePromoDiscount, activities.PromoDiscountInput{
			Code: r.Code, UserID: in.UserID, Percent: r.Value,
		}).Get(ctx, nil); err != nil {
			return out, fmt.Errorf("save discount: %w", err)
		}
	default:
		return out, temporal.NewNonRetryableApplicationError("unknown promo kind "+r.Kind, "InvalidInput", nil)
	}
	return out, nil
}

// XrayUsers counts the users Xray serves, for /stats: the bot has no Xray
// connection of its own. It gives up quickly; the bot shows the count as
// unknown rather than making the admin wait.
func XrayUsers(ctx workflow.Context) (int64, error) {
	ctx = on(ctx, shop.BulkheadXray, workflow.ActivityOptions{
		StartToCloseTimeout:    5 * time.Second,
		ScheduleToCloseTimeout: 8 * time.Second,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: 500 * time.Millisecond, MaximumAttempts: 2},
	})
	var a *activities.Activities
	var n activities.XrayCount
	if err := workflow.ExecuteActivity(ctx, a.CountXrayUsers, activities.XrayCountInput{}).Get(ctx, &n); err != nil {
		return 0, err
	}
	return n.Users, nil
}

func invalidInput(err error) error {
	return temporal.NewNonRetryableApplicationError(err.Error(), "InvalidInput", err)
}
