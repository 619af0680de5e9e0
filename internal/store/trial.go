package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"vpnflow/internal/shop"
)

// StartTrial gives the user a trial subscription of the given duration. The
// trials table's key allows one trial per user. A repeat while that trial
// is the user's live subscription, unchanged (a retry after a commit whose
// answer was lost), returns the same subscription and no error; once the
// trial has ended or been replaced, a repeat is ErrTrialUsed (returned with
// the current subscription). A user with paid time left gets
// ErrHasSubscription and keeps the trial for later. A new subscription is
// placed on a node (placeNode); ErrNoCapacity when no node has room.
func (s *Store) StartTrial(ctx context.Context, userID int64, duration time.Duration, emailDomain string) (Subscription, error) {
	op := fmt.Sprintf("start trial for user %d", userID)
	if duration <= 0 {
		return Subscription{}, fmt.Errorf("%s: %w: duration must be positive", op, ErrInvalid)
	}
	var sub Subscription
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var banned bool
		if err := tx.QueryRow(ctx, `SELECT banned FROM users WHERE telegram_id = $1 FOR UPDATE`, userID).Scan(&banned); err != nil {
			return err
		}
		if banned {
			return ErrBanned
		}
		cur, err := collectOne[Subscription](tx.Query(ctx, qLockSubscription, userID))
		exists := err == nil
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		sub = cur
		var now time.Time
		if err := tx.QueryRow(ctx, `SELECT now()`).Scan(&now); err != nil {
			return err
		}
		if exists && cur.Status == shop.StatusActive && cur.ExpiresAt.After(now) {
			return ErrHasSubscription
		}
		var endsAt time.Time
		err = tx.QueryRow(ctx, `INSERT INTO trials (user_id, started_at, ends_at) VALUES ($1, $2, $2::timestamptz + $3::interval)
			ON CONFLICT (user_id) DO NOTHING RETURNING ends_at`, userID, now, duration).Scan(&endsAt)
		if errors.Is(err, pgx.ErrNoRows) {
			// A retry of a start that committed finds its own trial as
			// the live subscription and gets the same success; only a
			// trial of an earlier period is "used".
			if exists && cur.IsTrial && cur.Status == shop.StatusTrial && cur.ExpiresAt.After(now) {
				var bookedEnd time.Time
				if err := tx.QueryRow(ctx, `SELECT ends_at FROM trials WHERE user_id = $1`, userID).Scan(&bookedEnd); err != nil {
					return fmt.Errorf("read trial: %w", err)
				}
				if bookedEnd.Equal(cur.ExpiresAt) {
					return nil
				}
			}
			return ErrTrialUsed
		}
		if err != nil {
			return fmt.Errorf("record trial: %w", err)
		}
		if exists {
			sub, err = collectOne[Subscription](tx.Query(ctx, `UPDATE subscriptions SET status = 'trial', is_trial = true,
					expires_at = $2, plan_id = '', updated_at = now()
				WHERE user_id = $1 RETURNING `+subscriptionColumns, userID, endsAt))
		} else {
			if emailDomain == "" {
				return fmt.Errorf("%w: an email domain is needed to create a subscription", ErrInvalid)
			}
			nodeID, perr := placeNode(ctx, tx, userID, false)
			if perr != nil {
				return perr
			}
			sub, err = collectOne[Subscription](tx.Query(ctx, qInsertSubscription,
				userID, nodeID, XrayEmail(userID, emailDomain), shop.StatusTrial, endsAt, true, "", NewURLToken()))
		}
		if err != nil {
			return fmt.Errorf("start trial subscription: %w", err)
		}
		return appendAudit(ctx, tx, userID, EventTrialStarted, map[string]any{"ends_at": endsAt})
	})
	if err != nil {
		return sub, wrap(op, err)
	}
	return sub, nil
}
