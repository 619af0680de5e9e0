package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"vpnflow/internal/shop"
)

// RefundParams names a paid purchase to reverse.
type RefundParams struct {
	PurchaseID uuid.UUID
	Reason     string // recorded in the audit log
	// Request names who asks (the workflow run): the refund's audit row
	// keeps it, and a repeat by the same request reports the refund as its
	// own (AlreadyRefunded false) because it is a retry whose first answer
	// was lost. Empty: every repeat is AlreadyRefunded.
	Request string
}

// RefundResult is what the caller needs to finish a refund: the purchase
// (kind, days and charge id, to shorten the subscription and call the
// provider) and the buyer's balance afterwards.
type RefundResult struct {
	AlreadyRefunded bool
	Purchase        Purchase
	Balance         int64
	// Referral is the referral bonus taken back (zero if the purchase
	// earned none); a repeat reports the stored reversal.
	Referral ReferralReversal
}

// RefundPurchase marks a paid purchase refunded and writes a negative
// 'refund' ledger row, once. A balance-paid purchase goes back to the
// balance; a refunded top-up is taken back from it (ErrInsufficientBalance
// if it has been spent, changing nothing). Subscription time is not touched:
// the caller shortens it (GrantTime with a negative duration) if it should.
// A referral bonus the purchase earned is taken back from the referrer in
// the same transaction, as far as their balance allows (the rest is
// recorded as a shortfall; see ReferralReversal).
func (s *Store) RefundPurchase(ctx context.Context, p RefundParams) (RefundResult, error) {
	var res RefundResult
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		pur, err := collectOne[Purchase](tx.Query(ctx, `SELECT `+purchaseColumns+` FROM purchases WHERE id = $1 FOR UPDATE`, p.PurchaseID))
		if err != nil {
			return err
		}
		switch pur.Status {
		case shop.PurchaseRefunded:
			res.Purchase = pur
			if err := tx.QueryRow(ctx, `SELECT NOT EXISTS (SELECT 1 FROM audit_log
					WHERE user_id = $1 AND event = $2 AND details->>'purchase_id' = $3 AND details->>'request' = $4)`,
				pur.UserID, EventPurchaseRefunded, pur.ID.String(), p.Request).Scan(&res.AlreadyRefunded); err != nil {
				return fmt.Errorf("find refund request: %w", err)
			}
			if p.Request == "" {
				res.AlreadyRefunded = true
			}
			if res.Referral, err = storedReversal(ctx, tx, pur); err != nil {
				return err
			}
			return tx.QueryRow(ctx, `SELECT balance FROM users WHERE telegram_id = $1`, pur.UserID).Scan(&res.Balance)
		case shop.PurchasePaid:
		default:
			return fmt.Errorf("%w: status %s", ErrPurchaseNotPaid, pur.Status)
		}
		ref := PurchaseRef(pur.ID)
		if res.Purchase, err = collectOne[Purchase](tx.Query(ctx, `UPDATE purchases SET status = 'refunded', refunded_at = now()
			WHERE id = $1 RETURNING `+purchaseColumns, pur.ID)); err != nil {
			return fmt.Errorf("mark refunded: %w", err)
		}
		if err := insertLedger(ctx, tx, pur.UserID, -pur.Amount, pur.Currency, LedgerRefund, ref); err != nil {
			return err
		}
		switch {
		case pur.Provider == shop.ProviderBalance:
			if err := addBalance(ctx, tx, pur.UserID, pur.Amount); err != nil {
				return err
			}
			if err := insertLedger(ctx, tx, pur.UserID, pur.Amount, pur.Currency, LedgerBalanceRefund, ref); err != nil {
				return err
			}
		case pur.Kind == shop.KindTopUp:
			if err := addBalance(ctx, tx, pur.UserID, -pur.Amount); err != nil {
				return err
			}
			if err := insertLedger(ctx, tx, pur.UserID, -pur.Amount, pur.Currency, LedgerTopupReversal, ref); err != nil {
				return err
			}
		}
		if res.Referral, err = reverseReferralBonus(ctx, tx, pur); err != nil {
			return err
		}
		if err := appendAudit(ctx, tx, pur.UserID, EventPurchaseRefunded, map[string]any{
			"purchase_id": pur.ID, "kind": pur.Kind, "amount": pur.Amount, "currency": pur.Currency,
			"provider": pur.Provider, "reason": p.Reason, "request": p.Request,
		}); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT balance FROM users WHERE telegram_id = $1`, pur.UserID).Scan(&res.Balance)
	})
	if err != nil {
		return RefundResult{}, wrap(fmt.Sprintf("refund purchase %s", p.PurchaseID), err)
	}
	return res, nil
}
