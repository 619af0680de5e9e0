package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// Stats is the admin dashboard's summary.
type Stats struct {
	Users      int64
	BotBlocked int64
	Active     int64 // paid subscriptions with time left
	Trials     int64 // trials with time left
	Revenue    []Revenue
}

// Revenue is money received in one currency (refunds and balance-paid
// purchases excluded: the money came in as a top-up).
type Revenue struct {
	Currency   string `db:"currency"`
	Today      int64  `db:"today"` // since 00:00 UTC
	Last30Days int64  `db:"last_30_days"`
}

// Stats counts users and subscriptions and sums revenue, from one snapshot.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	err := s.inTxOpts(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT
				(SELECT count(*) FROM users),
				(SELECT count(*) FROM users WHERE bot_blocked),
				(SELECT count(*) FROM subscriptions WHERE status = 'active' AND expires_at > now()),
				(SELECT count(*) FROM subscriptions WHERE status = 'trial' AND expires_at > now())`).
			Scan(&st.Users, &st.BotBlocked, &st.Active, &st.Trials); err != nil {
			return err
		}
		var err error
		st.Revenue, err = collectAll[Revenue](tx.Query(ctx, `SELECT currency,
				coalesce(sum(amount) FILTER (WHERE paid_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'), 0)::bigint AS today,
				sum(amount)::bigint AS last_30_days
			FROM purchases
			WHERE status = 'paid' AND provider <> 'balance' AND paid_at >= now() - interval '30 days'
			GROUP BY currency ORDER BY currency`))
		return err
	})
	return st, wrap("read stats", err)
}
