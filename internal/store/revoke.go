package store

import (
	"context"
	"fmt"
	"time"
)

// ExpiredKeys lists, by user id after afterUserID, the keys that must be
// out of Xray at now although their Subscription workflows may not have
// taken them out yet: rows still marked live whose expiry is at or before
// now (the workflow has not got to them), and rows expired since `since`
// (the workflow has expired the row and its Xray call is still queued).
// Older expired rows are reconciliation's. now is the caller's clock (a
// workflow's). Each page is one short query.
func (s *Store) ExpiredKeys(ctx context.Context, now, since time.Time, afterUserID int64, limit int) ([]LiveKey, error) {
	op := fmt.Sprintf("list expired keys after user %d", afterUserID)
	if err := checkKeyPage(op, now, limit); err != nil {
		return nil, err
	}
	keys, err := collectAll[LiveKey](s.pool.Query(ctx, liveKeyColumns+`
		WHERE expires_at <= $3 AND user_id > $1
		  AND (status IN ('trial', 'active') OR (status = 'expired' AND expires_at > $4))
		ORDER BY user_id LIMIT $2`, afterUserID, limit, now, since))
	return keys, wrap(op, err)
}

// LiveKeysAmong returns the keys, among userIDs, whose rows are live at
// now: one statement for a whole page, so a sweep that removed a page of
// keys can find, and put back, those renewed while it worked.
func (s *Store) LiveKeysAmong(ctx context.Context, now time.Time, userIDs []int64) ([]LiveKey, error) {
	op := fmt.Sprintf("read which of %d keys are live", len(userIDs))
	if len(userIDs) > MaxPage {
		return nil, fmt.Errorf("%s: %w: at most %d users, got %d", op, ErrInvalid, MaxPage, len(userIDs))
	}
	if now.IsZero() {
		return nil, fmt.Errorf("%s: %w: no time given", op, ErrInvalid)
	}
	if len(userIDs) == 0 {
		return nil, nil
	}
	keys, err := collectAll[LiveKey](s.pool.Query(ctx, liveKeyColumns+`
		WHERE status IN ('trial', 'active') AND expires_at > $2 AND user_id = ANY($1)
		ORDER BY user_id`, userIDs, now))
	return keys, wrap(op, err)
}

// liveKeyColumns selects a LiveKey from subscriptions.
const liveKeyColumns = `SELECT user_id, node_id, xray_email, vless_uuid, pending_uuid, status, expires_at
		FROM subscriptions`

// checkKeyPage validates a keyset page's time and size.
func checkKeyPage(op string, now time.Time, limit int) error {
	if limit <= 0 || limit > MaxPage {
		return fmt.Errorf("%s: %w: limit must be 1-%d, got %d", op, ErrInvalid, MaxPage, limit)
	}
	if now.IsZero() {
		return fmt.Errorf("%s: %w: no time given", op, ErrInvalid)
	}
	return nil
}
