package botapp

import (
	"context"

	"vpnflow/internal/store"
)

// adminCommands are only for ADMIN_IDS; anyone else gets the normal menu,
// and the attempt is logged.
var adminCommands = map[string]bool{
	"stats": true, "user": true, "grant": true, "ban": true, "unban": true,
	"refund": true, "promo": true, "broadcast": true,
}

func isAdminCommand(cmd string) bool { return adminCommands[cmd] }

// admin runs an admin command; it reports false for anything else.
func (a *App) admin(ctx context.Context, u store.User, cmd, args string) bool {
	if !isAdminCommand(cmd) {
		return false
	}
	return false
}
