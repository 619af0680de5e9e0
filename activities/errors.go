package activities

// Application error types that retrying cannot fix. Activities return them as
// non-retryable errors; workflows branch on them by type. The types the
// workflows' callers check too are in package shop (errors.go).
const (
	ErrInsufficientBalance = "InsufficientBalance"
	ErrPurchaseClosed      = "PurchaseClosed"
	ErrConfiguration       = "Configuration"
	ErrUserBlockedBot      = "UserBlockedBot"
)
