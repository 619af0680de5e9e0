package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// TrafficDelta is bytes Xray counted for one key since the last reset read.
type TrafficDelta struct {
	Email string
	Up    int64
	Down  int64
}

// TrafficBatch is one reading of Xray's counters.
type TrafficBatch struct {
	ID     string
	Deltas []TrafficDelta
	// ReadAt is when the reading reset the counters, at the latest (zero:
	// now), so the next batch knows where its bytes start.
	ReadAt time.Time
	// RevokedGrace is how long after its revocation a key may still show
	// bytes (zero: DefaultRevokedGrace); see recordRevokedTraffic.
	RevokedGrace time.Duration
}

// TrafficBatchResult says what adding a batch did.
type TrafficBatchResult struct {
	Applied bool // false: a retry of a batch already added
	Updated int  // subscriptions whose counters grew
	Revoked int  // revoked keys that moved bytes (revoked_traffic)
}

// trafficBatchRetention is how long batch ids are kept. A retry of the same
// batch comes within minutes; the table stays small.
const trafficBatchRetention = "30 days"

// AddTrafficBatch adds one reading of Xray's counters to the subscriptions
// it names, once per batch id: a retry of the same batch changes nothing
// and reports applied=false with the counts the first write stored.
// Emails without a subscription (keys Xray knows from elsewhere) are
// ignored. Bytes of keys revoked before the previous reading began are
// recorded in revoked_traffic (recordRevokedTraffic).
func (s *Store) AddTrafficBatch(ctx context.Context, b TrafficBatch) (TrafficBatchResult, error) {
	op := fmt.Sprintf("add traffic batch %s", b.ID)
	if b.ID == "" {
		return TrafficBatchResult{}, fmt.Errorf("%s: %w: empty batch id", op, ErrInvalid)
	}
	if b.ReadAt.IsZero() {
		b.ReadAt = time.Now()
	}
	if b.RevokedGrace <= 0 {
		b.RevokedGrace = DefaultRevokedGrace
	}
	emails := make([]string, 0, len(b.Deltas))
	ups := make([]int64, 0, len(b.Deltas))
	downs := make([]int64, 0, len(b.Deltas))
	for _, d := range b.Deltas {
		if d.Up < 0 || d.Down < 0 {
			return TrafficBatchResult{}, fmt.Errorf("%s: %w: negative traffic for %s", op, ErrInvalid, d.Email)
		}
		if d.Up == 0 && d.Down == 0 {
			continue
		}
		emails, ups, downs = append(emails, d.Email), append(ups, d.Up), append(downs, d.Down)
	}
	var res TrafficBatchResult
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		res = TrafficBatchResult{}
		tag, err := tx.Exec(ctx, `INSERT INTO traffic_batches (id, users, read_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING`,
			b.ID, len(emails), b.ReadAt)
		if err != nil {
			return err
		}
		if res.Applied = tag.RowsAffected() == 1; !res.Applied {
			// A retry: report what the attempt that committed changed.
			return tx.QueryRow(ctx, `SELECT updated, revoked FROM traffic_batches WHERE id = $1`, b.ID).Scan(&res.Updated, &res.Revoked)
		}
		tag, err = tx.Exec(ctx, `UPDATE subscriptions s SET traffic_up = s.traffic_up + d.up, traffic_down = s.traffic_down + d.down
			FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS d(email, up, down)
			WHERE s.xray_email = d.email`, emails, ups, downs)
		if err != nil {
			return fmt.Errorf("add traffic: %w", err)
		}
		res.Updated = int(tag.RowsAffected())
		if res.Revoked, err = recordRevokedTraffic(ctx, tx, b, emails, ups, downs); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE traffic_batches SET updated = $2, revoked = $3 WHERE id = $1`, b.ID, res.Updated, res.Revoked); err != nil {
			return fmt.Errorf("record batch outcome: %w", err)
		}
		_, err = tx.Exec(ctx, `DELETE FROM traffic_batches WHERE created_at < now() - $1::interval`, trafficBatchRetention)
		return err
	})
	if err != nil {
		return TrafficBatchResult{}, wrap(op, err)
	}
	return res, nil
}
