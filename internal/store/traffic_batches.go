package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// TrafficDelta is bytes Xray counted for one key since the last reset read.
type TrafficDelta struct {
	Email string
	Up    int64
	Down  int64
}

// trafficBatchRetention is how long batch ids are kept. A retry of the same
// batch comes within minutes; the table stays small.
const trafficBatchRetention = "30 days"

// AddTrafficBatch adds one reading of Xray's counters to the subscriptions
// it names, once per batch id: a retry of the same batch changes nothing
// and reports applied=false with the updated count the first write stored.
// Emails without a subscription (keys Xray knows from elsewhere) are
// ignored; updated counts the subscriptions changed.
func (s *Store) AddTrafficBatch(ctx context.Context, batchID string, deltas []TrafficDelta) (applied bool, updated int, err error) {
	op := fmt.Sprintf("add traffic batch %s", batchID)
	if batchID == "" {
		return false, 0, fmt.Errorf("%s: %w: empty batch id", op, ErrInvalid)
	}
	emails := make([]string, 0, len(deltas))
	ups := make([]int64, 0, len(deltas))
	downs := make([]int64, 0, len(deltas))
	for _, d := range deltas {
		if d.Up < 0 || d.Down < 0 {
			return false, 0, fmt.Errorf("%s: %w: negative traffic for %s", op, ErrInvalid, d.Email)
		}
		if d.Up == 0 && d.Down == 0 {
			continue
		}
		emails, ups, downs = append(emails, d.Email), append(ups, d.Up), append(downs, d.Down)
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO traffic_batches (id, users) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`, batchID, len(emails))
		if err != nil {
			return err
		}
		if applied = tag.RowsAffected() == 1; !applied {
			// A retry: report what the attempt that committed changed.
			return tx.QueryRow(ctx, `SELECT updated FROM traffic_batches WHERE id = $1`, batchID).Scan(&updated)
		}
		tag, err = tx.Exec(ctx, `UPDATE subscriptions s SET traffic_up = s.traffic_up + d.up, traffic_down = s.traffic_down + d.down
			FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS d(email, up, down)
			WHERE s.xray_email = d.email`, emails, ups, downs)
		if err != nil {
			return fmt.Errorf("add traffic: %w", err)
		}
		updated = int(tag.RowsAffected())
		if _, err := tx.Exec(ctx, `UPDATE traffic_batches SET updated = $2 WHERE id = $1`, batchID, updated); err != nil {
			return fmt.Errorf("record batch outcome: %w", err)
		}
		_, err = tx.Exec(ctx, `DELETE FROM traffic_batches WHERE created_at < now() - $1::interval`, trafficBatchRetention)
		return err
	})
	if err != nil {
		return false, 0, wrap(op, err)
	}
	return applied, updated, nil
}
