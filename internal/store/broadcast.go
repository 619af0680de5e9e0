package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Broadcast delivery outcomes.
const (
	DeliverySent    = "sent"
	DeliverySkipped = "skipped" // the user blocked the bot
	DeliveryFailed  = "failed"  // Telegram refused the message for good
)

// Broadcast is a message to every user.
type Broadcast struct {
	ID         uuid.UUID  `db:"id"`
	AdminID    int64      `db:"admin_id"`
	Text       string     `db:"text"`
	Total      int        `db:"total"`
	CreatedAt  time.Time  `db:"created_at"`
	FinishedAt *time.Time `db:"finished_at"`
	Sent       int        `db:"sent"`
	Skipped    int        `db:"skipped"`
	Failed     int        `db:"failed"`
}

const broadcastColumns = `id, admin_id, text, total, created_at, finished_at, sent, skipped, failed`

// CreateBroadcast records a broadcast and counts its recipients: the users
// who exist now and are not banned. Creating the same id again returns the
// stored broadcast, so a retried call changes nothing.
func (s *Store) CreateBroadcast(ctx context.Context, id uuid.UUID, adminID int64, text string) (Broadcast, error) {
	op := fmt.Sprintf("create broadcast %s", id)
	if id == uuid.Nil || strings.TrimSpace(text) == "" {
		return Broadcast{}, fmt.Errorf("%s: %w: id and text are required", op, ErrInvalid)
	}
	var b Broadcast
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO broadcasts (id, admin_id, text, total)
			SELECT $1, $2, $3, count(*) FROM users WHERE NOT banned
			ON CONFLICT (id) DO NOTHING`, id, adminID, text); err != nil {
			return err
		}
		var err error
		b, err = collectOne[Broadcast](tx.Query(ctx, `SELECT `+broadcastColumns+` FROM broadcasts WHERE id = $1`, id))
		return err
	})
	if err != nil {
		return Broadcast{}, wrap(op, err)
	}
	return b, nil
}

// GetBroadcast returns a broadcast.
func (s *Store) GetBroadcast(ctx context.Context, id uuid.UUID) (Broadcast, error) {
	b, err := collectOne[Broadcast](s.pool.Query(ctx, `SELECT `+broadcastColumns+` FROM broadcasts WHERE id = $1`, id))
	return b, wrap(fmt.Sprintf("get broadcast %s", id), err)
}

// Recipient is one user on a broadcast's page.
type Recipient struct {
	UserID     int64  `db:"telegram_id"`
	BotBlocked bool   `db:"bot_blocked"`
	Delivered  string `db:"delivered"` // the recorded outcome; "" if not handled yet
}

// BroadcastPage is the text and the next recipients of a broadcast.
type BroadcastPage struct {
	Text       string
	Recipients []Recipient
}

// BroadcastRecipients returns the broadcast's text and up to limit of its
// recipients with telegram_id > afterUserID, in id order, each with the
// outcome already recorded for it, if any. Keyset paging keeps every page
// one short indexed query however many users there are.
func (s *Store) BroadcastRecipients(ctx context.Context, id uuid.UUID, afterUserID int64, limit int) (BroadcastPage, error) {
	op := fmt.Sprintf("broadcast %s recipients after %d", id, afterUserID)
	if limit <= 0 || limit > MaxPage {
		return BroadcastPage{}, fmt.Errorf("%s: %w: limit must be 1-%d, got %d", op, ErrInvalid, MaxPage, limit)
	}
	var page BroadcastPage
	err := s.inTxOpts(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var created time.Time
		if err := tx.QueryRow(ctx, `SELECT text, created_at FROM broadcasts WHERE id = $1`, id).Scan(&page.Text, &created); err != nil {
			return err
		}
		var err error
		page.Recipients, err = collectAll[Recipient](tx.Query(ctx, `SELECT u.telegram_id, u.bot_blocked, coalesce(d.status, '') AS delivered
			FROM users u
			LEFT JOIN broadcast_deliveries d ON d.broadcast_id = $1 AND d.user_id = u.telegram_id
			WHERE u.telegram_id > $2 AND NOT u.banned AND u.created_at <= $3
			ORDER BY u.telegram_id LIMIT $4`, id, afterUserID, created, limit))
		return err
	})
	if err != nil {
		return BroadcastPage{}, wrap(op, err)
	}
	return page, nil
}

// RecordDelivery records what happened to the broadcast for one user. The
// first record wins: a repeat returns the stored outcome, so a caller that
// lost the answer can tell it was already written.
func (s *Store) RecordDelivery(ctx context.Context, id uuid.UUID, userID int64, status string) (string, error) {
	op := fmt.Sprintf("record broadcast %s delivery to %d", id, userID)
	var stored string
	err := s.pool.QueryRow(ctx, `WITH ins AS (
			INSERT INTO broadcast_deliveries (broadcast_id, user_id, status) VALUES ($1, $2, $3)
			ON CONFLICT (broadcast_id, user_id) DO NOTHING RETURNING status)
		SELECT status FROM ins
		UNION ALL SELECT status FROM broadcast_deliveries WHERE broadcast_id = $1 AND user_id = $2
		LIMIT 1`, id, userID, status).Scan(&stored)
	return stored, wrap(op, err)
}

// FinishBroadcast stores a finished broadcast's totals, once.
func (s *Store) FinishBroadcast(ctx context.Context, id uuid.UUID, sent, skipped, failed int) error {
	tag, err := s.pool.Exec(ctx, `UPDATE broadcasts SET finished_at = coalesce(finished_at, now()),
		sent = $2, skipped = $3, failed = $4 WHERE id = $1`, id, sent, skipped, failed)
	if err == nil && tag.RowsAffected() == 0 {
		err = ErrNotFound
	}
	return wrap(fmt.Sprintf("finish broadcast %s", id), err)
}

// DeliveryCounts counts a broadcast's recorded outcomes by status.
func (s *Store) DeliveryCounts(ctx context.Context, id uuid.UUID) (map[string]int, error) {
	rows, err := s.pool.Query(ctx, `SELECT status, count(*) FROM broadcast_deliveries WHERE broadcast_id = $1 GROUP BY status`, id)
	if err != nil {
		return nil, wrap(fmt.Sprintf("count broadcast %s deliveries", id), err)
	}
	out := map[string]int{}
	var (
		status string
		n      int
	)
	_, err = pgx.ForEachRow(rows, []any{&status, &n}, func() error {
		out[status] = n
		return nil
	})
	return out, wrap(fmt.Sprintf("count broadcast %s deliveries", id), err)
}
