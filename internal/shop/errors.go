package shop

// Application error types the workflows' callers branch on: the activities
// return them as non-retryable errors, the workflows pass them on, and the
// bot tells the user what happened by type, without parsing text.
const (
	ErrTrialUsed          = "TrialUsed"          // the user's one trial is used
	ErrNoCapacity         = "NoCapacity"         // no node has room for a new user's trial
	ErrActiveSubscription = "ActiveSubscription" // no trial over a live subscription
	ErrNotFound           = "NotFound"           // no such user, purchase or promo code
	ErrNotPaid            = "NotPaid"            // a refund of a purchase never paid
	ErrPromoExpired       = "PromoExpired"
	ErrPromoExhausted     = "PromoExhausted"
)
