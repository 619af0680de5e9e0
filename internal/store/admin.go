package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"vpnflow/internal/shop"
)

// CreditRefundToBalance gives the money of a refunded purchase back as
// balance: how a provider that cannot refund by API (Crypto Pay) is
// refunded. It writes one balance_refund ledger row per purchase, so
// running it again changes nothing; it reports whether this call credited.
// The purchase must already be refunded (RefundPurchase) and be a
// subscription paid through a provider; a balance purchase was credited by
// RefundPurchase itself, and a top-up's money is the balance.
func (s *Store) CreditRefundToBalance(ctx context.Context, purchaseID uuid.UUID) (bool, int64, error) {
	op := fmt.Sprintf("credit refund of purchase %s to the balance", purchaseID)
	var (
		credited bool
		balance  int64
	)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		pur, err := collectOne[Purchase](tx.Query(ctx, `SELECT `+purchaseColumns+` FROM purchases WHERE id = $1 FOR UPDATE`, purchaseID))
		if err != nil {
			return err
		}
		switch {
		case pur.Status != shop.PurchaseRefunded:
			return fmt.Errorf("%w: status %s", ErrPurchaseNotPaid, pur.Status)
		case pur.Provider == shop.ProviderBalance || pur.Kind != shop.KindSubscription:
			return fmt.Errorf("%w: a %s %s purchase is not refunded to the balance", ErrInvalid, pur.Provider, pur.Kind)
		}
		tag, err := tx.Exec(ctx, `INSERT INTO ledger (user_id, amount, currency, kind, reference) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (kind, reference) DO NOTHING`, pur.UserID, pur.Amount, pur.Currency, LedgerBalanceRefund, PurchaseRef(pur.ID))
		if err != nil {
			return fmt.Errorf("ledger: %w", err)
		}
		if credited = tag.RowsAffected() == 1; credited {
			if err := addBalance(ctx, tx, pur.UserID, pur.Amount); err != nil {
				return err
			}
			if err := appendAudit(ctx, tx, pur.UserID, EventPurchaseRefunded, map[string]any{
				"purchase_id": pur.ID, "to_balance": pur.Amount, "currency": pur.Currency,
			}); err != nil {
				return err
			}
		}
		return tx.QueryRow(ctx, `SELECT balance FROM users WHERE telegram_id = $1`, pur.UserID).Scan(&balance)
	})
	if err != nil {
		return false, 0, wrap(op, err)
	}
	return credited, balance, nil
}

// PurchaseCount counts a user's purchases (any status).
func (s *Store) PurchaseCount(ctx context.Context, userID int64) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM purchases WHERE user_id = $1`, userID).Scan(&n)
	return n, wrap(fmt.Sprintf("count purchases of user %d", userID), err)
}
