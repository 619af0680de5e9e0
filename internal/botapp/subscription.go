package botapp

import (
	"context"
	"errors"

	"vpnflow/internal/accesskey"
	"vpnflow/internal/callback"
	"vpnflow/internal/i18n"
	"vpnflow/internal/shop"
	"vpnflow/internal/store"
	"vpnflow/internal/telegram"
)

// showSubscription shows status, expiry, traffic, and for a live key the
// subscription URL with its QR code and the vless:// link, both copyable.
func (a *App) showSubscription(ctx context.Context, u store.User) {
	lang := u.Language
	sub, err := a.store.GetSubscription(ctx, u.TelegramID)
	if errors.Is(err, store.ErrNotFound) {
		a.reply(ctx, u.TelegramID, a.texts.T(lang, "sub_none", nil), telegram.Keyboard{
			{a.render.Button(lang, "btn_buy", callback.Data{Action: callback.Buy}), a.render.Button(lang, "btn_trial", callback.Data{Action: callback.Trial})},
			{a.render.Button(lang, "btn_back", callback.Data{Action: callback.Menu})},
		})
		return
	}
	if err != nil {
		a.fail(ctx, u.TelegramID, "load subscription", err)
		return
	}
	autoRenew := a.texts.T(lang, "autorenew_state_off", nil)
	toggle := a.render.Button(lang, "btn_autorenew_on", callback.Data{Action: callback.AutoRenew, On: true})
	if sub.AutoRenew {
		autoRenew = a.texts.T(lang, "autorenew_state_on", nil)
		toggle = a.render.Button(lang, "btn_autorenew_off", callback.Data{Action: callback.AutoRenew, On: false})
	}
	text := a.texts.T(lang, "sub_status", map[string]any{
		"Status":    i18n.HTML(a.texts.T(lang, "status_"+sub.Status, nil)),
		"Expires":   i18n.FormatDate(lang, sub.ExpiresAt),
		"Email":     sub.XrayEmail,
		"Traffic":   i18n.FormatBytes(lang, sub.TrafficUp+sub.TrafficDown),
		"AutoRenew": i18n.HTML(autoRenew),
	})
	rows := telegram.Keyboard{{a.render.Button(lang, "btn_renew", callback.Data{Action: callback.Renew})}}
	if sub.Live() {
		rows = append(rows, []telegram.Button{a.render.Button(lang, "btn_reissue", callback.Data{Action: callback.Reissue}), toggle})
	}
	kb := append(rows, []telegram.Button{a.render.Button(lang, "btn_back", callback.Data{Action: callback.Menu})})
	if !sub.Live() {
		a.reply(ctx, u.TelegramID, text, kb)
		return
	}
	node, err := a.store.GetNode(ctx, sub.NodeID)
	if err != nil {
		a.fail(ctx, u.TelegramID, "read node", err)
		return
	}
	key, err := accesskey.Build(a.cfg, node, sub)
	if err != nil {
		a.fail(ctx, u.TelegramID, "build key", err)
		return
	}
	photo, err := telegram.KeyMessage(u.TelegramID, key, a.render.WithKeyLinks(lang, text, key), kb)
	if err != nil {
		a.fail(ctx, u.TelegramID, "render qr", err)
		return
	}
	a.answering(ctx)
	if err := a.tg.SendPhoto(ctx, photo); err != nil {
		a.log.Warn("send key photo", "user_id", u.TelegramID, "error", err)
	}
}

// startTrial hands the trial to the user's Subscription workflow (starting
// the workflow if needed), which books it, answers in place of the
// "working on it" message and sends the key.
func (a *App) startTrial(ctx context.Context, u store.User) {
	policy := shop.SubscriptionPolicy(a.cfg.PaidStages, a.cfg.TrialStages, a.cfg.AutoRenewLead)
	a.handOver(ctx, u, shop.UpdateStartTrial, func(ctx context.Context, requestID string, reply *shop.Reply) error {
		return shop.HandOverSubscriptionUpdate(ctx, a.temporal, a.cfg.TaskQueue, policy, u.TelegramID, true,
			requestID, shop.UpdateStartTrial, shop.TrialRequest{Reply: reply})
	})
}

func (a *App) reissue(ctx context.Context, u store.User) {
	a.handOver(ctx, u, shop.UpdateReissue, func(ctx context.Context, requestID string, reply *shop.Reply) error {
		return a.updateSubscription(ctx, u, requestID, shop.UpdateReissue, shop.ReissueRequest{Reply: reply})
	})
}

func (a *App) setAutoRenew(ctx context.Context, u store.User, on bool) {
	a.handOver(ctx, u, shop.UpdateSetAutoRenew, func(ctx context.Context, requestID string, reply *shop.Reply) error {
		return a.updateSubscription(ctx, u, requestID, shop.UpdateSetAutoRenew, shop.AutoRenewRequest{On: on, Reply: reply})
	})
}

// updateSubscription hands an update to the user's running Subscription
// workflow; there is nothing to reissue or renew without one.
func (a *App) updateSubscription(ctx context.Context, u store.User, requestID, name string, arg any) error {
	return shop.HandOverSubscriptionUpdate(ctx, a.temporal, a.cfg.TaskQueue, shop.Policy{}, u.TelegramID, false, requestID, name, arg)
}
