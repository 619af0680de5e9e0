package botapp

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"

	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

// promo handles /promo from users who are not admins: /promo CODE redeems
// a code. (Admins come through admin, which also creates codes.)
func (a *App) promo(ctx context.Context, u store.User, args string) {
	fields := strings.Fields(args)
	if len(fields) == 3 {
		// The form that creates a code.
		a.log.Warn("admin command from a non-admin", "user_id", u.TelegramID, "command", "promo")
	}
	if len(fields) != 1 {
		a.reply(ctx, u.TelegramID, a.texts.T(u.Language, "promo_usage", nil), a.render.BackKeyboard(u.Language))
		return
	}
	code, err := parsePromoCode(fields[0])
	if err != nil {
		a.log.Info("malformed promo code", "user_id", u.TelegramID, "code", truncate(fields[0], 40))
		a.reply(ctx, u.TelegramID, a.texts.T(u.Language, "promo_invalid", nil), a.render.BackKeyboard(u.Language))
		return
	}
	a.redeemPromo(ctx, u, code)
}

// redeemPromo runs the code's redemption workflow for the user and tells
// them the outcome. The workflow ID (promo/<code>/<user>) makes a double
// tap wait for the same run; the database keeps redemptions within the
// code's uses however many users race for them.
func (a *App) redeemPromo(ctx context.Context, u store.User, code string) {
	lang := u.Language
	var out shop.PromoOutcome
	run, err := shop.StartPromoRedemption(ctx, a.temporal, a.cfg.TaskQueue, shop.PromoRequest{Code: code, UserID: u.TelegramID})
	err = a.await(ctx, run, err, &out)
	msg, data := "", map[string]any(nil)
	switch {
	case err == nil && out.AlreadyRedeemed:
		msg = "promo_used"
	case err == nil && out.Kind == shop.PromoDays:
		msg, data = "promo_applied", map[string]any{"Duration": time.Duration(out.Value) * 24 * time.Hour}
	case err == nil:
		msg, data = "promo_discount", map[string]any{"Percent": out.Value}
	case hasErrorType(err, shop.ErrNotFound), hasErrorType(err, shop.ErrPromoExpired):
		msg = "promo_invalid"
	case hasErrorType(err, shop.ErrPromoExhausted):
		msg = "promo_exhausted"
	default:
		a.log.Error("redeem promo", "user_id", u.TelegramID, "code", code, "error", err)
		a.reply(ctx, u.TelegramID, a.texts.T(lang, "busy_try_again", nil), a.render.BackKeyboard(lang))
		return
	}
	a.log.Info("promo redemption", "user_id", u.TelegramID, "code", code, "outcome", msg, "error", err)
	a.reply(ctx, u.TelegramID, a.texts.T(lang, msg, data), a.render.BackKeyboard(lang))
}

// applyPromoDiscount lowers a plan purchase's amount by the user's waiting
// percent code before the Purchase workflow starts, attaching the code to
// the purchase (which records which promo it used). Without a code, or if
// the database cannot say, the purchase keeps its full price.
func (a *App) applyPromoDiscount(ctx context.Context, u store.User, np *shop.NewPurchase) {
	if np.Kind != shop.KindSubscription {
		return
	}
	id, err := uuid.Parse(np.PurchaseID)
	if err != nil {
		return
	}
	d, ok, err := a.store.ApplyPromoDiscount(ctx, u.TelegramID, id)
	if err != nil {
		a.log.Warn("promo discount not applied", "user_id", u.TelegramID, "purchase_id", np.PurchaseID, "error", err)
		return
	}
	if !ok {
		return
	}
	full := np.Amount
	np.Amount = store.Discounted(np.Amount, d.Percent)
	a.log.Info("promo discount applied", "user_id", u.TelegramID, "purchase_id", np.PurchaseID, "code", d.Code,
		"percent", d.Percent, "full", full, "amount", np.Amount, "currency", np.Currency)
	a.reply(ctx, u.TelegramID, a.texts.T(u.Language, "promo_discount_applied", map[string]any{"Code": d.Code, "Percent": d.Percent}), nil)
}

// releasePromoDiscount gives a code back when its purchase did not start.
func (a *App) releasePromoDiscount(ctx context.Context, purchaseID string) {
	id, err := uuid.Parse(purchaseID)
	if err != nil {
		return
	}
	if err := a.store.ReleasePromoDiscount(ctx, id); err != nil {
		// It comes back by itself an hour later (no purchase row).
		a.log.Warn("release promo discount", "purchase_id", purchaseID, "error", err)
	}
}
