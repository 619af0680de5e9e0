package store

import (
	"context"
	"fmt"
)

// ReferralCount is how many users the user has referred.
func (s *Store) ReferralCount(ctx context.Context, referrerID int64) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM referrals WHERE referrer_id = $1`, referrerID).Scan(&n); err != nil {
		return 0, fmt.Errorf("count referrals of %d: %w", referrerID, err)
	}
	return n, nil
}
