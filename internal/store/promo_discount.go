package store

import (
	"context"
	"errors"
	"fmt"
	"vpnflow/internal/shop"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// SavePromoDiscount keeps a redeemed percent code for the user's next plan
// purchase. It needs the redemption (RedeemPromo first) and is idempotent:
// saving it again changes nothing.
func (s *Store) SavePromoDiscount(ctx context.Context, code string, userID int64, percent int) error {
	code = shop.NormalizePromoCode(code)
	_, err := s.pool.Exec(ctx, `INSERT INTO promo_discounts (code, user_id, percent) VALUES ($1, $2, $3)
		ON CONFLICT (code, user_id) DO NOTHING`, code, userID, percent)
	return wrap(fmt.Sprintf("save promo %q discount for user %d", code, userID), err)
}

// Discount is a percent promo applied to a purchase.
type Discount struct {
	Code    string
	Percent int
}

// ApplyPromoDiscount attaches the user's best waiting discount to a purchase
// about to start and returns it; ok is false when there is none. A discount
// is waiting if it was never applied, or was applied to a purchase that
// ended unpaid (expired or failed). One attached to a purchase that is still
// open or paid is taken. Applying again for the same purchase returns the
// same discount, so a retried call is harmless.
func (s *Store) ApplyPromoDiscount(ctx context.Context, userID int64, purchaseID uuid.UUID) (Discount, bool, error) {
	op := fmt.Sprintf("apply promo discount of user %d to purchase %s", userID, purchaseID)
	var d Discount
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT code, percent FROM promo_discounts WHERE purchase_id = $1`, purchaseID).Scan(&d.Code, &d.Percent)
		if err == nil || !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		// The purchase row appears only once its workflow records it, so an
		// attached discount without one is treated as open for an hour.
		return tx.QueryRow(ctx, `UPDATE promo_discounts SET purchase_id = $2, applied_at = now()
			WHERE (code, user_id) = (
				SELECT d.code, d.user_id FROM promo_discounts d
				LEFT JOIN purchases p ON p.id = d.purchase_id
				WHERE d.user_id = $1 AND (
					d.purchase_id IS NULL
					OR p.status IN ('expired', 'failed')
					OR (p.id IS NULL AND d.applied_at < now() - interval '1 hour'))
				ORDER BY d.percent DESC, d.created_at
				LIMIT 1
				FOR UPDATE OF d SKIP LOCKED)
			RETURNING code, percent`, userID, purchaseID).Scan(&d.Code, &d.Percent)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return Discount{}, false, nil
	}
	if err != nil {
		return Discount{}, false, wrap(op, err)
	}
	return d, true, nil
}

// ReleasePromoDiscount detaches a discount from a purchase that never
// started, so the next purchase can use it.
func (s *Store) ReleasePromoDiscount(ctx context.Context, purchaseID uuid.UUID) error {
	_, err := s.pool.Exec(ctx, `UPDATE promo_discounts SET purchase_id = NULL, applied_at = NULL WHERE purchase_id = $1`, purchaseID)
	return wrap(fmt.Sprintf("release promo discount of purchase %s", purchaseID), err)
}

// DiscountFor returns the discount applied to a purchase, if any: which
// promo a purchase used.
func (s *Store) DiscountFor(ctx context.Context, purchaseID uuid.UUID) (Discount, bool, error) {
	var d Discount
	err := s.pool.QueryRow(ctx, `SELECT code, percent FROM promo_discounts WHERE purchase_id = $1`, purchaseID).Scan(&d.Code, &d.Percent)
	if errors.Is(err, pgx.ErrNoRows) {
		return Discount{}, false, nil
	}
	if err != nil {
		return Discount{}, false, wrap(fmt.Sprintf("discount of purchase %s", purchaseID), err)
	}
	return d, true, nil
}

// Discounted is price less percent, never below one minor unit: a purchase
// must cost something (free time is a days code, not 100% off).
func Discounted(price int64, percent int) int64 {
	if percent <= 0 {
		return price
	}
	if percent > 100 {
		percent = 100
	}
	// Round half up in minor units, without floating point.
	out := (price*int64(100-percent) + 50) / 100
	return max(out, 1)
}
