package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Process roles that write heartbeats.
const (
	ProcessBot    = "bot"
	ProcessWorker = "worker"
)

// Heartbeat is a process role's last sign of life (heartbeats).
type Heartbeat struct {
	Process  string    `db:"process"`
	Instance string    `db:"instance"`
	Healthy  bool      `db:"healthy"`
	Detail   string    `db:"detail"`
	BeatAt   time.Time `db:"beat_at"`
	Age      time.Duration
}

// Beat records that instance of process is alive, and whether its loops
// make progress (detail says which do not). One statement; the database's
// clock stamps it, so readers compare ages on one clock.
func (s *Store) Beat(ctx context.Context, process, instance string, healthy bool, detail string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO heartbeats (process, instance, healthy, detail, beat_at)
		VALUES ($1, $2, $3, $4, now())
		ON CONFLICT (process) DO UPDATE SET instance = EXCLUDED.instance, healthy = EXCLUDED.healthy,
			detail = EXCLUDED.detail, beat_at = EXCLUDED.beat_at`, process, instance, healthy, detail)
	return wrap("heartbeat of "+process, err)
}

// LastBeat is process's last heartbeat and its age by the database's
// clock; ErrNotFound if it never beat.
func (s *Store) LastBeat(ctx context.Context, process string) (Heartbeat, error) {
	var h Heartbeat
	var ageMicros int64
	err := s.pool.QueryRow(ctx, `SELECT process, instance, healthy, detail, beat_at,
			(extract(epoch FROM now() - beat_at) * 1e6)::bigint
		FROM heartbeats WHERE process = $1`, process).
		Scan(&h.Process, &h.Instance, &h.Healthy, &h.Detail, &h.BeatAt, &ageMicros)
	if errors.Is(err, pgx.ErrNoRows) {
		return Heartbeat{}, fmt.Errorf("heartbeat of %s: %w", process, ErrNotFound)
	}
	h.Age = time.Duration(ageMicros) * time.Microsecond
	return h, wrap("heartbeat of "+process, err)
}

// BotLease is who may poll a bot token, until when.
type BotLease struct {
	Holder    string
	ExpiresAt time.Time
}

// TakeBotLease takes or renews the lease on tokenHash for holder for ttl,
// if it is free, expired or already holder's. It returns the lease as it
// stands, and whether holder has it. One statement.
func (s *Store) TakeBotLease(ctx context.Context, tokenHash, holder string, ttl time.Duration) (BotLease, bool, error) {
	var l BotLease
	err := s.pool.QueryRow(ctx, `INSERT INTO bot_lease (token_hash, holder, expires_at)
		VALUES ($1, $2, now() + $3::interval)
		ON CONFLICT (token_hash) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at,
			acquired_at = CASE WHEN bot_lease.holder = EXCLUDED.holder THEN bot_lease.acquired_at ELSE now() END
			WHERE bot_lease.holder = EXCLUDED.holder OR bot_lease.expires_at < now()
		RETURNING holder, expires_at`, tokenHash, holder, ttl.String()).Scan(&l.Holder, &l.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		// Held by another, unexpired: read who.
		err = s.pool.QueryRow(ctx, `SELECT holder, expires_at FROM bot_lease WHERE token_hash = $1`, tokenHash).
			Scan(&l.Holder, &l.ExpiresAt)
		return l, false, wrap("read bot lease", err)
	}
	if err != nil {
		return BotLease{}, false, wrap("take bot lease", err)
	}
	return l, l.Holder == holder, nil
}

// ReleaseBotLease gives the lease up if holder has it, so a stopping bot
// hands over at once instead of after the ttl.
func (s *Store) ReleaseBotLease(ctx context.Context, tokenHash, holder string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM bot_lease WHERE token_hash = $1 AND holder = $2`, tokenHash, holder)
	return wrap("release bot lease", err)
}
