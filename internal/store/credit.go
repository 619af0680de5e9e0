package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"vpnflow/internal/shop"
)

// Ledger kinds. Those marked (balance) move users.balance, so a user's
// balance equals the sum of their rows of those kinds.
const (
	LedgerPayment       = "payment"        // money received from a provider
	LedgerBalanceDebit  = "balance_debit"  // (balance) a purchase paid from the balance
	LedgerTopup         = "topup"          // (balance) a top-up credited
	LedgerReferralBonus = "referral_bonus" // (balance) bonus for a referred user's first paid plan
	LedgerRefund        = "refund"         // a purchase reversed
	LedgerBalanceRefund = "balance_refund" // (balance) a balance-paid purchase refunded to the balance
	LedgerTopupReversal = "topup_reversal" // (balance) a refunded top-up taken back
	// LedgerReferralReversal (balance) takes a referral bonus back when the
	// purchase that earned it is refunded; reference as the bonus's.
	LedgerReferralReversal = "referral_reversal"
)

// PurchaseRef is the ledger reference of a purchase's movements.
func PurchaseRef(id uuid.UUID) string { return "purchase:" + id.String() }

// ReferredRef is the ledger reference of the bonus for referring a user.
func ReferredRef(userID int64) string { return fmt.Sprintf("referred:%d", userID) }

// CreditParams says which purchase a provider reported paid.
type CreditParams struct {
	PurchaseID uuid.UUID
	// ChargeID is the provider's payment id (Stars charge id, Crypto Pay
	// invoice id); stored so one charge can pay for one purchase only.
	ChargeID string
	// Referral says what the referrer earns from the referred user's first
	// paid plan; the zero value pays nothing.
	Referral ReferralTerms
	// EmailDomain is used when the purchase creates the user's first
	// subscription (placed on a node then: placement.go).
	EmailDomain string
	// Now is when the payment happened; zero means the database's now().
	Now time.Time
}

// CreditResult is the outcome of crediting a purchase. Crediting twice
// returns the stored outcome with AlreadyCredited set.
type CreditResult struct {
	AlreadyCredited bool
	Kind            string
	UserID          int64
	// ExpiresAt is the subscription's expiry after the credit (zero if the
	// user has no subscription, e.g. a top-up).
	ExpiresAt time.Time
	// SubscriptionStatus is its status now. Whenever it is live (trial or
	// active) the caller makes sure the key is in Xray — adding is
	// idempotent, and a retried credit cannot tell what the lost first
	// attempt changed. PreviousStatus is informational: the status before
	// this credit, "" if it created the subscription or AlreadyCredited.
	SubscriptionStatus  string
	PreviousStatus      string
	SubscriptionCreated bool
	XrayEmail           string
	Balance             int64 // the buyer's balance after the credit
	ReferrerID          int64 // 0 if the buyer was not referred
	// ReferralBonusPaid is whether this purchase paid the referrer's bonus.
	ReferralBonusPaid bool
	ReferralBonus     int64
}

// CreditPurchase applies a payment in one transaction: it marks the purchase
// paid, debits the balance (provider 'balance') or records the payment,
// extends the subscription or tops up the balance, pays a first-payment
// referral bonus, and writes ledger and audit rows. Running it again changes
// nothing and returns the stored outcome. An expired or failed purchase is
// still credited (the user paid); a refunded one, or a failed balance
// purchase, is ErrPurchaseClosed.
// A balance too small for a balance purchase is ErrInsufficientBalance and
// leaves everything unchanged.
func (s *Store) CreditPurchase(ctx context.Context, p CreditParams) (CreditResult, error) {
	op := fmt.Sprintf("credit purchase %s", p.PurchaseID)
	if err := p.Referral.validate(); err != nil {
		return CreditResult{}, fmt.Errorf("%s: %w", op, err)
	}
	var res CreditResult
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		res, err = creditPurchase(ctx, tx, p)
		return err
	})
	if err != nil {
		return CreditResult{}, wrap(op, err)
	}
	return res, nil
}

func creditPurchase(ctx context.Context, tx pgx.Tx, p CreditParams) (CreditResult, error) {
	// The row lock serialises concurrent credits of one purchase; the
	// second sees 'paid' and reports the first one's outcome.
	pur, err := collectOne[Purchase](tx.Query(ctx, `SELECT `+purchaseColumns+` FROM purchases WHERE id = $1 FOR UPDATE`, p.PurchaseID))
	if err != nil {
		return CreditResult{}, err
	}
	switch pur.Status {
	case shop.PurchasePaid:
		return storedCredit(ctx, tx, pur)
	case shop.PurchaseRefunded:
		return CreditResult{}, fmt.Errorf("%w: status %s", ErrPurchaseClosed, pur.Status)
	case shop.PurchaseFailed:
		// A provider can still take money for a purchase marked failed (an
		// invoice whose send timed out was delivered): that payment is
		// credited. Nothing pays a failed balance purchase later.
		if pur.Provider == shop.ProviderBalance {
			return CreditResult{}, fmt.Errorf("%w: status %s", ErrPurchaseClosed, pur.Status)
		}
	}
	now, err := clock(ctx, tx, p.Now)
	if err != nil {
		return CreditResult{}, err
	}
	res := CreditResult{Kind: pur.Kind, UserID: pur.UserID}
	ref := PurchaseRef(pur.ID)

	if _, err := tx.Exec(ctx, `UPDATE purchases SET status = 'paid', paid_at = $2,
			provider_charge_id = coalesce(nullif($3, ''), provider_charge_id)
		WHERE id = $1`, pur.ID, now, p.ChargeID); err != nil {
		return res, fmt.Errorf("mark paid: %w", err)
	}

	if pur.Provider == shop.ProviderBalance {
		// users_balance_check turns a short balance into ErrInsufficientBalance
		// and the whole transaction rolls back.
		if err := addBalance(ctx, tx, pur.UserID, -pur.Amount); err != nil {
			return res, err
		}
		err = insertLedger(ctx, tx, pur.UserID, -pur.Amount, pur.Currency, LedgerBalanceDebit, ref)
	} else {
		err = insertLedger(ctx, tx, pur.UserID, pur.Amount, pur.Currency, LedgerPayment, ref)
	}
	if err != nil {
		return res, err
	}

	switch pur.Kind {
	case shop.KindTopUp:
		if err := addBalance(ctx, tx, pur.UserID, pur.Amount); err != nil {
			return res, err
		}
		if err := insertLedger(ctx, tx, pur.UserID, pur.Amount, pur.Currency, LedgerTopup, ref); err != nil {
			return res, err
		}
		var sub Subscription
		sub, err = collectOne[Subscription](tx.Query(ctx, qGetSubscription, pur.UserID))
		if err == nil {
			res.ExpiresAt, res.SubscriptionStatus, res.PreviousStatus, res.XrayEmail = sub.ExpiresAt, sub.Status, sub.Status, sub.XrayEmail
		} else if !errors.Is(err, ErrNotFound) {
			return res, err
		}
	case shop.KindSubscription:
		ext, err := extendSubscription(ctx, tx, extension{
			userID:      pur.UserID,
			emailDomain: p.EmailDomain,
			now:         now,
			by:          time.Duration(pur.Days) * 24 * time.Hour,
			planID:      pur.PlanID,
		})
		if err != nil {
			return res, err
		}
		res.ExpiresAt, res.SubscriptionStatus, res.XrayEmail = ext.sub.ExpiresAt, ext.sub.Status, ext.sub.XrayEmail
		res.PreviousStatus, res.SubscriptionCreated = ext.previousStatus, ext.created
		event := EventSubscriptionExtended
		if ext.created {
			event = EventSubscriptionCreated
		}
		if err := appendAudit(ctx, tx, pur.UserID, event, map[string]any{
			"purchase_id": pur.ID, "days": pur.Days, "plan_id": pur.PlanID,
			"expires_at": ext.sub.ExpiresAt, "previous_status": ext.previousStatus,
		}); err != nil {
			return res, err
		}
	default:
		return res, fmt.Errorf("%w: unknown purchase kind %q", ErrInvalid, pur.Kind)
	}

	if bonus := p.Referral.bonus(pur); bonus > 0 {
		if err := payReferralBonus(ctx, tx, pur, now, bonus, p.Referral.Currency, &res); err != nil {
			return res, err
		}
	}
	if err := tx.QueryRow(ctx, `SELECT balance, coalesce(referrer_id, 0) FROM users WHERE telegram_id = $1`,
		pur.UserID).Scan(&res.Balance, &res.ReferrerID); err != nil {
		return res, fmt.Errorf("read balance: %w", err)
	}
	return res, nil
}

// storedCredit rebuilds the result of an earlier credit of pur.
func storedCredit(ctx context.Context, tx pgx.Tx, pur Purchase) (CreditResult, error) {
	res := CreditResult{AlreadyCredited: true, Kind: pur.Kind, UserID: pur.UserID}
	if err := tx.QueryRow(ctx, `SELECT u.balance, coalesce(u.referrer_id, 0),
			EXISTS (SELECT 1 FROM referrals r WHERE r.referred_id = u.telegram_id AND r.bonus_purchase_id = $2),
			coalesce((SELECT l.amount FROM ledger l WHERE l.kind = 'referral_bonus' AND l.reference = 'referred:' || u.telegram_id), 0)
		FROM users u WHERE u.telegram_id = $1`, pur.UserID, pur.ID).Scan(&res.Balance, &res.ReferrerID, &res.ReferralBonusPaid, &res.ReferralBonus); err != nil {
		return res, fmt.Errorf("read credited outcome: %w", err)
	}
	if !res.ReferralBonusPaid {
		res.ReferralBonus = 0
	}
	sub, err := collectOne[Subscription](tx.Query(ctx, qGetSubscription, pur.UserID))
	switch {
	case err == nil:
		res.ExpiresAt, res.SubscriptionStatus, res.XrayEmail = sub.ExpiresAt, sub.Status, sub.XrayEmail
	case !errors.Is(err, ErrNotFound):
		return res, err
	}
	return res, nil
}

func addBalance(ctx context.Context, tx pgx.Tx, userID, delta int64) error {
	tag, err := tx.Exec(ctx, `UPDATE users SET balance = balance + $2, updated_at = now() WHERE telegram_id = $1`, userID, delta)
	if err != nil {
		return fmt.Errorf("change balance of user %d by %d: %w", userID, delta, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("change balance of user %d: %w", userID, ErrNotFound)
	}
	return nil
}

func insertLedger(ctx context.Context, tx pgx.Tx, userID, amount int64, currency, kind, reference string) error {
	if _, err := tx.Exec(ctx, `INSERT INTO ledger (user_id, amount, currency, kind, reference) VALUES ($1, $2, $3, $4, $5)`,
		userID, amount, currency, kind, reference); err != nil {
		return fmt.Errorf("ledger %s %s: %w", kind, reference, err)
	}
	return nil
}

func validCurrency(c string) bool {
	if len(c) != 3 {
		return false
	}
	for _, r := range c {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}
