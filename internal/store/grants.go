package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// GrantParams is time given without payment: an admin gift, promo days, or
// (negative) time taken back after a refund.
type GrantParams struct {
	UserID   int64
	Duration time.Duration // negative shortens the subscription
	// Kind and Reference identify the grant: the same (user, kind,
	// reference) is applied once however often it is retried, e.g.
	// (shop.GrantPromo, code) or (shop.GrantAdmin, "<admin id>:<update id>").
	Kind      string
	Reference string
	// EmailDomain is used when the grant creates the user's first
	// subscription (placed on a node then: placement.go).
	EmailDomain string
}

// GrantResult is the subscription after a grant. As with CreditResult, the
// caller makes sure the key is in Xray whenever SubscriptionStatus is live.
type GrantResult struct {
	AlreadyGranted      bool
	ExpiresAt           time.Time
	SubscriptionStatus  string
	PreviousStatus      string // "" if the grant created the subscription or AlreadyGranted
	SubscriptionCreated bool
	XrayEmail           string
}

// GrantTime adds Duration to the user's subscription, once per (user, kind,
// reference). Positive time counts from now or the current expiry,
// whichever is later, and makes the subscription active (banned stays
// banned); it creates one if needed. Negative time moves the expiry back
// and leaves the status to the expiry workflow.
func (s *Store) GrantTime(ctx context.Context, g GrantParams) (GrantResult, error) {
	op := fmt.Sprintf("grant %s to user %d (%s %s)", g.Duration, g.UserID, g.Kind, g.Reference)
	if g.Duration == 0 || g.Reference == "" || g.Kind == "" {
		return GrantResult{}, fmt.Errorf("%s: %w: duration, kind and reference are required", op, ErrInvalid)
	}
	var res GrantResult
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var now time.Time
		err := tx.QueryRow(ctx, `INSERT INTO grants (user_id, kind, reference, duration) VALUES ($1, $2, $3, $4)
			ON CONFLICT (user_id, kind, reference) DO NOTHING RETURNING created_at`,
			g.UserID, g.Kind, g.Reference, g.Duration).Scan(&now)
		if errors.Is(err, pgx.ErrNoRows) {
			res.AlreadyGranted = true
			sub, err := collectOne[Subscription](tx.Query(ctx, qGetSubscription, g.UserID))
			if err == nil {
				res.ExpiresAt, res.SubscriptionStatus, res.XrayEmail = sub.ExpiresAt, sub.Status, sub.XrayEmail
			} else if !errors.Is(err, ErrNotFound) {
				return err
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("record grant: %w", err)
		}
		var sub Subscription
		if g.Duration > 0 {
			ext, err := extendSubscription(ctx, tx, extension{
				userID: g.UserID, emailDomain: g.EmailDomain, now: now, by: g.Duration,
			})
			if err != nil {
				return err
			}
			sub, res.PreviousStatus, res.SubscriptionCreated = ext.sub, ext.previousStatus, ext.created
		} else {
			if res.PreviousStatus, err = lockedStatus(ctx, tx, g.UserID); err != nil {
				return err
			}
			sub, err = collectOne[Subscription](tx.Query(ctx, `UPDATE subscriptions SET expires_at = expires_at + $2::interval, updated_at = now()
				WHERE user_id = $1 RETURNING `+subscriptionColumns, g.UserID, g.Duration))
			if err != nil {
				return fmt.Errorf("shorten subscription: %w", err)
			}
		}
		res.ExpiresAt, res.SubscriptionStatus, res.XrayEmail = sub.ExpiresAt, sub.Status, sub.XrayEmail
		return appendAudit(ctx, tx, g.UserID, EventTimeGranted, map[string]any{
			"kind": g.Kind, "reference": g.Reference, "seconds": int64(g.Duration / time.Second),
			"expires_at": sub.ExpiresAt, "created": res.SubscriptionCreated,
		})
	})
	if err != nil {
		return GrantResult{}, wrap(op, err)
	}
	return res, nil
}

func lockedStatus(ctx context.Context, tx pgx.Tx, userID int64) (string, error) {
	var status string
	err := tx.QueryRow(ctx, `SELECT status FROM subscriptions WHERE user_id = $1 FOR UPDATE`, userID).Scan(&status)
	return status, err
}
