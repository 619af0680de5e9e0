package testenv_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"vpnflow/internal/dev/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestDatabaseIsMigratedAndIsolated(t *testing.T) {
	ctx := context.Background()
	a, b := testenv.Database(t), testenv.Database(t)
	var nameA, nameB string
	if err := a.QueryRow(ctx, `SELECT current_database()`).Scan(&nameA); err != nil {
		t.Fatal(err)
	}
	if err := b.QueryRow(ctx, `SELECT current_database()`).Scan(&nameB); err != nil {
		t.Fatal(err)
	}
	if nameA == nameB {
		t.Fatalf("both calls got database %s", nameA)
	}
	if _, err := a.Exec(ctx, `INSERT INTO users (telegram_id, ref_code) VALUES (1, 'abcdefgh')`); err != nil {
		t.Fatalf("schema not applied: %v", err)
	}
	var n int
	if err := b.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("second database sees %d users (err %v), want 0", n, err)
	}
	// The pool carries db.Open's guards.
	var timeout string
	if err := a.QueryRow(ctx, `SELECT current_setting('statement_timeout')`).Scan(&timeout); err != nil || timeout != "10s" {
		t.Errorf("statement_timeout = %q (%v), want 10s", timeout, err)
	}
}

func TestEmptyDatabaseHasNoSchema(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		url        string
		wantTables bool
	}{
		{testenv.EmptyDatabaseURL(t), false},
		{testenv.DatabaseURL(t), true},
	} {
		conn, err := pgx.Connect(ctx, tc.url)
		if err != nil {
			t.Fatal(err)
		}
		var tables int
		err = conn.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables)
		conn.Close(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if (tables > 0) != tc.wantTables {
			t.Errorf("%s has %d tables, want tables: %t", tc.url, tables, tc.wantTables)
		}
	}
}

func TestDatabaseDroppedAfterTest(t *testing.T) {
	ctx := context.Background()
	var name string
	t.Run("user", func(t *testing.T) {
		if err := testenv.Database(t).QueryRow(ctx, `SELECT current_database()`).Scan(&name); err != nil {
			t.Fatal(err)
		}
	})
	var exists bool
	if err := testenv.Database(t).QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Errorf("database %s still exists after its test ended", name)
	}
}

// Parallel tests each get their own clone of the template at the same time.
func TestDatabaseInParallelTests(t *testing.T) {
	for i := range 8 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			pool := testenv.Database(t)
			if _, err := pool.Exec(context.Background(), `INSERT INTO users (telegram_id, ref_code) VALUES ($1, 'abcdefgh')`, i+1); err != nil {
				t.Fatal(err)
			}
		})
	}
}
