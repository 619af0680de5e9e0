package botapp

import (
	"context"
	"time"

	"github.com/google/uuid"

	"vpnflow/internal/callback"
	"vpnflow/internal/config"
	"vpnflow/internal/i18n"
	"vpnflow/internal/shop"
	"vpnflow/internal/store"
	"vpnflow/internal/telegram"
)

func (a *App) planData(lang string, p config.Plan) map[string]any {
	return map[string]any{
		"Plan":     p.ID,
		"Duration": i18n.FormatDuration(lang, time.Duration(p.Days)*24*time.Hour),
		"Price":    i18n.FormatMoney(lang, p.Price, a.cfg.Currency),
		"Stars":    p.Stars,
	}
}

func (a *App) showPlans(ctx context.Context, u store.User, msgID int) {
	lang := u.Language
	var rows telegram.Keyboard
	for _, p := range a.cfg.PlanList {
		rows = append(rows, []telegram.Button{{
			Text:         a.texts.T(lang, "plan_button", a.planData(lang, p)),
			CallbackData: callback.MustEncode(callback.Data{Action: callback.Plan, Plan: p.ID}),
		}})
	}
	rows = append(rows, []telegram.Button{a.render.Button(lang, "btn_back", callback.Data{Action: callback.Menu})})
	a.edit(ctx, u.TelegramID, msgID, a.texts.T(lang, "plans_title", nil), rows)
}

// showPaymentMethods offers Crypto Pay, Stars (if the plan has a Stars
// price) and the balance (only when it covers the price).
func (a *App) showPaymentMethods(ctx context.Context, u store.User, planID string, msgID int) {
	lang := u.Language
	p, ok := a.cfg.Plan(planID)
	if !ok {
		// A button from before a configuration change.
		a.reply(ctx, u.TelegramID, a.texts.T(lang, "stale_button", nil), nil)
		a.showPlans(ctx, u, 0)
		return
	}
	pay := func(textID string, m callback.Method, data map[string]any) []telegram.Button {
		return []telegram.Button{{
			Text:         a.texts.T(lang, textID, data),
			CallbackData: callback.MustEncode(callback.Data{Action: callback.Pay, Plan: p.ID, Method: m}),
		}}
	}
	rows := telegram.Keyboard{pay("btn_pay_cryptopay", callback.MethodCryptoPay, nil)}
	if p.Stars > 0 {
		rows = append(rows, pay("btn_pay_stars", callback.MethodStars, nil))
	}
	if u.Balance >= p.Price {
		rows = append(rows, pay("btn_pay_balance", callback.MethodBalance, map[string]any{"Balance": i18n.FormatMoney(lang, u.Balance, a.cfg.Currency)}))
	}
	rows = append(rows, []telegram.Button{a.render.Button(lang, "btn_back", callback.Data{Action: callback.Buy})})
	a.edit(ctx, u.TelegramID, msgID, a.texts.T(lang, "choose_payment", a.planData(lang, p)), rows)
}

// pay starts a Purchase workflow. The bot only starts it: invoicing,
// waiting and crediting are the workflow's.
func (a *App) pay(ctx context.Context, u store.User, planID string, method callback.Method, msgID int) {
	lang := u.Language
	p, ok := a.cfg.Plan(planID)
	if !ok {
		a.reply(ctx, u.TelegramID, a.texts.T(lang, "stale_button", nil), nil)
		a.showPlans(ctx, u, 0)
		return
	}
	np := shop.NewPurchase{
		PurchaseID: newPurchaseID(), UserID: u.TelegramID, Kind: shop.KindSubscription, PlanID: p.ID, Days: p.Days,
		Amount: p.Price, Currency: a.cfg.Currency,
	}
	switch method {
	case callback.MethodCryptoPay:
		np.Provider = shop.ProviderCryptoPay
	case callback.MethodStars:
		if p.Stars <= 0 {
			a.reply(ctx, u.TelegramID, a.texts.T(lang, "stale_button", nil), nil)
			return
		}
		np.Provider, np.Amount, np.Currency = shop.ProviderStars, p.Stars, "XTR"
	case callback.MethodBalance:
		// Checked here for a clear answer; the credit transaction checks
		// again, so a race with another purchase cannot overdraw.
		if u.Balance < p.Price {
			a.reply(ctx, u.TelegramID, a.texts.T(lang, "insufficient_balance", map[string]any{
				"Price": i18n.FormatMoney(lang, p.Price, a.cfg.Currency), "Balance": i18n.FormatMoney(lang, u.Balance, a.cfg.Currency),
			}), a.topUpKeyboard(lang))
			return
		}
		np.Provider = shop.ProviderBalance
	default:
		a.reply(ctx, u.TelegramID, a.texts.T(lang, "stale_button", nil), nil)
		return
	}
	a.applyPromoDiscount(ctx, u, &np)
	a.startPurchase(ctx, u, np, msgID)
}

func (a *App) topUpKeyboard(lang string) telegram.Keyboard {
	return telegram.Keyboard{
		{a.render.Button(lang, "btn_topup", callback.Data{Action: callback.TopUp})},
		{a.render.Button(lang, "btn_back", callback.Data{Action: callback.Menu})},
	}
}

func (a *App) topUp(ctx context.Context, u store.User, amount int64, msgID int) {
	allowed := false
	for _, amt := range topUpAmounts {
		allowed = allowed || amt == amount
	}
	if !allowed {
		a.reply(ctx, u.TelegramID, a.texts.T(u.Language, "stale_button", nil), nil)
		return
	}
	a.startPurchase(ctx, u, shop.NewPurchase{
		PurchaseID: newPurchaseID(), UserID: u.TelegramID, Kind: shop.KindTopUp, PlanID: "topup",
		Amount: amount, Currency: a.cfg.Currency, Provider: shop.ProviderCryptoPay,
	}, msgID)
}

// newPurchaseID is a time-ordered UUID, so purchase/<id> workflow IDs and
// database rows sort by creation.
func newPurchaseID() string { return uuid.Must(uuid.NewV7()).String() }

func (a *App) startPurchase(ctx context.Context, u store.User, np shop.NewPurchase, msgID int) {
	err := shop.StartPurchase(ctx, a.temporal, a.cfg.TaskQueue, shop.PurchaseInput{NewPurchase: np, InvoiceTTL: a.cfg.CryptoPayInvoiceTTL, PollEvery: a.cfg.CryptoPayPoll})
	if err != nil {
		a.log.Error("start purchase", "user_id", u.TelegramID, "purchase_id", np.PurchaseID, "error", err)
		a.releasePromoDiscount(ctx, np.PurchaseID)
		a.reply(ctx, u.TelegramID, a.texts.T(u.Language, "busy_try_again", nil), a.render.BackKeyboard(u.Language))
		return
	}
	a.log.Info("purchase started", "user_id", u.TelegramID, "purchase_id", np.PurchaseID, "provider", np.Provider, "kind", np.Kind)
	started := "purchase_started"
	if np.Provider == shop.ProviderBalance {
		started = "purchase_from_balance"
	}
	a.edit(ctx, u.TelegramID, msgID, a.texts.T(u.Language, started, nil), nil)
}
