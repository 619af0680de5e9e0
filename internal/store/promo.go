package store

import (
	"context"
	"fmt"
	"time"
	"vpnflow/internal/shop"

	"github.com/jackc/pgx/v5"
)

// Promo is a promo code.
type Promo struct {
	Code      string     `db:"code"` // upper case
	Kind      string     `db:"kind"`
	Value     int        `db:"value"`
	MaxUses   int        `db:"max_uses"`
	Used      int        `db:"used"`
	CreatedBy int64      `db:"created_by"` // admin's Telegram id
	CreatedAt time.Time  `db:"created_at"`
	ExpiresAt *time.Time `db:"expires_at"` // nil: never
}

const promoColumns = `code, kind, value, max_uses, used, created_by, created_at, expires_at`

// CreatePromo creates a promo code (Code, Kind, Value, MaxUses, CreatedBy,
// ExpiresAt are used). Creating the same code again with the same terms
// returns the existing one; different terms are ErrPromoExists.
func (s *Store) CreatePromo(ctx context.Context, p Promo) (Promo, error) {
	code := shop.NormalizePromoCode(p.Code)
	op := fmt.Sprintf("create promo %q", code)
	var out Promo
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO promo_codes (code, kind, value, max_uses, created_by, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (code) DO NOTHING`,
			code, p.Kind, p.Value, p.MaxUses, p.CreatedBy, p.ExpiresAt); err != nil {
			return err
		}
		var err error
		if out, err = collectOne[Promo](tx.Query(ctx, `SELECT `+promoColumns+` FROM promo_codes WHERE code = $1`, code)); err != nil {
			return err
		}
		if out.Kind != p.Kind || out.Value != p.Value || out.MaxUses != p.MaxUses {
			return ErrPromoExists
		}
		return nil
	})
	if err != nil {
		return Promo{}, wrap(op, err)
	}
	return out, nil
}

// GetPromo returns a promo code.
func (s *Store) GetPromo(ctx context.Context, code string) (Promo, error) {
	code = shop.NormalizePromoCode(code)
	p, err := collectOne[Promo](s.pool.Query(ctx, `SELECT `+promoColumns+` FROM promo_codes WHERE code = $1`, code))
	return p, wrap(fmt.Sprintf("get promo %q", code), err)
}

// RedeemPromo uses one of the code's uses for the user and returns the
// promo (with Used counting this use). Each user redeems a code once
// (ErrPromoAlreadyRedeemed, returned with the promo); the schema keeps uses
// within MaxUses under any concurrency (ErrPromoExhausted). Unknown codes
// are ErrNotFound, expired ones ErrPromoExpired.
//
// Applying a 'days' promo is GrantTime(kind "promo", reference code): call
// it after a nil error and also after ErrPromoAlreadyRedeemed — the grant's
// own key makes it happen once, and covers a crash between the two calls.
func (s *Store) RedeemPromo(ctx context.Context, code string, userID int64) (Promo, error) {
	return s.RedeemPromoFor(ctx, code, userID, "")
}

// RedeemPromoFor is RedeemPromo on behalf of a request (the workflow run
// that asks). The redemption's audit row keeps it, and a repeat by the
// same request — a retry whose first answer was lost — returns the promo
// without ErrPromoAlreadyRedeemed, the same success as the first call.
func (s *Store) RedeemPromoFor(ctx context.Context, code string, userID int64, request string) (Promo, error) {
	code = shop.NormalizePromoCode(code)
	op := fmt.Sprintf("redeem promo %q for user %d", code, userID)
	var promo Promo
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// The row lock queues concurrent redemptions of one code.
		row, err := collectOne[struct {
			Promo
			Expired bool `db:"expired"`
		}](tx.Query(ctx, `SELECT `+promoColumns+`, coalesce(expires_at <= now(), false) AS expired
			FROM promo_codes WHERE code = $1 FOR UPDATE`, code))
		if err != nil {
			return err
		}
		promo = row.Promo
		var redeemed bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM promo_redemptions WHERE code = $1 AND user_id = $2)`,
			code, userID).Scan(&redeemed); err != nil {
			return err
		}
		if redeemed {
			var mine bool
			if err := tx.QueryRow(ctx, `SELECT $3 <> '' AND EXISTS (SELECT 1 FROM audit_log
					WHERE user_id = $1 AND event = $2 AND details->>'code' = $4 AND details->>'request' = $3)`,
				userID, EventPromoRedeemed, request, code).Scan(&mine); err != nil {
				return fmt.Errorf("find redemption request: %w", err)
			}
			if mine {
				return nil
			}
			return ErrPromoAlreadyRedeemed
		}
		if row.Expired {
			return ErrPromoExpired
		}
		// promo_codes_used_check refuses the use past max_uses.
		if err := tx.QueryRow(ctx, `UPDATE promo_codes SET used = used + 1 WHERE code = $1 RETURNING used`,
			code).Scan(&promo.Used); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO promo_redemptions (code, user_id) VALUES ($1, $2)`, code, userID); err != nil {
			return err
		}
		return appendAudit(ctx, tx, userID, EventPromoRedeemed, map[string]any{"code": code, "kind": promo.Kind, "value": promo.Value, "request": request})
	})
	if err != nil {
		return promo, wrap(op, err)
	}
	return promo, nil
}
