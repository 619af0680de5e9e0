package activities

// Application error types that retrying cannot fix. Activities return them as
// non-retryable errors; workflows branch on them by type.
const (
	ErrInsufficientBalance = "InsufficientBalance"
	ErrTrialUsed           = "TrialUsed"
	ErrActiveSubscription  = "ActiveSubscription"
	ErrPurchaseClosed      = "PurchaseClosed"
	ErrConfiguration       = "Configuration"
	ErrUserBlockedBot      = "UserBlockedBot"
	ErrNotFound            = "NotFound"
)
