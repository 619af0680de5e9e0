package botapp

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"vpnflow/internal/sandboxgate"
	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

// decideSandbox decides once, at start, whether the sandbox commands run:
// VPNFLOW_SANDBOX must be on and the Telegram endpoint must be our
// stand-in (sandboxgate.Check), not merely on loopback. A refusal is
// logged with its reason.
func (a *App) decideSandbox(ctx context.Context) {
	a.sandbox = false
	if !a.cfg.Sandbox {
		return
	}
	if err := sandboxgate.Check(ctx, a.cfg.TelegramAPIURL, a.cfg.TelegramBotToken, nil); err != nil {
		a.log.Warn("sandbox commands refused: VPNFLOW_SANDBOX is on, but Telegram is not the vpnflow stand-in", "reason", err)
		return
	}
	a.sandbox = true
	a.log.Info("sandbox commands enabled: Telegram is the vpnflow stand-in")
}

// sandboxExpire is the sandbox-only "expire my subscription in N minutes"
// (/sandbox_expire 2m), so reminders, renewal and expiry can be watched
// live. It starts a SandboxExpire workflow, which moves the expiry and
// tells the user's Subscription workflow; the bot itself writes nothing.
// Outside the sandbox (see decideSandbox) it is an unknown command.
func (a *App) sandboxExpire(ctx context.Context, u store.User, args string) {
	lang := u.Language
	if !a.sandbox {
		a.reply(ctx, u.TelegramID, a.texts.T(lang, "unknown_command", nil), nil)
		return
	}
	in, err := parseSandboxExpiry(args)
	if err != nil {
		a.log.Info("sandbox expire: bad argument", "user_id", u.TelegramID, "args", truncate(args, 40), "error", err)
		a.reply(ctx, u.TelegramID, a.texts.T(lang, "sandbox_expire_usage", map[string]any{
			"Min": shop.MinSandboxExpiry, "Max": shop.MaxSandboxExpiry,
		}), nil)
		return
	}

	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	run, err := shop.StartSandboxExpire(ctx, a.temporal, a.cfg.TaskQueue, time.Now().UnixNano(), shop.SandboxExpireInput{UserID: u.TelegramID, In: in})
	var res shop.SandboxExpireResult
	if err == nil {
		err = run.Get(ctx, &res)
	}
	switch {
	case err != nil:
		a.log.Error("sandbox expire", "user_id", u.TelegramID, "error", err)
		a.reply(ctx, u.TelegramID, a.texts.T(lang, "busy_try_again", nil), nil)
	case !res.Live:
		a.reply(ctx, u.TelegramID, a.texts.T(lang, "sandbox_expire_none", nil), a.render.BackKeyboard(lang))
	default:
		a.log.Info("sandbox expiry set", "user_id", u.TelegramID, "expires_at", res.ExpiresAt, "workflow_id", run.GetID())
		a.reply(ctx, u.TelegramID, a.texts.T(lang, "sandbox_expire_set", map[string]any{
			"Expires": res.ExpiresAt, "Left": in,
		}), nil)
	}
}

// parseSandboxExpiry reads "2m", "90m", "1h30m" or a bare number of
// minutes, within the workflow's bounds.
func parseSandboxExpiry(args string) (time.Duration, error) {
	args = strings.TrimSpace(args)
	if args == "" {
		return 0, errors.New("no duration given")
	}
	d, err := time.ParseDuration(args)
	if err != nil {
		n, nerr := strconv.Atoi(args)
		if nerr != nil {
			return 0, fmt.Errorf("not a duration: %w", err)
		}
		if n < 0 || n > int(shop.MaxSandboxExpiry/time.Minute) {
			return 0, fmt.Errorf("%d minutes is outside %s..%s", n, shop.MinSandboxExpiry, shop.MaxSandboxExpiry)
		}
		d = time.Duration(n) * time.Minute
	}
	if d < shop.MinSandboxExpiry || d > shop.MaxSandboxExpiry {
		return 0, fmt.Errorf("%s is outside %s..%s", d, shop.MinSandboxExpiry, shop.MaxSandboxExpiry)
	}
	return d, nil
}
