package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
)

// refuse refuses an update for one of the shop.Refused* reasons; the bot
// reads it back with shop.RefusalFrom.
func refuse(kind string, wait time.Duration) error {
	return temporal.NewApplicationError(kind, kind, wait)
}
