// Package searchattr names the custom search attributes vpnflow's workflows
// set, so operators can find a user's or a purchase's workflows in the
// Temporal UI (for example `TelegramUserID = 123 AND PurchaseStatus = "paid"`).
// The dev server, the compose file and the workflows all use this one list.
package searchattr

import (
	"time"

	"go.temporal.io/sdk/temporal"
)

var (
	TelegramUserID     = temporal.NewSearchAttributeKeyInt64("TelegramUserID")
	PurchaseStatus     = temporal.NewSearchAttributeKeyKeyword("PurchaseStatus")
	PaymentProvider    = temporal.NewSearchAttributeKeyKeyword("PaymentProvider")
	SubscriptionStatus = temporal.NewSearchAttributeKeyKeyword("SubscriptionStatus")
	ExpiresAt          = temporal.NewSearchAttributeKeyTime("ExpiresAt")
	// SubscriptionStuck is true while a Subscription workflow retries a
	// step that failed with an error retrying cannot fix; the health check
	// counts these.
	SubscriptionStuck = temporal.NewSearchAttributeKeyBool("SubscriptionStuck")
)

// All returns every custom search attribute with a zero value, the form the
// dev server's registration takes.
func All() temporal.SearchAttributes {
	return temporal.NewSearchAttributes(
		TelegramUserID.ValueSet(0),
		PurchaseStatus.ValueSet(""),
		PaymentProvider.ValueSet(""),
		SubscriptionStatus.ValueSet(""),
		ExpiresAt.ValueSet(time.Time{}),
		SubscriptionStuck.ValueSet(false),
	)
}
