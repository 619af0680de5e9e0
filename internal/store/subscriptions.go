package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"vpnflow/internal/shop"
)

// Subscription is a user's VPN access: one VLESS identity on one node.
//
// VLESSUUID (and PendingUUID) are bearer secrets — whoever has one has the
// VPN — and so is URLToken, which reads them. String, GoString and
// LogValue leave them out; never log them another way.
type Subscription struct {
	UserID      int64      `db:"user_id"`
	NodeID      int16      `db:"node_id"`
	VLESSUUID   uuid.UUID  `db:"vless_uuid"`
	PendingUUID *uuid.UUID `db:"pending_uuid"` // set while a reissue is in progress
	XrayEmail   string     `db:"xray_email"`   // the user's name in Xray
	Status      string     `db:"status"`       // shop.StatusTrial, StatusActive, StatusExpired or StatusBanned
	ExpiresAt   time.Time  `db:"expires_at"`
	AutoRenew   bool       `db:"auto_renew"`
	IsTrial     bool       `db:"is_trial"`
	PlanID      string     `db:"plan_id"`
	TrafficUp   int64      `db:"traffic_up"`
	TrafficDown int64      `db:"traffic_down"`
	URLToken    string     `db:"url_token"` // the secret of the subscription URL (feed.go)
	CreatedAt   time.Time  `db:"created_at"`
	UpdatedAt   time.Time  `db:"updated_at"`
}

const subscriptionColumns = `user_id, node_id, vless_uuid, pending_uuid, xray_email, status, expires_at,
	auto_renew, is_trial, plan_id, traffic_up, traffic_down, url_token, created_at, updated_at`

// Live reports whether the status is one whose key belongs in Xray.
func (s Subscription) Live() bool {
	return s.Status == shop.StatusTrial || s.Status == shop.StatusActive
}

// LiveAt reports whether the key belongs in Xray at now: a live status and
// an expiry still ahead. A live row past its expiry is a missed expiry, and
// its key must not be served.
func (s Subscription) LiveAt(now time.Time) bool {
	return s.Live() && s.ExpiresAt.After(now)
}

// String describes the subscription without its keys.
func (s Subscription) String() string {
	return fmt.Sprintf("subscription{user=%d email=%s status=%s expires=%s node=%d}",
		s.UserID, s.XrayEmail, s.Status, s.ExpiresAt.UTC().Format(time.RFC3339), s.NodeID)
}

// GoString keeps %#v from printing the keys too.
func (s Subscription) GoString() string { return s.String() }

// LogValue describes the subscription to slog without its keys.
func (s Subscription) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Int64("user_id", s.UserID),
		slog.String("email", s.XrayEmail),
		slog.String("status", s.Status),
		slog.Time("expires_at", s.ExpiresAt),
		slog.Bool("reissue_pending", s.PendingUUID != nil),
	)
}

// XrayEmail is the name a user's key has in Xray.
func XrayEmail(telegramID int64, domain string) string {
	return fmt.Sprintf("tg%d@%s", telegramID, domain)
}

// GetSubscription returns the user's subscription or ErrNotFound.
func (s *Store) GetSubscription(ctx context.Context, userID int64) (Subscription, error) {
	sub, err := collectOne[Subscription](s.pool.Query(ctx, qGetSubscription, userID))
	return sub, wrap(fmt.Sprintf("get subscription of user %d", userID), err)
}

const (
	qGetSubscription    = `SELECT ` + subscriptionColumns + ` FROM subscriptions WHERE user_id = $1`
	qLockSubscription   = qGetSubscription + ` FOR UPDATE`
	qInsertSubscription = `INSERT INTO subscriptions (user_id, node_id, vless_uuid, xray_email, status, expires_at, is_trial, plan_id, url_token)
		VALUES ($1, $2, gen_random_uuid(), $3, $4, $5, $6, $7, $8)
		ON CONFLICT (user_id) DO NOTHING
		RETURNING ` + subscriptionColumns
	qExtendSubscription = `UPDATE subscriptions SET
			expires_at = greatest($2::timestamptz, expires_at) + $3::interval,
			status = CASE WHEN status = 'banned' OR $4 THEN 'banned' ELSE 'active' END,
			is_trial = false,
			plan_id = CASE WHEN $5 = '' THEN plan_id ELSE $5 END,
			updated_at = now()
		WHERE user_id = $1
		RETURNING ` + subscriptionColumns
)

// extension is paid or granted time added to a subscription.
type extension struct {
	userID      int64
	emailDomain string
	now         time.Time
	by          time.Duration
	planID      string // "" keeps the current plan
}

// extended is what extendSubscription did.
type extended struct {
	sub            Subscription
	created        bool
	previousStatus string // "" when created
}

// extendSubscription adds e.by to the user's subscription, counting from
// now or from the current expiry, whichever is later, and makes it active
// (banned stays banned). A user without one gets a fresh key on the node
// placement chooses (placeNode), which never refuses paid time for want
// of room.
func extendSubscription(ctx context.Context, tx pgx.Tx, e extension) (extended, error) {
	var banned bool
	if err := tx.QueryRow(ctx, `SELECT banned FROM users WHERE telegram_id = $1`, e.userID).Scan(&banned); err != nil {
		return extended{}, fmt.Errorf("read user: %w", err)
	}
	status := shop.StatusActive
	if banned {
		status = shop.StatusBanned
	}
	prev, err := collectOne[Subscription](tx.Query(ctx, qLockSubscription, e.userID))
	if errors.Is(err, ErrNotFound) {
		if e.emailDomain == "" {
			return extended{}, fmt.Errorf("%w: an email domain is needed to create a subscription", ErrInvalid)
		}
		nodeID, err := placeNode(ctx, tx, e.userID, true)
		if err != nil {
			return extended{}, fmt.Errorf("place subscription: %w", err)
		}
		sub, err := collectOne[Subscription](tx.Query(ctx, qInsertSubscription,
			e.userID, nodeID, XrayEmail(e.userID, e.emailDomain), status, e.now.Add(e.by), false, e.planID, NewURLToken()))
		if err == nil {
			return extended{sub: sub, created: true}, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return extended{}, fmt.Errorf("create subscription: %w", err)
		}
		// Created by a concurrent transaction since we looked; extend it.
		if prev, err = collectOne[Subscription](tx.Query(ctx, qLockSubscription, e.userID)); err != nil {
			return extended{}, fmt.Errorf("lock subscription: %w", err)
		}
	} else if err != nil {
		return extended{}, fmt.Errorf("lock subscription: %w", err)
	}
	if !prev.LiveAt(e.now) {
		if err := leaveClosedNode(ctx, tx, prev); err != nil {
			return extended{}, err
		}
	}
	sub, err := collectOne[Subscription](tx.Query(ctx, qExtendSubscription, e.userID, e.now, e.by, banned, e.planID))
	if err != nil {
		return extended{}, fmt.Errorf("extend subscription: %w", err)
	}
	return extended{sub: sub, previousStatus: prev.Status}, nil
}

// leaveClosedNode re-places a row that is not live and names a node that
// takes no users (failed over, drained or disabled): an evacuation moves
// the live users only, so without this a renewal would put its key back
// on that node. With no enabled node anywhere the row stays where it is,
// and the renewal is credited all the same.
func leaveClosedNode(ctx context.Context, tx pgx.Tx, prev Subscription) error {
	var state string
	if err := tx.QueryRow(ctx, `SELECT state FROM nodes WHERE id = $1`, prev.NodeID).Scan(&state); err != nil {
		return fmt.Errorf("read node of the subscription: %w", err)
	}
	if state == NodeEnabled {
		return nil
	}
	n, region, err := chooseNode(ctx, tx, prev.UserID, true, prev.NodeID)
	if errors.Is(err, ErrNoNode) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("re-place subscription: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE subscriptions SET node_id = $2, updated_at = now() WHERE user_id = $1`, prev.UserID, n.ID); err != nil {
		return fmt.Errorf("re-place subscription: %w", err)
	}
	details := map[string]any{"renewal": true, "from": prev.NodeID, "to": n.ID, "from_state": state, "users": n.Users, "capacity": n.Capacity}
	if region != "" {
		details["region"], details["in_region"] = region, n.Region == region
	}
	return appendAudit(ctx, tx, prev.UserID, EventNodeMoved, details)
}

// ExpireSubscription marks a live subscription expired if its time is up
// at the moment at: the caller's clock decides, not the database's, so a
// worker and a database whose clocks disagree never leave a row live whose
// key the worker has removed. A zero at means the database's now(). It
// reports whether it expired the row: false means a renewal moved the
// expiry (or it was not live), so the key must stay.
func (s *Store) ExpireSubscription(ctx context.Context, userID int64, at time.Time) (bool, error) {
	return s.expire(ctx, userID, at, false)
}

// ExpireAndTell is ExpireSubscription that also writes the user's
// "subscription expired" notice to the outbox, in the same transaction,
// when it expires the row: the notice exists exactly when the expiry does.
func (s *Store) ExpireAndTell(ctx context.Context, userID int64, at time.Time) (bool, error) {
	return s.expire(ctx, userID, at, true)
}

func (s *Store) expire(ctx context.Context, userID int64, at time.Time, tell bool) (bool, error) {
	var changed bool
	var atArg *time.Time
	if !at.IsZero() {
		atArg = &at
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		changed = false
		var expiresAt time.Time
		var planID string
		err := tx.QueryRow(ctx, `UPDATE subscriptions SET status = 'expired', updated_at = now()
			WHERE user_id = $1 AND status IN ('trial', 'active') AND expires_at <= coalesce($2::timestamptz, now())
			RETURNING expires_at, plan_id`, userID, atArg).Scan(&expiresAt, &planID)
		if errors.Is(err, pgx.ErrNoRows) {
			return subscriptionExists(ctx, tx, userID)
		}
		if err != nil {
			return err
		}
		changed = true
		if tell {
			if _, err := enqueueExpiry(ctx, tx, userID, planID, expiresAt); err != nil {
				return err
			}
		}
		return appendAudit(ctx, tx, userID, EventExpired, map[string]any{"expires_at": expiresAt})
	})
	return changed, wrap(fmt.Sprintf("expire subscription of user %d", userID), err)
}

// SetSubscriptionStatus sets the status directly (admin action). It reports
// whether the status changed.
func (s *Store) SetSubscriptionStatus(ctx context.Context, userID int64, status string) (bool, error) {
	op := fmt.Sprintf("set subscription status of user %d to %q", userID, status)
	switch status {
	case shop.StatusTrial, shop.StatusActive, shop.StatusExpired, shop.StatusBanned:
	default:
		return false, fmt.Errorf("%s: %w: unknown status", op, ErrInvalid)
	}
	var changed bool
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var prev string
		err := tx.QueryRow(ctx, `SELECT status FROM subscriptions WHERE user_id = $1 FOR UPDATE`, userID).Scan(&prev)
		if err != nil {
			return err
		}
		if prev == status {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE subscriptions SET status = $2, updated_at = now() WHERE user_id = $1`, userID, status); err != nil {
			return err
		}
		changed = true
		return appendAudit(ctx, tx, userID, EventStatusSet, map[string]any{"from": prev, "to": status})
	})
	return changed, wrap(op, err)
}

// SetAutoRenew turns renewal from the balance on or off.
func (s *Store) SetAutoRenew(ctx context.Context, userID int64, on bool) error {
	tag, err := s.pool.Exec(ctx, `UPDATE subscriptions SET auto_renew = $2, updated_at = now() WHERE user_id = $1`, userID, on)
	if err == nil && tag.RowsAffected() == 0 {
		err = ErrNotFound
	}
	return wrap(fmt.Sprintf("set auto-renew of user %d", userID), err)
}

// LiveKey is a key that should be in Xray, for reconciliation. Its UUIDs
// are secrets: String, GoString and LogValue leave them out and JSON drops
// them.
type LiveKey struct {
	UserID      int64      `db:"user_id"`
	NodeID      int16      `db:"node_id"`
	XrayEmail   string     `db:"xray_email"`
	VLESSUUID   uuid.UUID  `db:"vless_uuid" json:"-"`   // secret: never log
	PendingUUID *uuid.UUID `db:"pending_uuid" json:"-"` // a reissue in progress may have put this one in Xray already
	Status      string     `db:"status"`
	ExpiresAt   time.Time  `db:"expires_at"`
}

// String describes the key without the keys.
func (k LiveKey) String() string {
	return fmt.Sprintf("live key{user=%d email=%s status=%s expires=%s node=%d}",
		k.UserID, k.XrayEmail, k.Status, k.ExpiresAt.UTC().Format(time.RFC3339), k.NodeID)
}

// GoString keeps %#v from printing the keys too.
func (k LiveKey) GoString() string { return k.String() }

// LogValue describes the key to slog without the keys.
func (k LiveKey) LogValue() slog.Value {
	return slog.GroupValue(slog.Int64("user_id", k.UserID), slog.String("email", k.XrayEmail),
		slog.String("status", k.Status), slog.Time("expires_at", k.ExpiresAt))
}

// MaxPage bounds a page of keyset pagination.
const MaxPage = 10000

// ActiveSubscriptions returns up to limit keys live at now — 'trial' or
// 'active' and expiring after now — with user_id > afterUserID, in user_id
// order. A live row whose expiry has passed is not among them: its timer
// was missed, and its key must leave Xray, not be put back. now is the
// caller's clock (a workflow's), not the database's. Pass the last UserID
// of a page to get the next; an empty page is the end. Each page is its
// own short query, so a long reconciliation never holds a connection.
func (s *Store) ActiveSubscriptions(ctx context.Context, now time.Time, afterUserID int64, limit int) ([]LiveKey, error) {
	op := fmt.Sprintf("list live keys after user %d", afterUserID)
	if err := checkKeyPage(op, now, limit); err != nil {
		return nil, err
	}
	keys, err := collectAll[LiveKey](s.pool.Query(ctx, liveKeyColumns+`
		WHERE status IN ('trial', 'active') AND expires_at > $3 AND user_id > $1
		ORDER BY user_id LIMIT $2`, afterUserID, limit, now))
	return keys, wrap(op, err)
}

// AddTraffic adds bytes Xray counted for a key (by its email). It is a
// counter: callers read Xray's stats with reset and must add each reading
// once.
func (s *Store) AddTraffic(ctx context.Context, email string, up, down int64) error {
	op := fmt.Sprintf("add traffic of %s", email)
	if up < 0 || down < 0 {
		return fmt.Errorf("%s: %w: negative traffic %d/%d", op, ErrInvalid, up, down)
	}
	if up == 0 && down == 0 {
		return nil
	}
	tag, err := s.pool.Exec(ctx, `UPDATE subscriptions SET traffic_up = traffic_up + $2, traffic_down = traffic_down + $3
		WHERE xray_email = $1`, email, up, down)
	if err == nil && tag.RowsAffected() == 0 {
		err = ErrNotFound
	}
	return wrap(op, err)
}

func subscriptionExists(ctx context.Context, tx pgx.Tx, userID int64) error {
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM subscriptions WHERE user_id = $1)`, userID).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		return ErrNotFound
	}
	return nil
}
