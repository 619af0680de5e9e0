package botapp

import (
	"context"
	"errors"

	"vpnflow/internal/callback"
	"vpnflow/internal/i18n"
	"vpnflow/internal/store"
	"vpnflow/internal/telegram"
)

// start registers the user (recording a referrer from /start ref_<code>
// once, on first contact) and shows the menu. Any other parameter, such
// as the pay_<id> link of a forwarded Stars invoice (see
// shop.StarsStartParameter), just opens the menu. A newcomer sees the menu
// while their row is written (registration.go).
func (a *App) start(ctx context.Context, from *telegram.User, payload string) {
	ref := ""
	if code, ok := cutPrefix(payload, "ref_"); ok && len(code) <= 32 {
		ref = code
	}
	params := store.UpsertUserParams{
		TelegramID: from.ID, Username: from.Username, FirstName: from.FirstName,
		Language: from.LanguageCode, ReferralCode: ref,
	}
	a.registrations.wait(ctx, from.ID)
	u, err := a.store.GetUser(ctx, from.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if reg := a.registrations.begin(from.ID); reg != nil {
			a.register(ctx, params, reg)
			return
		}
		// Another /start of theirs is registering them: the upsert below
		// finds the row it wrote, or writes one with this referrer if that
		// write failed.
		a.registrations.wait(ctx, from.ID)
	case err != nil:
		a.fail(ctx, from.ID, "load user", err)
		return
	default:
		if now := params.Newcomer(); u.Username == now.Username && u.FirstName == now.FirstName {
			a.showMenu(ctx, u, 0)
			return
		}
		// A referral counts on first contact only.
		params.ReferralCode = ""
	}
	u, _, err = a.store.UpsertUser(ctx, params)
	if err != nil {
		a.fail(ctx, from.ID, "register user", err)
		return
	}
	a.showMenu(ctx, u, 0)
}

// register writes a newcomer's row while their menu goes out. The handler
// waits for the write, so a failure still reaches the user, after the menu.
func (a *App) register(ctx context.Context, params store.UpsertUserParams, reg *registration) {
	go func() {
		u, created, err := a.store.UpsertUser(ctx, params)
		a.registrations.finish(params.TelegramID, reg, u, created, err)
	}()
	// Nobody who has just arrived has a subscription to renew.
	a.menu(ctx, params.Newcomer(), 0, false)
	<-reg.done
	switch {
	case reg.err != nil:
		a.fail(ctx, params.TelegramID, "register user", reg.err)
	case reg.created:
		a.log.Info("user registered", "user_id", reg.user.TelegramID, "referred", reg.user.ReferrerID != 0)
	}
}

func cutPrefix(s, prefix string) (string, bool) {
	if len(s) > len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):], true
	}
	return "", false
}

// showMenu shows the main menu; "Buy" reads "Renew" for a live subscription.
func (a *App) showMenu(ctx context.Context, u store.User, msgID int) {
	sub, err := a.store.GetSubscription(ctx, u.TelegramID)
	a.menu(ctx, u, msgID, err == nil && sub.Live())
}

// menu shows the main menu for a user whose subscription is live or not.
func (a *App) menu(ctx context.Context, u store.User, msgID int, live bool) {
	lang := u.Language
	buy := a.render.Button(lang, "btn_buy", callback.Data{Action: callback.Buy})
	if live {
		buy = a.render.Button(lang, "btn_renew", callback.Data{Action: callback.Renew})
	}
	kb := telegram.Keyboard{
		{buy, a.render.Button(lang, "btn_trial", callback.Data{Action: callback.Trial})},
		{a.render.Button(lang, "btn_my_sub", callback.Data{Action: callback.MySub}), a.render.Button(lang, "btn_balance", callback.Data{Action: callback.Balance})},
		{a.render.Button(lang, "btn_invite", callback.Data{Action: callback.Invite}), a.render.Button(lang, "btn_help", callback.Data{Action: callback.Help})},
		{a.render.Button(lang, "btn_language", callback.Data{Action: callback.Language})},
	}
	name := u.FirstName
	if name == "" {
		name = u.Username
	}
	a.edit(ctx, u.TelegramID, msgID, a.texts.T(lang, "menu_text", map[string]any{"Name": name}), kb)
}

func (a *App) showLanguages(ctx context.Context, u store.User, msgID int) {
	var row []telegram.Button
	for _, l := range i18n.Languages() {
		row = append(row, telegram.Button{Text: languageName(l), CallbackData: callback.MustEncode(callback.Data{Action: callback.SetLang, Lang: l})})
	}
	kb := telegram.Keyboard{row, {a.render.Button(u.Language, "btn_back", callback.Data{Action: callback.Menu})}}
	a.edit(ctx, u.TelegramID, msgID, a.texts.T(u.Language, "language_choose", nil), kb)
}

func languageName(code string) string {
	switch code {
	case "ru":
		return "Русский"
	case "en":
		return "English"
	}
	return code
}

func (a *App) setLanguage(ctx context.Context, u store.User, lang string, msgID int) {
	if err := a.store.SetLanguage(ctx, u.TelegramID, lang); err != nil {
		a.fail(ctx, u.TelegramID, "set language", err)
		return
	}
	u.Language = lang
	a.reply(ctx, u.TelegramID, a.texts.T(lang, "language_set", nil), nil)
	a.showMenu(ctx, u, msgID)
}

// topUpAmounts are the balance top-ups offered, in minor units.
var topUpAmounts = []int64{500, 1000, 2500}

func (a *App) showBalance(ctx context.Context, u store.User, msgID int) {
	lang := u.Language
	var row []telegram.Button
	for _, amt := range topUpAmounts {
		row = append(row, telegram.Button{
			Text:         "+" + i18n.FormatMoney(lang, amt, a.cfg.Currency),
			CallbackData: callback.MustEncode(callback.Data{Action: callback.TopUp, Amount: amt}),
		})
	}
	kb := telegram.Keyboard{row, {a.render.Button(lang, "btn_back", callback.Data{Action: callback.Menu})}}
	text := a.texts.T(lang, "balance_text", map[string]any{"Balance": i18n.FormatMoney(lang, u.Balance, a.cfg.Currency)}) +
		"\n\n" + a.texts.T(lang, "topup_choose", nil)
	a.edit(ctx, u.TelegramID, msgID, text, kb)
}

func (a *App) showInvite(ctx context.Context, u store.User, msgID int) {
	link := "https://t.me/" + a.username + "?start=ref_" + u.RefCode
	if a.username == "" {
		link = "/start ref_" + u.RefCode
	}
	count, err := a.store.ReferralCount(ctx, u.TelegramID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		a.log.Warn("count referrals", "user_id", u.TelegramID, "error", err)
	}
	a.edit(ctx, u.TelegramID, msgID, a.texts.T(u.Language, "invite_text", map[string]any{
		"Link": link, "Bonus": i18n.FormatMoney(u.Language, a.cfg.ReferralMinor, a.cfg.Currency), "Percent": a.cfg.ReferralPercent, "Count": count,
	}), a.render.BackKeyboard(u.Language))
}
