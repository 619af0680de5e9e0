package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"vpnflow/internal/shop"
)

// Purchase is one attempt to buy something.
type Purchase struct {
	ID                uuid.UUID  `db:"id"`
	UserID            int64      `db:"user_id"`
	Kind              string     `db:"kind"` // shop.KindSubscription or shop.KindTopUp
	PlanID            string     `db:"plan_id"`
	Days              int        `db:"days"`
	Amount            int64      `db:"amount"` // minor units of Currency
	Currency          string     `db:"currency"`
	Provider          string     `db:"provider"`            // shop.Provider*
	ProviderInvoiceID string     `db:"provider_invoice_id"` // "" until invoiced
	ProviderChargeID  string     `db:"provider_charge_id"`  // "" unless the provider gave one
	PayURL            string     `db:"pay_url"`
	Status            string     `db:"status"` // shop.Purchase*
	InvoiceExpiresAt  *time.Time `db:"invoice_expires_at"`
	CreatedAt         time.Time  `db:"created_at"`
	PaidAt            *time.Time `db:"paid_at"`
	RefundedAt        *time.Time `db:"refunded_at"`
	FailureReason     string     `db:"failure_reason"` // why a failed purchase failed
}

const purchaseColumns = `id, user_id, kind, plan_id, days, amount, currency, provider,
	coalesce(provider_invoice_id, '') AS provider_invoice_id,
	coalesce(provider_charge_id, '') AS provider_charge_id,
	coalesce(pay_url, '') AS pay_url,
	status, invoice_expires_at, created_at, paid_at, refunded_at,
	coalesce(failure_reason, '') AS failure_reason`

// NewPurchase describes a purchase to create. ID is chosen by the caller (a
// workflow derives it deterministically) so creation is idempotent.
type NewPurchase struct {
	ID       uuid.UUID
	UserID   int64
	Kind     string
	PlanID   string
	Days     int
	Amount   int64
	Currency string
	Provider string
}

// CreatePurchase creates a pending purchase, or returns the existing one
// with the same ID. Reusing an ID for different terms is ErrPurchaseConflict.
func (s *Store) CreatePurchase(ctx context.Context, n NewPurchase) (Purchase, error) {
	op := fmt.Sprintf("create purchase %s", n.ID)
	if n.ID == uuid.Nil {
		return Purchase{}, fmt.Errorf("%s: %w: purchase id is required", op, ErrInvalid)
	}
	var p Purchase
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO purchases (id, user_id, kind, plan_id, days, amount, currency, provider)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (id) DO NOTHING`,
			n.ID, n.UserID, n.Kind, n.PlanID, n.Days, n.Amount, n.Currency, n.Provider)
		if err != nil {
			return err
		}
		p, err = collectOne[Purchase](tx.Query(ctx, `SELECT `+purchaseColumns+` FROM purchases WHERE id = $1`, n.ID))
		if err != nil {
			return err
		}
		if p.UserID != n.UserID || p.Kind != n.Kind || p.PlanID != n.PlanID || p.Days != n.Days ||
			p.Amount != n.Amount || p.Currency != n.Currency || p.Provider != n.Provider {
			return ErrPurchaseConflict
		}
		return nil
	})
	if err != nil {
		return Purchase{}, wrap(op, err)
	}
	return p, nil
}

// GetPurchase returns a purchase by id.
func (s *Store) GetPurchase(ctx context.Context, id uuid.UUID) (Purchase, error) {
	p, err := collectOne[Purchase](s.pool.Query(ctx, `SELECT `+purchaseColumns+` FROM purchases WHERE id = $1`, id))
	return p, wrap(fmt.Sprintf("get purchase %s", id), err)
}

// PurchaseByInvoice finds the purchase a provider's invoice belongs to (for
// webhooks, which only know the invoice).
func (s *Store) PurchaseByInvoice(ctx context.Context, provider, invoiceID string) (Purchase, error) {
	p, err := collectOne[Purchase](s.pool.Query(ctx, `SELECT `+purchaseColumns+` FROM purchases
		WHERE provider = $1 AND provider_invoice_id = $2`, provider, invoiceID))
	return p, wrap(fmt.Sprintf("purchase by %s invoice %s", provider, invoiceID), err)
}

// SetPurchaseInvoice attaches the provider's invoice to a purchase and moves
// it from pending to invoiced. Repeating it with the same invoice is a no-op;
// a different invoice returns ErrInvoiceMismatch together with the stored
// purchase, whose invoice the caller should use instead.
func (s *Store) SetPurchaseInvoice(ctx context.Context, id uuid.UUID, invoiceID, payURL string, expiresAt time.Time) (Purchase, error) {
	op := fmt.Sprintf("set invoice %s of purchase %s", invoiceID, id)
	if invoiceID == "" {
		return Purchase{}, fmt.Errorf("%s: %w: empty invoice id", op, ErrInvalid)
	}
	var expires any
	if !expiresAt.IsZero() {
		expires = expiresAt
	}
	var p Purchase
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		p, err = collectOne[Purchase](tx.Query(ctx, `UPDATE purchases SET
				provider_invoice_id = $2, pay_url = nullif($3, ''), invoice_expires_at = $4,
				status = CASE WHEN status = 'pending' THEN 'invoiced' ELSE status END
			WHERE id = $1 AND provider_invoice_id IS NULL
			RETURNING `+purchaseColumns, id, invoiceID, payURL, expires))
		if !errors.Is(err, ErrNotFound) {
			return err
		}
		// Already invoiced (or missing): report what is stored.
		p, err = collectOne[Purchase](tx.Query(ctx, `SELECT `+purchaseColumns+` FROM purchases WHERE id = $1`, id))
		if err != nil {
			return err
		}
		if p.ProviderInvoiceID != invoiceID {
			return ErrInvoiceMismatch
		}
		return nil
	})
	if err != nil {
		return p, wrap(op, err)
	}
	return p, nil
}

// ExpirePurchase closes an unpaid purchase whose invoice ran out. It reports
// whether it changed anything: a purchase already paid (or closed) is left
// alone.
func (s *Store) ExpirePurchase(ctx context.Context, id uuid.UUID) (bool, error) {
	changed, err := s.closeOpenPurchase(ctx, id, shop.PurchaseExpired, "")
	return changed, wrap(fmt.Sprintf("expire purchase %s", id), err)
}

// FailPurchase closes an unpaid purchase that cannot be paid (no invoice
// could be created or sent, the balance was short) and records why. Like
// ExpirePurchase, it only moves pending or invoiced purchases and reports
// whether it did, so a retry, or a purchase that was paid after all, is
// left alone. A percent promo attached to the purchase is free again for
// the user's next purchase (ApplyPromoDiscount takes discounts of failed
// purchases back).
func (s *Store) FailPurchase(ctx context.Context, id uuid.UUID, reason string) (bool, error) {
	op := fmt.Sprintf("fail purchase %s", id)
	if strings.TrimSpace(reason) == "" {
		return false, fmt.Errorf("%s: %w: a reason is required", op, ErrInvalid)
	}
	changed, err := s.closeOpenPurchase(ctx, id, shop.PurchaseFailed, truncateReason(reason))
	return changed, wrap(op, err)
}

// maxReason bounds a stored failure reason (error texts can be long).
const maxReason = 500

func truncateReason(r string) string {
	if len(r) <= maxReason {
		return r
	}
	// Cut at a rune boundary.
	cut := maxReason
	for cut > 0 && !utf8.RuneStart(r[cut]) {
		cut--
	}
	return r[:cut]
}

func (s *Store) closeOpenPurchase(ctx context.Context, id uuid.UUID, status, reason string) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE purchases SET status = $2, failure_reason = nullif($3, '')
		WHERE id = $1 AND status IN ('pending', 'invoiced')`, id, status, reason)
	if err != nil {
		return false, err
	}
	if tag.RowsAffected() == 1 {
		return true, nil
	}
	// Tell "already closed" from "no such purchase".
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM purchases WHERE id = $1)`, id).Scan(&exists); err != nil {
		return false, err
	}
	if !exists {
		return false, ErrNotFound
	}
	return false, nil
}

// RecentPurchases lists a user's purchases, newest first.
func (s *Store) RecentPurchases(ctx context.Context, userID int64, limit int) ([]Purchase, error) {
	op := fmt.Sprintf("recent purchases of user %d", userID)
	if limit <= 0 || limit > 1000 {
		return nil, fmt.Errorf("%s: %w: limit must be 1-1000, got %d", op, ErrInvalid, limit)
	}
	ps, err := collectAll[Purchase](s.pool.Query(ctx, `SELECT `+purchaseColumns+` FROM purchases
		WHERE user_id = $1 ORDER BY created_at DESC, id LIMIT $2`, userID, limit))
	return ps, wrap(op, err)
}
