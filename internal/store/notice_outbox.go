package store

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"vpnflow/internal/notice"
)

// OutboxNotice is a claimed notice of the outbox (notice_outbox): the
// drain sends it, then reports it sent or dropped.
type OutboxNotice struct {
	ID       int64         `db:"id"`
	UserID   int64         `db:"user_id"`
	Language string        `db:"language"` // the user's, read in the claim
	Notice   notice.Notice `db:"notice"`
	Attempts int           `db:"attempts"`
}

// Claimed is one claim of the outbox: the notices to send, and how many
// the claim dropped because a renewal had made them moot. A claim given a
// reminder sweep also reports how many reminders it wrote and up to when
// it swept: the next claim's sweep starts there.
type Claimed struct {
	Notices  []OutboxNotice
	Moot     int
	Reminded int       `json:",omitempty"`
	SweptTo  time.Time `json:",omitzero"`
	// SweepFailed says why the reminder sweep failed (the claim went on
	// without it, and SweptTo is zero).
	SweepFailed string `json:",omitempty"`
}

// NoticeKept is how long sent and dropped notices stay for the dedup. A
// fact is written by the user's workflow and by the revocation sweep
// within minutes of each other; a week is far beyond that.
const NoticeKept = 7 * 24 * time.Hour

// Why a notice was dropped instead of sent.
const (
	DroppedMoot   = "moot: the subscription was renewed before it was sent"
	DroppedGaveUp = "gave up: every attempt failed"
)

// expiryDedup names the fact "userID's period ending at expiresAt ended":
// the sweep and the user's workflow both write it, once.
func expiryDedup(userID int64, expiresAt time.Time) string {
	return fmt.Sprintf("expired:%d:%d", userID, expiresAt.UnixMicro())
}

// enqueueExpiry writes the expiry notice of the period ending at
// expiresAt, within tx, unless it is already there; it reports whether it
// wrote it.
func enqueueExpiry(ctx context.Context, tx pgx.Tx, userID int64, planID string, expiresAt time.Time) (bool, error) {
	raw, err := json.Marshal(notice.Expired(planID))
	if err != nil {
		return false, fmt.Errorf("encode expiry notice: %w", err)
	}
	tag, err := tx.Exec(ctx, `INSERT INTO notice_outbox (user_id, dedup, notice, while_expires)
		VALUES ($1, $2, $3, $4) ON CONFLICT (dedup) DO NOTHING`,
		userID, expiryDedup(userID, expiresAt), raw, expiresAt)
	if err != nil {
		return false, fmt.Errorf("enqueue expiry notice: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// reminderDedup names the fact "userID is due the reminder lead before
// their period ending at expiresAt": written once, also when the user's
// workflow writes it again after a retry or a continue-as-new.
func reminderDedup(userID int64, expiresAt time.Time, lead time.Duration) string {
	return fmt.Sprintf("reminder:%d:%d:%d", userID, expiresAt.UnixMicro(), int64(lead/time.Second))
}

// EnqueueReminder writes the reminder n, the stage lead before the period
// ending at n.Expires, unless it is already there. It is moot, and
// dropped unsent, once the period has been renewed (ClaimNotices), as
// "renew soon" would be after a renewal.
func (s *Store) EnqueueReminder(ctx context.Context, userID int64, lead time.Duration, n notice.Notice) error {
	op := fmt.Sprintf("enqueue the %s reminder of user %d", lead, userID)
	if userID <= 0 || lead <= 0 || n.Expires.IsZero() || n.Message == "" {
		return fmt.Errorf("%s: %w: a user, a stage, the period's end and a message are needed", op, ErrInvalid)
	}
	raw, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("%s: encode: %w", op, err)
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO notice_outbox (user_id, dedup, notice, while_expires)
		VALUES ($1, $2, $3, $4) ON CONFLICT (dedup) DO NOTHING`,
		userID, reminderDedup(userID, n.Expires, lead), raw, n.Expires)
	return wrap(op, err)
}

// EnqueueExpiryNotices writes the expiry notice of each user among
// userIDs whose row is still marked live but expired at now: the
// revocation sweep took their keys ahead of their workflows, and they are
// told at Telegram's pace instead of their workflows' (one statement to
// read, one insert per row, in one transaction). It returns how many it
// wrote; notices already written are left alone.
func (s *Store) EnqueueExpiryNotices(ctx context.Context, now time.Time, userIDs []int64) (int, error) {
	op := fmt.Sprintf("enqueue expiry notices of %d users", len(userIDs))
	if len(userIDs) > MaxPage {
		return 0, fmt.Errorf("%s: %w: at most %d users", op, ErrInvalid, MaxPage)
	}
	if now.IsZero() {
		return 0, fmt.Errorf("%s: %w: no time given", op, ErrInvalid)
	}
	if len(userIDs) == 0 {
		return 0, nil
	}
	written := 0
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		written = 0
		rows, err := tx.Query(ctx, `SELECT user_id, plan_id, expires_at FROM subscriptions
			WHERE user_id = ANY($1) AND status IN ('trial', 'active') AND expires_at <= $2
			ORDER BY user_id`, userIDs, now)
		if err != nil {
			return err
		}
		type due struct {
			UserID    int64     `db:"user_id"`
			PlanID    string    `db:"plan_id"`
			ExpiresAt time.Time `db:"expires_at"`
		}
		list, err := pgx.CollectRows(rows, pgx.RowToStructByName[due])
		if err != nil {
			return err
		}
		for _, d := range list {
			wrote, err := enqueueExpiry(ctx, tx, d.UserID, d.PlanID, d.ExpiresAt)
			if err != nil {
				return err
			}
			if wrote {
				written++
			}
		}
		return nil
	})
	return written, wrap(op, err)
}

// ClaimNotices claims up to limit notices that are due — not sent, not
// dropped, and not held by another drain's lease — for lease, oldest
// first. In the same transaction it drops those a renewal made moot.
// Given a reminder sweep, it first writes the reminders the sweep finds
// due (enqueueDueReminders), so they are claimed at once.
func (s *Store) ClaimNotices(ctx context.Context, limit int, lease time.Duration, sweep *ReminderSweep) (Claimed, error) {
	op := "claim notices"
	if limit <= 0 || limit > MaxPage {
		return Claimed{}, fmt.Errorf("%s: %w: limit must be 1-%d, got %d", op, ErrInvalid, MaxPage, limit)
	}
	if sweep != nil {
		if err := sweep.valid(); err != nil {
			return Claimed{}, fmt.Errorf("%s: %w", op, err)
		}
	}
	var out Claimed
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		out = Claimed{}
		if sweep != nil {
			// In a savepoint: a sweep that fails must not stop the notices
			// already in the outbox. Its reminders are the workflows' to
			// write meanwhile, and the next claim sweeps the window again.
			err := pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error {
				n, err := enqueueDueReminders(ctx, sp, *sweep)
				out.Reminded = n
				return err
			})
			if err != nil {
				if ctx.Err() != nil {
					return err
				}
				out.Reminded, out.SweepFailed = 0, err.Error()
			} else {
				out.SweptTo = sweep.Now
			}
		}
		tag, err := tx.Exec(ctx, `WITH due AS (
				SELECT o.id FROM notice_outbox o
				WHERE o.sent_at IS NULL AND o.dropped IS NULL AND (o.claimed_until IS NULL OR o.claimed_until < now())
				ORDER BY o.id LIMIT $1 FOR UPDATE SKIP LOCKED)
			UPDATE notice_outbox o SET dropped = $2
			FROM due, subscriptions s
			WHERE o.id = due.id AND o.while_expires IS NOT NULL
			  AND s.user_id = o.user_id AND s.expires_at <> o.while_expires`, limit, DroppedMoot)
		if err != nil {
			return err
		}
		out.Moot = int(tag.RowsAffected())
		rows, err := tx.Query(ctx, `WITH due AS (
				SELECT o.id FROM notice_outbox o
				WHERE o.sent_at IS NULL AND o.dropped IS NULL AND (o.claimed_until IS NULL OR o.claimed_until < now())
				ORDER BY o.id LIMIT $1 FOR UPDATE SKIP LOCKED)
			UPDATE notice_outbox o SET claimed_until = now() + $2::interval, attempts = o.attempts + 1
			FROM due WHERE o.id = due.id
			RETURNING o.id, o.user_id, o.notice, o.attempts,
				coalesce((SELECT u.language FROM users u WHERE u.telegram_id = o.user_id), '`+DefaultLanguage+`') AS language`, limit, lease.String())
		if err != nil {
			return err
		}
		out.Notices, err = pgx.CollectRows(rows, pgx.RowToStructByName[OutboxNotice])
		slices.SortFunc(out.Notices, func(a, b OutboxNotice) int { return cmp.Compare(a.ID, b.ID) })
		return err
	})
	return out, wrap(op, err)
}

// NoticesDue reports whether any notice waits to be claimed, or, given a
// reminder sweep, any reminder is due to be written: the drain's idle
// poll, one index read (and one per reminder stage).
func (s *Store) NoticesDue(ctx context.Context, sweep *ReminderSweep) (bool, error) {
	op := "read whether notices are due"
	var due bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM notice_outbox
		WHERE sent_at IS NULL AND dropped IS NULL AND (claimed_until IS NULL OR claimed_until < now()))`).Scan(&due)
	if err != nil || due || sweep == nil {
		return due, wrap(op, err)
	}
	if err := sweep.valid(); err != nil {
		return false, fmt.Errorf("%s: %w", op, err)
	}
	due, err = remindersDue(ctx, s.pool, *sweep)
	return due, wrap(op, err)
}

// NoticeOutcome is what became of a batch of claimed notices.
type NoticeOutcome struct {
	Sent    []int64
	Dropped map[int64]string // id → why (Telegram refused it for good, DroppedGaveUp)
	// Retry are notices whose send failed for now; they are claimed again
	// after RetryAfter.
	Retry      []int64
	RetryAfter time.Duration
	// Released were claimed but not tried (a drain run ended with them in
	// hand): free to claim at once, the claim not counted as an attempt.
	Released []int64 `json:",omitempty"`
}

// FinishNotices records a batch's outcome in one transaction. Reporting
// the same outcome again changes nothing.
func (s *Store) FinishNotices(ctx context.Context, o NoticeOutcome) error {
	dropIDs := make([]int64, 0, len(o.Dropped))
	reasons := make([]string, 0, len(o.Dropped))
	for id, why := range o.Dropped {
		dropIDs, reasons = append(dropIDs, id), append(reasons, why)
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if len(o.Sent) > 0 {
			if _, err := tx.Exec(ctx, `UPDATE notice_outbox SET sent_at = now(), claimed_until = NULL
				WHERE id = ANY($1) AND sent_at IS NULL`, o.Sent); err != nil {
				return err
			}
		}
		if len(dropIDs) > 0 {
			if _, err := tx.Exec(ctx, `UPDATE notice_outbox o SET dropped = d.why, claimed_until = NULL
				FROM unnest($1::bigint[], $2::text[]) AS d(id, why)
				WHERE o.id = d.id AND o.sent_at IS NULL AND o.dropped IS NULL`, dropIDs, reasons); err != nil {
				return err
			}
		}
		if len(o.Released) > 0 {
			if _, err := tx.Exec(ctx, `UPDATE notice_outbox SET claimed_until = NULL, attempts = greatest(attempts - 1, 0)
				WHERE id = ANY($1) AND sent_at IS NULL AND dropped IS NULL`, o.Released); err != nil {
				return err
			}
		}
		if len(o.Retry) > 0 {
			if _, err := tx.Exec(ctx, `UPDATE notice_outbox SET claimed_until = now() + $2::interval
				WHERE id = ANY($1) AND sent_at IS NULL AND dropped IS NULL`, o.Retry, o.RetryAfter.String()); err != nil {
				return err
			}
		}
		return nil
	})
	return wrap(fmt.Sprintf("finish notices (%d sent, %d dropped, %d to retry, %d released)", len(o.Sent), len(dropIDs), len(o.Retry), len(o.Released)), err)
}

// PruneNotices deletes sent and dropped notices older than NoticeKept,
// at most limit of them; it returns how many.
func (s *Store) PruneNotices(ctx context.Context, limit int) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM notice_outbox WHERE id IN (
		SELECT id FROM notice_outbox WHERE created_at < now() - $1::interval
		  AND (sent_at IS NOT NULL OR dropped IS NOT NULL) ORDER BY created_at LIMIT $2)`, NoticeKept.String(), limit)
	if err != nil {
		return 0, wrap("prune notices", err)
	}
	return int(tag.RowsAffected()), nil
}

// NoticeState is one outbox row as tests and the ops CLI see it.
type NoticeState struct {
	UserID  int64   `db:"user_id"`
	Message string  `db:"message"`
	Sent    bool    `db:"sent"`
	Dropped *string `db:"dropped"`
}

// NoticesOf lists a user's outbox rows, oldest first.
func (s *Store) NoticesOf(ctx context.Context, userID int64) ([]NoticeState, error) {
	list, err := collectAll[NoticeState](s.pool.Query(ctx, `SELECT user_id, notice->>'Message' AS message,
		sent_at IS NOT NULL AS sent, dropped FROM notice_outbox WHERE user_id = $1 ORDER BY id`, userID))
	return list, wrap(fmt.Sprintf("list notices of user %d", userID), err)
}
