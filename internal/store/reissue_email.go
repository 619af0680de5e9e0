package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ReissuePlan is a started reissue as the workflow sees it: names only, no
// keys. The new key is added to Xray under NewEmail while OldEmail still
// serves the old one.
type ReissuePlan struct {
	OldEmail string
	NewEmail string
}

// PendingKey returns the pending key of a reissue in progress, for the
// activity that adds it to Xray. ErrNoReissue if none is pending.
func (s *Store) PendingKey(ctx context.Context, userID int64) (string, error) {
	var pending *string
	err := s.pool.QueryRow(ctx, `SELECT pending_uuid::text FROM subscriptions WHERE user_id = $1`, userID).Scan(&pending)
	if err == nil && pending == nil {
		err = ErrNoReissue
	}
	if err != nil {
		return "", wrap(fmt.Sprintf("pending key of user %d", userID), err)
	}
	return *pending, nil
}

// CommitReissueAs makes the pending key the user's key, registered in Xray
// under newEmail, and gives the subscription URL a new token. Repeating it
// after it succeeded is a no-op.
func (s *Store) CommitReissueAs(ctx context.Context, userID int64, newEmail string) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var (
			email   string
			pending *string
		)
		if err := tx.QueryRow(ctx, `SELECT xray_email, pending_uuid::text FROM subscriptions WHERE user_id = $1 FOR UPDATE`,
			userID).Scan(&email, &pending); err != nil {
			return err
		}
		if pending == nil {
			if email == newEmail {
				return nil // committed already
			}
			return ErrNoReissue
		}
		// The subscription URL served the old key: it changes with the key,
		// in the same transaction, so the old URL never serves the new one.
		if _, err := tx.Exec(ctx, `UPDATE subscriptions SET previous_uuid = vless_uuid, vless_uuid = pending_uuid,
				pending_uuid = NULL, xray_email = $2, url_token = $3, updated_at = now()
			WHERE user_id = $1`, userID, newEmail, NewURLToken()); err != nil {
			return err
		}
		return appendAudit(ctx, tx, userID, EventKeyReissued, map[string]string{"old_email": email, "new_email": newEmail})
	})
	return wrap(fmt.Sprintf("commit key reissue for user %d", userID), err)
}
