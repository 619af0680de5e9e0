package store

import (
	"context"
	"fmt"
	"time"
)

// EventSandboxExpiry is the audit event of a sandbox expiry change, so a
// shortened subscription is never mistaken for a lost one.
const EventSandboxExpiry = "sandbox_expiry"

// SetSandboxExpiry sets a live subscription's expiry to at, earlier or
// later, for the sandbox's "expire in N minutes". Nothing else moves an
// expiry back: it is not for production paths. A user without a live
// ('trial' or 'active') subscription gets ErrNotFound. Setting the same
// instant twice is a no-op in effect, so a retried activity is safe.
func (s *Store) SetSandboxExpiry(ctx context.Context, userID int64, at time.Time) (Subscription, error) {
	op := fmt.Sprintf("set sandbox expiry of user %d to %s", userID, at.UTC().Format(time.RFC3339))
	if at.IsZero() {
		return Subscription{}, fmt.Errorf("%s: %w: no expiry given", op, ErrInvalid)
	}
	sub, err := collectOne[Subscription](s.pool.Query(ctx, qSetSandboxExpiry, userID, at, EventSandboxExpiry))
	return sub, wrap(op, err)
}

// qSetSandboxExpiry is one statement: the update and its audit row commit
// together or not at all.
const qSetSandboxExpiry = `WITH sub AS (
		UPDATE subscriptions SET expires_at = $2, updated_at = now()
		WHERE user_id = $1 AND status IN ('trial', 'active')
		RETURNING ` + subscriptionColumns + `
	), audit AS (
		INSERT INTO audit_log (user_id, event, details)
		SELECT user_id, $3, jsonb_build_object('expires_at', expires_at) FROM sub
	)
	SELECT ` + subscriptionColumns + ` FROM sub`
