package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"vpnflow/internal/shop"
)

// ReferralTerms is what a referrer earns: Percent of the amount the
// referred user actually paid for their first plan, at most Cap, in
// Currency (the balance's). Only a plan purchase earns, whichever way it was
// paid (a provider or the balance); a top-up does not, since topped-up money
// earns when it buys a plan. Zero Percent or Cap pays nothing.
type ReferralTerms struct {
	Percent  int
	Cap      int64
	Currency string
	// Value is the purchase's amount in Currency. Nil means the amount
	// itself when the purchase is in Currency; a purchase in another
	// currency (Stars) earns only if Value converts it (ok true).
	Value func(Purchase) (amount int64, ok bool)
}

func (r ReferralTerms) validate() error {
	switch {
	case r.Percent < 0 || r.Percent > 100:
		return fmt.Errorf("%w: referral percent must be 0-100, got %d", ErrInvalid, r.Percent)
	case r.Cap < 0:
		return fmt.Errorf("%w: negative referral cap", ErrInvalid)
	case r.Percent > 0 && r.Cap > 0 && !validCurrency(r.Currency):
		return fmt.Errorf("%w: referral bonus needs a currency code, got %q", ErrInvalid, r.Currency)
	}
	return nil
}

// bonus is what pur earns the referrer if it is the first paid plan:
// rounded down, so it never exceeds the share of what was paid.
func (r ReferralTerms) bonus(pur Purchase) int64 {
	if r.Percent <= 0 || r.Cap <= 0 || pur.Kind != shop.KindSubscription {
		return 0
	}
	value, ok := pur.Amount, pur.Currency == r.Currency
	if r.Value != nil {
		value, ok = r.Value(pur)
	}
	if !ok || value <= 0 {
		return 0
	}
	return min(value*int64(r.Percent)/100, r.Cap)
}

// payReferralBonus credits the referrer once, on the referred user's first
// paid plan. The referrals row's bonus_paid_at is the once-only switch (a
// refunded first plan keeps it set: the next plan earns nothing); the
// ledger key backs it up.
func payReferralBonus(ctx context.Context, tx pgx.Tx, pur Purchase, now time.Time, bonus int64, currency string, res *CreditResult) error {
	var referrer int64
	err := tx.QueryRow(ctx, `UPDATE referrals r SET bonus_paid_at = $3, bonus_purchase_id = $2
		WHERE r.referred_id = $1 AND r.bonus_paid_at IS NULL
			AND NOT EXISTS (SELECT 1 FROM purchases p
				WHERE p.user_id = $1 AND p.id <> $2 AND p.kind = 'subscription'
					AND p.status IN ('paid', 'refunded'))
		RETURNING r.referrer_id`, pur.UserID, pur.ID, now).Scan(&referrer)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // not referred, already paid, or not the first paid plan
	}
	if err != nil {
		return fmt.Errorf("claim referral bonus: %w", err)
	}
	if err := addBalance(ctx, tx, referrer, bonus); err != nil {
		return err
	}
	if err := insertLedger(ctx, tx, referrer, bonus, currency, LedgerReferralBonus, ReferredRef(pur.UserID)); err != nil {
		return err
	}
	res.ReferralBonusPaid, res.ReferralBonus = true, bonus
	return appendAudit(ctx, tx, referrer, EventReferralBonus, map[string]any{
		"referred_id": pur.UserID, "purchase_id": pur.ID, "amount": bonus, "currency": currency,
	})
}

// ReferralReversal is what a refund took back from the referrer.
type ReferralReversal struct {
	ReferrerID int64
	Bonus      int64 // the bonus the refunded purchase had earned
	Reversed   int64 // taken back from the referrer's balance
	// Shortfall is the part of the bonus the referrer had already spent:
	// a balance never goes below zero, so it stays with them, recorded in
	// the audit log (event referral_reversed) for an admin to follow up.
	Shortfall int64
}

// reverseReferralBonus takes back the bonus pur earned, if it earned one:
// as much as the referrer's balance holds, in one ledger row of its own
// (referral_reversal, referred:<user>), so it happens once.
func reverseReferralBonus(ctx context.Context, tx pgx.Tx, pur Purchase) (ReferralReversal, error) {
	var rv ReferralReversal
	var currency string
	err := tx.QueryRow(ctx, `SELECT r.referrer_id, l.amount, l.currency
		FROM referrals r JOIN ledger l ON l.kind = $3 AND l.reference = $4
		WHERE r.referred_id = $1 AND r.bonus_purchase_id = $2`,
		pur.UserID, pur.ID, LedgerReferralBonus, ReferredRef(pur.UserID)).Scan(&rv.ReferrerID, &rv.Bonus, &currency)
	if errors.Is(err, pgx.ErrNoRows) {
		return ReferralReversal{}, nil // this purchase earned no bonus
	}
	if err != nil {
		return rv, fmt.Errorf("find referral bonus: %w", err)
	}
	var balance int64
	if err := tx.QueryRow(ctx, `SELECT balance FROM users WHERE telegram_id = $1 FOR UPDATE`, rv.ReferrerID).Scan(&balance); err != nil {
		return rv, fmt.Errorf("lock referrer %d: %w", rv.ReferrerID, err)
	}
	rv.Reversed = min(rv.Bonus, max(balance, 0))
	rv.Shortfall = rv.Bonus - rv.Reversed
	tag, err := tx.Exec(ctx, `INSERT INTO ledger (user_id, amount, currency, kind, reference) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (kind, reference) DO NOTHING`, rv.ReferrerID, -rv.Reversed, currency, LedgerReferralReversal, ReferredRef(pur.UserID))
	if err != nil {
		return rv, fmt.Errorf("ledger referral reversal: %w", err)
	}
	if tag.RowsAffected() == 0 {
		// Reversed before: the purchase is refunded once, so this cannot
		// happen, but a second reversal must never be written.
		return ReferralReversal{}, nil
	}
	if err := addBalance(ctx, tx, rv.ReferrerID, -rv.Reversed); err != nil {
		return rv, err
	}
	return rv, appendAudit(ctx, tx, rv.ReferrerID, EventReferralReversed, map[string]any{
		"referred_id": pur.UserID, "purchase_id": pur.ID, "bonus": rv.Bonus, "reversed": rv.Reversed,
		"shortfall": rv.Shortfall, "currency": currency,
	})
}

// storedReversal rebuilds the reversal an earlier refund of pur wrote.
func storedReversal(ctx context.Context, tx pgx.Tx, pur Purchase) (ReferralReversal, error) {
	var rv ReferralReversal
	var reversed int64
	err := tx.QueryRow(ctx, `SELECT r.referrer_id, b.amount, -v.amount
		FROM referrals r
		JOIN ledger b ON b.kind = $3 AND b.reference = $5
		JOIN ledger v ON v.kind = $4 AND v.reference = $5
		WHERE r.referred_id = $1 AND r.bonus_purchase_id = $2`,
		pur.UserID, pur.ID, LedgerReferralBonus, LedgerReferralReversal, ReferredRef(pur.UserID)).Scan(&rv.ReferrerID, &rv.Bonus, &reversed)
	if errors.Is(err, pgx.ErrNoRows) {
		return ReferralReversal{}, nil
	}
	if err != nil {
		return rv, fmt.Errorf("read referral reversal: %w", err)
	}
	rv.Reversed, rv.Shortfall = reversed, rv.Bonus-reversed
	return rv, nil
}
