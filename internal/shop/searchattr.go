package shop

// The custom search attributes vpnflow's workflows set, so operators can
// find a user's or a purchase's workflows in the Temporal UI (for example
// `TelegramUserID = 123 AND PurchaseStatus = "paid"`). The dev server, the
// compose file and the workflows all use this one list.

import (
	"time"

	"go.temporal.io/sdk/temporal"
)

var (
	AttrTelegramUserID     = temporal.NewSearchAttributeKeyInt64("TelegramUserID")
	AttrPurchaseStatus     = temporal.NewSearchAttributeKeyKeyword("PurchaseStatus")
	AttrPaymentProvider    = temporal.NewSearchAttributeKeyKeyword("PaymentProvider")
	AttrSubscriptionStatus = temporal.NewSearchAttributeKeyKeyword("SubscriptionStatus")
	AttrExpiresAt          = temporal.NewSearchAttributeKeyTime("ExpiresAt")
	// SubscriptionStuck is true while a Subscription workflow retries a
	// step that failed with an error retrying cannot fix; the health check
	// counts these.
	AttrSubscriptionStuck = temporal.NewSearchAttributeKeyBool("SubscriptionStuck")
)

// AllSearchAttributes returns every custom search attribute with a zero value, the form the
// dev server's registration takes.
func AllSearchAttributes() temporal.SearchAttributes {
	return temporal.NewSearchAttributes(
		AttrTelegramUserID.ValueSet(0),
		AttrPurchaseStatus.ValueSet(""),
		AttrPaymentProvider.ValueSet(""),
		AttrSubscriptionStatus.ValueSet(""),
		AttrExpiresAt.ValueSet(time.Time{}),
		AttrSubscriptionStuck.ValueSet(false),
	)
}
