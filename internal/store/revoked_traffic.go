package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultRevokedGrace is how long after its revocation a key may still
// show bytes in a reading without counting as traffic after revocation:
// the revocation sweep takes an expired key out of Xray within its 30 s
// schedule (plus jitter), ending its sessions takes milliseconds, and Xray
// adds the bytes of a spliced (Vision) stream when the stream ends.
const DefaultRevokedGrace = 2 * time.Minute

// recordRevokedTraffic records, for the keys among a batch's emails that
// were revoked before the previous reading began (less the grace), the
// bytes the batch holds: all of them moved after the key was revoked. When
// a key was revoked is
//   - a banned user's current key: the row's last change (the ban);
//   - an expired one: its expiry, or the moment it was expired early;
//   - a live row past its expiry (not yet expired by its workflow): its expiry;
//   - a key a reissue replaced: the reissue (audit_log key_reissued).
//
// Each can only be late (a later change to the row), never early, so a key
// is never blamed for bytes it moved while it was valid. The previous
// reading is the latest batch read before this one; a reading with no
// traffic leaves no batch, which makes the window start earlier and the
// check stricter about what it blames, not looser. It returns how many
// keys it recorded.
func recordRevokedTraffic(ctx context.Context, tx pgx.Tx, b TrafficBatch, emails []string, ups, downs []int64) (int, error) {
	if len(emails) == 0 {
		return 0, nil
	}
	tag, err := tx.Exec(ctx, `
		WITH d AS (
			SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS d(email, up, down)
		), prev AS (
			SELECT max(read_at) AS at FROM traffic_batches WHERE read_at < $4 AND id <> $5
		), current_keys AS (
			SELECT d.email, s.user_id, d.up, d.down,
				CASE s.status
					WHEN 'banned' THEN s.updated_at
					WHEN 'expired' THEN least(s.expires_at, s.updated_at)
					ELSE s.expires_at
				END AS revoked_at
			FROM d JOIN subscriptions s ON s.xray_email = d.email
			WHERE s.status IN ('expired', 'banned') OR s.expires_at <= $4
		), old_keys AS (
			SELECT d.email, a.user_id, d.up, d.down, max(a.created_at) AS revoked_at
			FROM d JOIN audit_log a ON a.user_id = substring(d.email FROM '^tg([0-9]+)[.@]')::bigint
				AND a.event = 'key_reissued' AND a.details->>'old_email' = d.email
			GROUP BY d.email, a.user_id, d.up, d.down
		)
		INSERT INTO revoked_traffic AS r (email, user_id, revoked_at, up, down)
		SELECT k.email, k.user_id, k.revoked_at, k.up, k.down
		FROM (SELECT * FROM current_keys UNION ALL SELECT * FROM old_keys) k, prev
		WHERE k.revoked_at < prev.at - $6::interval
		ON CONFLICT (email) DO UPDATE SET up = r.up + excluded.up, down = r.down + excluded.down,
			revoked_at = excluded.revoked_at, last_seen = now()`,
		emails, ups, downs, b.ReadAt, b.ID, b.RevokedGrace)
	if err != nil {
		return 0, fmt.Errorf("record traffic of revoked keys: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// RevokedTraffic is a revoked key that moved bytes after its revocation.
type RevokedTraffic struct {
	Email     string    `db:"email"`
	UserID    int64     `db:"user_id"`
	RevokedAt time.Time `db:"revoked_at"`
	Up        int64     `db:"up"`
	Down      int64     `db:"down"`
	FirstSeen time.Time `db:"first_seen"`
	LastSeen  time.Time `db:"last_seen"`
}

// RevokedTrafficSince lists the revoked keys seen moving bytes since the
// given time, most recent first, at most limit of them.
func (s *Store) RevokedTrafficSince(ctx context.Context, since time.Time, limit int) ([]RevokedTraffic, error) {
	rows, err := s.pool.Query(ctx, `SELECT email, user_id, revoked_at, up, down, first_seen, last_seen
		FROM revoked_traffic WHERE last_seen >= $1 ORDER BY last_seen DESC, email LIMIT $2`, since, limit)
	if err != nil {
		return nil, wrap("list traffic of revoked keys", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByName[RevokedTraffic])
	return out, wrap("list traffic of revoked keys", err)
}
