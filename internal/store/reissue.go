package store

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"vpnflow/internal/shop"
)

// Reissuing a key (the user suspects it leaked) spans Xray calls, so it is
// three short transactions around them: Begin stores the new key as
// pending, the caller swaps the key in Xray, Commit makes it the key (or
// Abort drops it). Each step is idempotent.

// BeginReissue returns the key that will replace the user's current one,
// creating it unless a reissue is already pending (then it returns that
// one, so a retry does not mint a second key).
func (s *Store) BeginReissue(ctx context.Context, userID int64) (uuid.UUID, error) {
	var pending uuid.UUID
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var (
			cur    *uuid.UUID
			status string
		)
		if err := tx.QueryRow(ctx, `SELECT pending_uuid, status FROM subscriptions WHERE user_id = $1 FOR UPDATE`,
			userID).Scan(&cur, &status); err != nil {
			return err
		}
		if cur != nil {
			pending = *cur
			return nil
		}
		if status == shop.StatusBanned {
			return ErrBanned
		}
		if err := tx.QueryRow(ctx, `UPDATE subscriptions SET pending_uuid = gen_random_uuid(), updated_at = now()
			WHERE user_id = $1 RETURNING pending_uuid`, userID).Scan(&pending); err != nil {
			return err
		}
		return appendAudit(ctx, tx, userID, EventReissueStarted, nil)
	})
	return pending, wrap(fmt.Sprintf("begin key reissue for user %d", userID), err)
}

// CommitReissue makes the pending key newUUID the user's key, with a new
// subscription URL token (as CommitReissueAs), and returns the key it
// replaced. Repeating it returns the same old key; a newUUID that is
// neither pending nor just committed is ErrNoReissue.
func (s *Store) CommitReissue(ctx context.Context, userID int64, newUUID uuid.UUID) (uuid.UUID, error) {
	var old uuid.UUID
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var (
			cur           uuid.UUID
			pending, prev *uuid.UUID
		)
		if err := tx.QueryRow(ctx, `SELECT vless_uuid, pending_uuid, previous_uuid FROM subscriptions WHERE user_id = $1 FOR UPDATE`,
			userID).Scan(&cur, &pending, &prev); err != nil {
			return err
		}
		switch {
		case pending != nil && *pending == newUUID:
		case pending == nil && cur == newUUID && prev != nil:
			old = *prev // committed already
			return nil
		default:
			return ErrNoReissue
		}
		if _, err := tx.Exec(ctx, `UPDATE subscriptions SET previous_uuid = vless_uuid, vless_uuid = pending_uuid,
				pending_uuid = NULL, url_token = $2, updated_at = now()
			WHERE user_id = $1`, userID, NewURLToken()); err != nil {
			return err
		}
		old = cur
		return appendAudit(ctx, tx, userID, EventKeyReissued, nil)
	})
	return old, wrap(fmt.Sprintf("commit key reissue for user %d", userID), err)
}

// AbortReissue drops a pending key; the current key stays. Idempotent.
func (s *Store) AbortReissue(ctx context.Context, userID int64) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE subscriptions SET pending_uuid = NULL, updated_at = now()
			WHERE user_id = $1 AND pending_uuid IS NOT NULL`, userID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return subscriptionExists(ctx, tx, userID)
		}
		return appendAudit(ctx, tx, userID, EventReissueAborted, nil)
	})
	return wrap(fmt.Sprintf("abort key reissue for user %d", userID), err)
}
