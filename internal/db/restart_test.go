package db_test

import (
	"context"
	"os"
	"testing"
	"time"

	"vpnflow/internal/db"
	"vpnflow/internal/dev/stack"
)

// After PostgreSQL restarts, every idle connection in the pool is dead.
// The first query after the restart must not be the one that finds out:
// the pool checks a connection before handing it out.
func TestFirstQueryAfterPostgresRestartSucceeds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "vpnflow-db-restart-")
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(dir, 0o755)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	pg, err := stack.StartPostgres(ctx, stack.PostgresOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	pool, err := db.Open(ctx, pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	query := func() error {
		var n int
		return pool.QueryRow(ctx, `SELECT 1`).Scan(&n)
	}
	for i := 0; i < 3; i++ { // a few idle connections in the pool
		if err := query(); err != nil {
			t.Fatal(err)
		}
	}
	pg.Kill()
	if err := pg.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if err := query(); err != nil {
			t.Fatalf("query %d after the restart: %v", i+1, err)
		}
	}
}
