package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Ledger kinds of a Stars charge that paid for nothing (a second payment of
// a paid invoice, a payment of a closed purchase) and was given back. They
// move no balance; both carry the reference StarsChargeRef.
const (
	LedgerStarsExtra       = "stars_extra"
	LedgerStarsExtraRefund = "stars_extra_refund"
)

// Outcomes of a star_payments row.
const (
	StarCredited     = "credited"
	StarRefunded     = "refunded"
	StarRefundFailed = "refund_failed"
)

// Who recorded a star_payments row.
const (
	StarSourceBot   = "bot"
	StarSourceSweep = "sweep"
)

// StarsChargeRef is the ledger reference of a Stars charge.
func StarsChargeRef(chargeID string) string { return "stars:" + chargeID }

// StarPayment is a Stars charge as received (star_payments).
type StarPayment struct {
	ChargeID   string     `db:"charge_id"`
	UserID     int64      `db:"user_id"`
	PurchaseID *uuid.UUID `db:"purchase_id"` // nil if the payload is not a purchase id
	Amount     int64      `db:"amount"`
	Currency   string     `db:"currency"`
	Source     string     `db:"source"`
	ReceivedAt time.Time  `db:"received_at"` // zero: the database's now()
	HandledAt  *time.Time `db:"handled_at"`
	Outcome    *string    `db:"outcome"`
}

const starPaymentColumns = `charge_id, user_id, purchase_id, amount, currency, source, received_at, handled_at, outcome`

// RecordStarPayment stores a received Stars charge once; recording it again
// changes nothing. It reports whether this call inserted it.
func (s *Store) RecordStarPayment(ctx context.Context, p StarPayment) (bool, error) {
	op := fmt.Sprintf("record stars charge %s", p.ChargeID)
	if p.ChargeID == "" || p.Amount <= 0 {
		return false, fmt.Errorf("%s: %w: charge id and a positive amount are required", op, ErrInvalid)
	}
	inserted, err := insertStarPayment(ctx, s.pool, p)
	return inserted, wrap(op, err)
}

// starExecer is a pool or a transaction.
type starExecer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func insertStarPayment(ctx context.Context, db starExecer, p StarPayment) (bool, error) {
	var at any
	if !p.ReceivedAt.IsZero() {
		at = p.ReceivedAt
	}
	if p.Currency == "" {
		p.Currency = "XTR"
	}
	tag, err := db.Exec(ctx, `INSERT INTO star_payments (charge_id, user_id, purchase_id, amount, currency, source, received_at)
		VALUES ($1, $2, $3, $4, $5, $6, coalesce($7::timestamptz, now()))
		ON CONFLICT (charge_id) DO NOTHING`,
		p.ChargeID, p.UserID, p.PurchaseID, p.Amount, p.Currency, p.Source, at)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

// StarCursor is where the payments sweep stopped reading Telegram's Stars
// transactions (0 before the first read).
func (s *Store) StarCursor(ctx context.Context, name string) (int64, error) {
	var pos int64
	err := s.pool.QueryRow(ctx, `SELECT position FROM payment_sweep_cursors WHERE name = $1`, name).Scan(&pos)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return pos, wrap("read sweep cursor "+name, err)
}

// RecordStarTransactions stores the incoming charges of one page of
// Telegram's Stars transactions that the database knows neither as a
// received payment nor as a purchase's charge, and moves the cursor from
// `from` to `to`, in one transaction. A retry after the commit finds the
// cursor already at `to` and changes nothing. It returns the charges it
// recorded.
func (s *Store) RecordStarTransactions(ctx context.Context, name string, from, to int64, charges []StarPayment) ([]string, error) {
	op := fmt.Sprintf("record stars transactions %d..%d", from, to)
	var added []string
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		added = added[:0]
		var pos int64
		err := tx.QueryRow(ctx, `SELECT position FROM payment_sweep_cursors WHERE name = $1 FOR UPDATE`, name).Scan(&pos)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			pos = 0
		case err != nil:
			return err
		}
		if pos != from {
			return nil // this page was recorded already (a retry) or by a concurrent run
		}
		for _, c := range charges {
			var known bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM purchases WHERE provider = 'stars' AND provider_charge_id = $1)`,
				c.ChargeID).Scan(&known); err != nil {
				return err
			}
			if known {
				continue
			}
			c.Source = StarSourceSweep
			ok, err := insertStarPayment(ctx, tx, c)
			if err != nil {
				return err
			}
			if ok {
				added = append(added, c.ChargeID)
			}
		}
		_, err = tx.Exec(ctx, `INSERT INTO payment_sweep_cursors (name, position) VALUES ($1, $2)
			ON CONFLICT (name) DO UPDATE SET position = excluded.position`, name, to)
		return err
	})
	return added, wrap(op, err)
}

// UnhandledStarPayments first marks handled every recorded charge its
// purchase was paid with, then returns up to limit charges still unhandled
// that were received more than olderThan ago, oldest first: the ones no
// workflow took.
func (s *Store) UnhandledStarPayments(ctx context.Context, olderThan time.Duration, limit int) ([]StarPayment, error) {
	var out []StarPayment
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE star_payments s SET handled_at = now(), outcome = 'credited'
			FROM purchases p
			WHERE s.handled_at IS NULL AND p.id = s.purchase_id AND p.provider = 'stars'
				AND p.provider_charge_id = s.charge_id AND p.status IN ('paid', 'refunded')`); err != nil {
			return fmt.Errorf("mark credited: %w", err)
		}
		rows, err := tx.Query(ctx, `SELECT `+starPaymentColumns+` FROM star_payments
			WHERE handled_at IS NULL AND received_at < now() - $1::interval
			ORDER BY received_at LIMIT $2`, olderThan, limit)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowToStructByName[StarPayment])
		return err
	})
	return out, wrap("list unhandled stars charges", err)
}

// GetStarPayment reads one recorded charge.
func (s *Store) GetStarPayment(ctx context.Context, chargeID string) (StarPayment, error) {
	p, err := collectOne[StarPayment](s.pool.Query(ctx, `SELECT `+starPaymentColumns+` FROM star_payments WHERE charge_id = $1`, chargeID))
	return p, wrap("get stars charge "+chargeID, err)
}

// StarRefund is a Stars charge given back (or that could not be).
type StarRefund struct {
	StarPayment
	Failed bool // refundStarPayment refused it; an admin must act
}

// RecordStarRefund books a charge that paid for nothing, in one
// transaction: the star_payments row (created if the bot never wrote it)
// is marked refunded or refund_failed, and a refunded charge gets two
// ledger rows, the charge and its refund. Repeating it changes nothing.
func (s *Store) RecordStarRefund(ctx context.Context, r StarRefund) error {
	op := fmt.Sprintf("record refund of stars charge %s", r.ChargeID)
	outcome := StarRefunded
	if r.Failed {
		outcome = StarRefundFailed
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if r.Source == "" {
			r.Source = StarSourceSweep
		}
		if _, err := insertStarPayment(ctx, tx, r.StarPayment); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE star_payments SET handled_at = coalesce(handled_at, now()), outcome = $2
			WHERE charge_id = $1 AND (outcome IS NULL OR outcome = 'refund_failed')`, r.ChargeID, outcome); err != nil {
			return fmt.Errorf("mark %s: %w", outcome, err)
		}
		if r.Failed {
			return nil
		}
		cur := r.Currency
		if cur == "" {
			cur = "XTR"
		}
		// The user may be unknown to the database (a charge found only in
		// Telegram's list); the star_payments row is the record then.
		for _, l := range []struct {
			kind   string
			amount int64
		}{{LedgerStarsExtra, r.Amount}, {LedgerStarsExtraRefund, -r.Amount}} {
			if _, err := tx.Exec(ctx, `INSERT INTO ledger (user_id, amount, currency, kind, reference)
				SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM users WHERE telegram_id = $1)
				ON CONFLICT (kind, reference) DO NOTHING`, r.UserID, l.amount, cur, l.kind, StarsChargeRef(r.ChargeID)); err != nil {
				return fmt.Errorf("ledger %s: %w", l.kind, err)
			}
		}
		return nil
	})
	return wrap(op, err)
}

// UncreditedPurchases returns those of ids that are neither paid nor
// refunded in the database, including ids it does not know, and that no
// payment report covers.
func (s *Store) UncreditedPurchases(ctx context.Context, ids []uuid.UUID) ([]uuid.UUID, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT i FROM unnest($1::uuid[]) AS i
		WHERE NOT EXISTS (SELECT 1 FROM purchases p WHERE p.id = i AND p.status IN ('paid', 'refunded'))
			AND NOT EXISTS (SELECT 1 FROM payment_reports r WHERE r.purchase_id = i)`, ids)
	if err != nil {
		return nil, wrap("list uncredited purchases", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	return out, wrap("list uncredited purchases", err)
}

// PaymentReport is a payment that could not be credited or refunded and
// was handed to the admins.
type PaymentReport struct {
	Provider   string
	Reference  string // the provider's invoice or charge id
	PurchaseID *uuid.UUID
	Reason     string
}

// RecordPaymentReport stores the report once; repeating it changes
// nothing.
func (s *Store) RecordPaymentReport(ctx context.Context, r PaymentReport) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO payment_reports (provider, reference, purchase_id, reason)
		VALUES ($1, $2, $3, $4) ON CONFLICT (provider, reference) DO NOTHING`, r.Provider, r.Reference, r.PurchaseID, r.Reason)
	return wrap(fmt.Sprintf("record payment report %s %s", r.Provider, r.Reference), err)
}
