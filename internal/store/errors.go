package store

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Business outcomes callers branch on (and Temporal activities report as
// non-retryable). Each is returned wrapped; compare with errors.Is.
var (
	ErrNotFound             = errors.New("not found")
	ErrInsufficientBalance  = errors.New("insufficient balance")
	ErrTrialUsed            = errors.New("trial already used")
	ErrHasSubscription      = errors.New("user already has an active paid subscription")
	ErrBanned               = errors.New("user is banned")
	ErrPromoExhausted       = errors.New("promo code has no uses left")
	ErrPromoExpired         = errors.New("promo code has expired")
	ErrPromoAlreadyRedeemed = errors.New("promo code already redeemed by this user")
	ErrPromoExists          = errors.New("a different promo code with that name exists")
	ErrPurchaseClosed       = errors.New("purchase is closed (failed or refunded)")
	ErrPurchaseNotPaid      = errors.New("purchase is not paid")
	ErrPurchaseConflict     = errors.New("purchase id already used for a different purchase")
	ErrInvoiceMismatch      = errors.New("purchase already has a different provider invoice")
	ErrDuplicateCharge      = errors.New("provider charge already credited to another purchase")
	ErrNoReissue            = errors.New("no reissue of that key in progress")
	// ErrInvalid is a value the schema refuses (a CHECK constraint); the
	// wrapped message names the constraint.
	ErrInvalid = errors.New("invalid value")
)

// Postgres SQLSTATE codes the store distinguishes.
const (
	codeUniqueViolation     = "23505"
	codeCheckViolation      = "23514"
	codeForeignKeyViolation = "23503"
	codeSerialization       = "40001"
	codeDeadlock            = "40P01"
)

// constraintError maps a schema constraint name to the outcome it enforces.
func constraintError(name string) error {
	switch name {
	case "users_balance_check":
		return ErrInsufficientBalance
	case "trials_pkey":
		return ErrTrialUsed
	case "promo_codes_used_check":
		return ErrPromoExhausted
	case "promo_redemptions_pkey":
		return ErrPromoAlreadyRedeemed
	case "purchases_provider_charge_key":
		return ErrDuplicateCharge
	case "purchases_provider_invoice_key":
		return ErrInvoiceMismatch
	}
	return nil
}

// classify turns driver errors into the typed errors above, keeping the
// original in the chain.
func classify(err error) error {
	if err == nil || isTyped(err) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	if typed := constraintError(pgErr.ConstraintName); typed != nil {
		return fmt.Errorf("%w: %w", typed, err)
	}
	switch pgErr.Code {
	case codeCheckViolation:
		return fmt.Errorf("%w: %s violates %s", ErrInvalid, pgErr.TableName, pgErr.ConstraintName)
	case codeForeignKeyViolation:
		return fmt.Errorf("%w: %s", ErrNotFound, pgErr.Detail)
	}
	return err
}

func isTyped(err error) bool {
	for _, t := range []error{
		ErrNotFound, ErrInsufficientBalance, ErrTrialUsed, ErrHasSubscription, ErrBanned,
		ErrPromoExhausted, ErrPromoExpired, ErrPromoAlreadyRedeemed, ErrPromoExists,
		ErrPurchaseClosed, ErrPurchaseNotPaid, ErrPurchaseConflict, ErrInvoiceMismatch,
		ErrDuplicateCharge, ErrNoReissue, ErrInvalid, ErrNoCapacity, ErrNoNode, ErrNodeExists,
	} {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

func isRetryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == codeSerialization || pgErr.Code == codeDeadlock)
}

func isUnique(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == codeUniqueViolation && pgErr.ConstraintName == constraint
}
