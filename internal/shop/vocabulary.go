package shop

// Purchase kinds, payment providers and purchase statuses, as stored in the
// database (purchases.kind, provider, status) and shown in the
// PurchaseStatus / PaymentProvider search attributes. The values are stored:
// never change one.
const (
	KindSubscription = "subscription" // buys Days of access
	KindTopUp        = "topup"        // adds Amount to the balance

	ProviderCryptoPay = "cryptopay"
	ProviderStars     = "stars"
	ProviderBalance   = "balance" // paid from users.balance

	// pending → invoiced → paid → refunded; pending or invoiced → expired
	// or failed. A provider that reports payment of an expired or failed
	// purchase still gets it credited.
	PurchasePending  = "pending"
	PurchaseInvoiced = "invoiced"
	PurchasePaid     = "paid"
	PurchaseExpired  = "expired"
	PurchaseFailed   = "failed"
	PurchaseRefunded = "refunded"
)

// Subscription statuses (SubscriptionStatus search attribute). The
// database's subscriptions.status holds trial, active, expired or banned:
// trial and active keys belong in Xray, the others do not. None and
// expiring exist only in the workflow's state.
const (
	StatusNone     = "none"
	StatusTrial    = "trial"
	StatusActive   = "active"
	StatusExpiring = "expiring"
	StatusExpired  = "expired"
	StatusBanned   = "banned"
)

// Payment sources (Payment.Source): where a payment signal came from. They
// are carried in workflow histories and the purchase state: never change one.
const (
	SourceWebhook  = "webhook"  // Crypto Pay's webhook
	SourcePoll     = "poll"     // the Purchase workflow asked Crypto Pay
	SourceTelegram = "telegram" // the bot received Telegram's successful_payment
	SourceSweep    = "sweep"    // the payment sweep found it
	SourceBalance  = "balance"  // paid from the user's balance
)

// Extension kinds (Extension.Kind). They are carried in workflow histories:
// never change one.
const (
	ExtensionPurchase = "purchase" // a paid purchase
	ExtensionRenewal  = "renewal"  // an auto-renewal from the balance
	ExtensionTrial    = "trial"    // the free trial
	ExtensionGrant    = "grant"    // an admin's gift, or the sandbox moving the expiry
	ExtensionPromo    = "promo"    // a promo code's days
	ExtensionRefund   = "refund"   // time taken back after a refund
)

// Grant kinds, as stored with each grant of time without payment (the
// grant's dedup key is user, kind and reference). Never change one.
const (
	GrantAdmin  = "admin"  // reference: the admin command's unique id
	GrantPromo  = "promo"  // reference: the promo code
	GrantRefund = "refund" // reference: the refunded purchase's id
)
