// Package store is vpnflow's typed access to PostgreSQL.
//
// Every function takes a context, runs one short transaction and talks to
// nothing but the database, so no connection is ever held across a network
// call to Telegram, Xray or a payment provider. Temporal activities call
// these functions and may retry them, so every write is idempotent: running
// it twice has the effect of running it once. The money invariants (no
// negative balance, one credit per purchase, one trial per user, promo uses
// within max) are constraints in the schema, not checks here, and surface as
// the typed errors in errors.go.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Store runs the queries. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
}

// New returns a Store on pool (see internal/db.Open).
func New(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool}
}

// Deadlocks and serialization failures are the database asking for a
// retry; doing it here keeps them out of activity retry policies.
const txAttempts = 3

// inTx runs fn in one transaction, committing if it returns nil. fn must not
// do anything but database work: the transaction is open while it runs.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return s.inTxOpts(ctx, pgx.TxOptions{}, fn)
}

func (s *Store) inTxOpts(ctx context.Context, opts pgx.TxOptions, fn func(pgx.Tx) error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = pgx.BeginTxFunc(ctx, s.pool, opts, fn)
		if err == nil || !isRetryable(err) || attempt == txAttempts || ctx.Err() != nil {
			return err
		}
		time.Sleep(time.Duration(attempt) * 10 * time.Millisecond)
	}
}

// wrap adds the operation to an error and turns database errors into the
// package's typed ones.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", op, classify(err))
}

// clock returns the transaction's notion of now: at, when the caller gives
// one, else the database's now(). One value per transaction keeps every
// timestamp a transaction writes identical.
func clock(ctx context.Context, tx pgx.Tx, at time.Time) (time.Time, error) {
	var arg any
	if !at.IsZero() {
		arg = at
	}
	var now time.Time
	if err := tx.QueryRow(ctx, `SELECT coalesce($1::timestamptz, now())`, arg).Scan(&now); err != nil {
		return time.Time{}, fmt.Errorf("read clock: %w", err)
	}
	return now, nil
}

// collectOne reads exactly one row into T, or ErrNotFound.
func collectOne[T any](rows pgx.Rows, err error) (T, error) {
	if err != nil {
		var zero T
		return zero, err
	}
	v, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[T])
	if errors.Is(err, pgx.ErrNoRows) {
		return v, ErrNotFound
	}
	return v, err
}

// collectAll reads every row into a slice of T.
func collectAll[T any](rows pgx.Rows, err error) ([]T, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByName[T])
}
