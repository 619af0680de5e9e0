package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
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

// NextExpiryStorm is the first second after `after` and up to `until` in
// which at least atLeast live rows expire, given as the last expiry in it:
// the moment by which that second's rows are all past. ok is false when no
// second in the window holds that many. A lone expiry is its own
// workflow's; a second this crowded is more than the workflows expire
// promptly, so the revocation sweep wakes for it. One range read on the
// live rows' expiry index, grouped by second.
func (s *Store) NextExpiryStorm(ctx context.Context, after, until time.Time, atLeast int) (at time.Time, ok bool, err error) {
	op := "find the next expiry storm"
	if after.IsZero() || !until.After(after) || atLeast < 1 {
		return time.Time{}, false, fmt.Errorf("%s: %w: window %s-%s, at least %d", op, ErrInvalid, after, until, atLeast)
	}
	err = s.pool.QueryRow(ctx, `SELECT max(expires_at) FROM subscriptions
		WHERE status IN ('trial', 'active') AND expires_at > $1 AND expires_at <= $2
		GROUP BY date_trunc('second', expires_at)
		HAVING count(*) >= $3
		ORDER BY date_trunc('second', expires_at) LIMIT 1`, after, until, atLeast).Scan(&at)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, wrap(op, err)
	}
	return at, true, nil
}
