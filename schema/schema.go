// Package schema holds vpnflow's database schema as ordered SQL migrations
// and applies them.
package schema

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/*.sql
var embedded embed.FS

// Migrations returns the migration files, for tools that want to list them.
func Migrations() fs.FS {
	sub, err := fs.Sub(embedded, "migrations")
	if err != nil {
		// The directory is embedded at build time; this cannot happen.
		panic(err)
	}
	return sub
}

// Lock polling: a second Migrate (the worker and `starter migrate` started
// together) polls every second (goose's minimum) for the first to finish.
// Migrations are small, so minutes of waiting means something is wrong.
const (
	lockPollSeconds = 1
	lockAttempts    = 180
)

// Migrate brings the database at databaseURL up to the newest schema,
// printing each applied migration (or that none was needed) to progress.
// Concurrent callers are serialised by a PostgreSQL advisory lock, so any
// number of processes may call it at start.
func Migrate(ctx context.Context, databaseURL string, progress io.Writer) error {
	if progress == nil {
		progress = io.Discard
	}
	db, err := sql.Open("pgx", databaseURL)
	if err != nil {
		return fmt.Errorf("migrate: open database: %w", err)
	}
	defer db.Close()
	// One connection holds the session lock; a second lets goose run
	// statements outside it without deadlocking.
	db.SetMaxOpenConns(2)

	locker, err := lock.NewPostgresSessionLocker(
		lock.WithLockTimeout(lockPollSeconds, lockAttempts),
	)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	provider, err := goose.NewProvider(goose.DialectPostgres, db, Migrations(),
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
	)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	results, err := provider.Up(ctx)
	for _, r := range results {
		fmt.Fprintf(progress, "applied %s (%s)\n", r.Source.Path, r.Duration.Round(time.Millisecond))
	}
	if err != nil {
		var partial *goose.PartialError
		if errors.As(err, &partial) && partial.Failed != nil {
			return fmt.Errorf("migrate: %s failed: %w", partial.Failed.Source.Path, partial.Failed.Error)
		}
		return fmt.Errorf("migrate: %w", err)
	}
	if len(results) == 0 {
		version, err := provider.GetDBVersion(ctx)
		if err != nil {
			return fmt.Errorf("migrate: read schema version: %w", err)
		}
		fmt.Fprintf(progress, "schema up to date (version %d)\n", version)
	}
	return nil
}
