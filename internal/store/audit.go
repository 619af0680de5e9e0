package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Audit events the store writes itself. Callers add their own (key added to
// or removed from Xray, reminders) through AppendAudit.
const (
	EventSubscriptionCreated  = "subscription_created"
	EventSubscriptionExtended = "subscription_extended"
	EventTrialStarted         = "trial_started"
	EventTimeGranted          = "time_granted"
	EventExpired              = "expired"
	EventStatusSet            = "status_set"
	EventReissueStarted       = "reissue_started"
	EventKeyReissued          = "key_reissued"
	EventReissueAborted       = "reissue_aborted"
	EventPurchaseRefunded     = "purchase_refunded"
	EventReferralBonus        = "referral_bonus"
	EventReferralReversed     = "referral_reversed"
	EventPromoRedeemed        = "promo_redeemed"
)

// AppendAudit records a lifecycle event for a user (0 for events about no
// particular user). details is stored as JSON; never put a VLESS UUID in it.
func (s *Store) AppendAudit(ctx context.Context, userID int64, event string, details any) error {
	op := fmt.Sprintf("append audit %q for user %d", event, userID)
	if event == "" {
		return fmt.Errorf("%s: %w: empty event", op, ErrInvalid)
	}
	raw, err := auditJSON(details)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	_, err = s.pool.Exec(ctx, qAppendAudit, nullID(userID), event, raw)
	return wrap(op, err)
}

const qAppendAudit = `INSERT INTO audit_log (user_id, event, details) VALUES ($1, $2, $3::jsonb)`

func appendAudit(ctx context.Context, tx pgx.Tx, userID int64, event string, details any) error {
	raw, err := auditJSON(details)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, qAppendAudit, nullID(userID), event, raw); err != nil {
		return fmt.Errorf("audit %s: %w", event, err)
	}
	return nil
}

func auditJSON(details any) (string, error) {
	if details == nil {
		return "{}", nil
	}
	b, err := json.Marshal(details)
	if err != nil {
		return "", fmt.Errorf("encode audit details: %w", err)
	}
	return string(b), nil
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}
