package store

import (
	"context"
	"fmt"
	"time"
)

// Overdue is a live ('trial' or 'active') subscription whose expiry has
// passed: the timer of its Subscription workflow was missed (the workflow
// was terminated, reset or never started, or the row was changed behind
// its back). It carries no key.
type Overdue struct {
	UserID    int64     `db:"user_id"`
	Status    string    `db:"status"`
	ExpiresAt time.Time `db:"expires_at"`
	PlanID    string    `db:"plan_id"`
}

// OverdueSubscriptions returns up to limit live subscriptions that expired
// before before, with user_id > afterUserID, in user_id order. before is
// the caller's clock (a workflow's) minus whatever grace lets normal
// expiry timers go first; the database's clock plays no part. Pass the
// last UserID of a page to get the next; a short page is the end.
func (s *Store) OverdueSubscriptions(ctx context.Context, before time.Time, afterUserID int64, limit int) ([]Overdue, error) {
	op := fmt.Sprintf("list overdue subscriptions after user %d", afterUserID)
	if limit <= 0 || limit > MaxPage {
		return nil, fmt.Errorf("%s: %w: limit must be 1-%d, got %d", op, ErrInvalid, MaxPage, limit)
	}
	if before.IsZero() {
		return nil, fmt.Errorf("%s: %w: no time given", op, ErrInvalid)
	}
	rows, err := collectAll[Overdue](s.pool.Query(ctx, `SELECT user_id, status, expires_at, plan_id
		FROM subscriptions
		WHERE status IN ('trial', 'active') AND expires_at < $2 AND user_id > $1
		ORDER BY user_id LIMIT $3`, afterUserID, before, limit))
	return rows, wrap(op, err)
}
