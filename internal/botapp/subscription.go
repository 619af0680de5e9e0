package botapp

import (
	"bytes"
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"vpnflow/internal/accesskey"
	"vpnflow/internal/callback"
	"vpnflow/internal/i18n"
	"vpnflow/internal/shop"
	"vpnflow/internal/store"
	"vpnflow/internal/telegram"
)

// showSubscription shows status, expiry, traffic, and for a live key the
// vless:// link (copyable) with its QR code.
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
	key, err := accesskey.Build(a.cfg, sub)
	if err != nil {
		a.fail(ctx, u.TelegramID, "build key", err)
		return
	}
	photo, err := telegram.KeyMessage(u.TelegramID, key, telegram.WithKeyLink(text, key), kb)
	if err != nil {
		a.fail(ctx, u.TelegramID, "render qr", err)
		return
	}
	a.answering(ctx)
	if err := a.tg.SendPhoto(ctx, photo); err != nil {
		a.log.Warn("send key photo", "user_id", u.TelegramID, "error", err)
	}
}

// startTrial asks the user's Subscription workflow for the trial (starting
// the workflow if needed) and waits for its answer, which comes after one
// database transaction; the key follows from the workflow.
func (a *App) startTrial(ctx context.Context, u store.User) {
	lang := u.Language
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	policy := shop.SubscriptionPolicy(a.cfg.PaidStages, a.cfg.TrialStages, a.cfg.AutoRenewLead)
	h, err := shop.UpdateSubscriptionWithStart(ctx, a.temporal, a.cfg.TaskQueue, policy, u.TelegramID, shop.UpdateStartTrial, shop.TrialRequest{})
	var res shop.TrialResult
	if err == nil {
		err = h.Get(ctx, &res)
	}
	var appErr *temporal.ApplicationError
	switch {
	case err == nil:
		a.log.Info("trial started", "user_id", u.TelegramID, "expires_at", res.ExpiresAt)
		a.reply(ctx, u.TelegramID, a.texts.T(lang, "trial_started", map[string]any{"Duration": i18n.FormatDuration(lang, a.cfg.TrialDuration)}), nil)
	case errors.As(err, &appErr) && appErr.Type() == shop.ErrTrialUsed:
		a.reply(ctx, u.TelegramID, a.texts.T(lang, "trial_used", nil), a.render.BackKeyboard(lang))
	case errors.As(err, &appErr) && appErr.Type() == shop.ErrActiveSubscription,
		err != nil && isRejected(err, "already active"):
		a.reply(ctx, u.TelegramID, a.texts.T(lang, "trial_active_sub", nil), a.render.BackKeyboard(lang))
	default:
		a.log.Error("start trial", "user_id", u.TelegramID, "error", err)
		a.reply(ctx, u.TelegramID, a.texts.T(lang, "busy_try_again", nil), a.render.BackKeyboard(lang))
	}
}

// isRejected reports an update refused by its validator with this reason.
func isRejected(err error, reason string) bool {
	return err != nil && bytes.Contains([]byte(err.Error()), []byte(reason))
}

func (a *App) reissue(ctx context.Context, u store.User) {
	a.updateSubscription(ctx, u, shop.UpdateReissue, shop.ReissueRequest{}, "reissue_done")
}

func (a *App) setAutoRenew(ctx context.Context, u store.User, on bool) {
	msg := "autorenew_disabled"
	if on {
		msg = "autorenew_enabled"
	}
	a.updateSubscription(ctx, u, shop.UpdateSetAutoRenew, shop.AutoRenewRequest{On: on}, msg)
}

// updateSubscription sends an update to a running Subscription workflow and
// tells the user the outcome; a refusal's reason is shown as the validator
// gave it only when it is one of ours.
func (a *App) updateSubscription(ctx context.Context, u store.User, name string, arg any, okMsg string) {
	lang := u.Language
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	h, err := a.temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: shop.SubscriptionWorkflowID(u.TelegramID), UpdateName: name, Args: []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = h.Get(ctx, nil)
	}
	if err == nil {
		a.reply(ctx, u.TelegramID, a.texts.T(lang, okMsg, nil), nil)
		return
	}
	a.log.Info("subscription update refused", "user_id", u.TelegramID, "update", name, "error", err)
	reason := shop.RefusalFrom(err)
	a.reply(ctx, u.TelegramID, a.texts.T(lang, reason.MessageID(), map[string]any{"Wait": i18n.FormatDuration(lang, reason.Wait)}), a.render.BackKeyboard(lang))
}
