package botapp

import (
	"context"

	"vpnflow/internal/store"
)

// sandboxExpire is the sandbox-only "expire my subscription in N minutes".
func (a *App) sandboxExpire(ctx context.Context, u store.User, args string) {
	if !a.cfg.Sandbox {
		a.reply(ctx, u.TelegramID, a.texts.T(u.Language, "unknown_command", nil), nil)
		return
	}
	a.reply(ctx, u.TelegramID, a.texts.T(u.Language, "unknown_command", nil), nil)
}
