// Package db opens vpnflow's PostgreSQL connection pool with the limits that
// keep one slow query or one forgotten transaction from freezing a process:
// every statement has a timeout, an idle transaction is cut off, and the
// pool's own numbers are exported so starvation is visible before it bites.
package db

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Defaults applied when the database URL does not set them.
const (
	DefaultMaxConns = 10
	// DefaultStatementTimeout bounds every query; store functions are short
	// single transactions, so anything slower is a bug or a lock pile-up.
	DefaultStatementTimeout = 10 * time.Second
	// DefaultIdleInTxTimeout ends a session that opened a transaction and
	// went quiet — the legacy freeze was exactly that, held across HTTP.
	DefaultIdleInTxTimeout = 30 * time.Second
	DefaultConnectTimeout  = 5 * time.Second
	pingTimeout            = 5 * time.Second
	// pingIdleAfter: a connection idle longer than this is pinged before
	// it is handed out. pgx's default is 1 s, which lets a restart of
	// PostgreSQL faster than that hand a dead connection to the next
	// query; no restart takes less than this, and a busy pool reuses
	// connections far faster, so the ping costs nothing under load.
	pingIdleAfter = 100 * time.Millisecond
)

// Option changes a default of Open for one process.
type Option func(*options)

type options struct{ maxConns int32 }

// WithDefaultMaxConns sizes the pool when the URL sets no pool_max_conns.
func WithDefaultMaxConns(n int32) Option {
	return func(o *options) { o.maxConns = n }
}

// Open connects a pool to databaseURL and checks that the server answers.
// Settings in the URL (pool_max_conns, connect_timeout, statement_timeout,
// ...) win over the defaults above. Queries are traced through the global
// OpenTelemetry providers; query arguments are never recorded, since some
// are secrets.
func Open(ctx context.Context, databaseURL string, opts ...Option) (*pgxpool.Pool, error) {
	cfg, err := Config(databaseURL, opts...)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database pool: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database %s: %w", Redact(databaseURL), err)
	}
	return pool, nil
}

// Config is the pool configuration Open uses, for callers that adjust it
// before connecting.
func Config(databaseURL string, opts ...Option) (*pgxpool.Config, error) {
	o := options{maxConns: DefaultMaxConns}
	for _, opt := range opts {
		opt(&o)
	}
	if strings.TrimSpace(databaseURL) == "" {
		return nil, fmt.Errorf("database URL is empty: set DATABASE_URL (e.g. postgres://user@host:5432/vpnflow)")
	}
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		// pgx's message can quote the URL, password included.
		return nil, fmt.Errorf("parse database URL %s: not a valid postgres:// URL or key=value string", Redact(databaseURL))
	}
	if !strings.Contains(databaseURL, "pool_max_conns") {
		cfg.MaxConns = o.maxConns
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	params := cfg.ConnConfig.RuntimeParams
	setDefault := func(k, v string) {
		if _, ok := params[k]; !ok {
			params[k] = v
		}
	}
	setDefault("statement_timeout", fmt.Sprint(DefaultStatementTimeout.Milliseconds()))
	setDefault("idle_in_transaction_session_timeout", fmt.Sprint(DefaultIdleInTxTimeout.Milliseconds()))
	setDefault("application_name", "vpnflow")
	// Day arithmetic (expires_at + 30 days) must not depend on the server's zone.
	setDefault("timezone", "UTC")
	cfg.ConnConfig.Tracer = otelpgx.NewTracer()
	cfg.ShouldPing = func(_ context.Context, p pgxpool.ShouldPingParams) bool {
		return p.IdleDuration > pingIdleAfter
	}
	cfg.PingTimeout = pingTimeout
	return cfg, nil
}

// Redact hides the password in a database URL so it can be logged.
func Redact(databaseURL string) string {
	u, err := url.Parse(databaseURL)
	if err != nil || u.Scheme == "" {
		return "(database URL)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}
