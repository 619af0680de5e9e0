package stack

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/client"
)

// TestPostgresKillAndRestart: a SIGKILLed cluster restarts on its data
// directory and port with every committed row.
func TestPostgresKillAndRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pg, err := StartPostgres(ctx, PostgresOptions{Dir: pgDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	exec := func(sql string) {
		t.Helper()
		conn, err := pgx.Connect(ctx, pg.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	exec(`CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)`)
	url := pg.URL
	pg.Kill()
	select {
	case <-pg.Done():
	default:
		t.Fatal("Done not closed after Kill")
	}
	if err := pg.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if pg.URL != url {
		t.Fatalf("URL changed across the restart: %s, was %s", pg.URL, url)
	}
	conn, err := pgx.Connect(ctx, pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT n FROM kept`).Scan(&n); err != nil || n != 42 {
		t.Fatalf("after the restart: %d, %v", n, err)
	}
}

// TestTemporalKillAndRestartKeepsHistory: a SIGKILLed dev server restarts
// on its SQLite file and port, and what it acknowledged is still there.
func TestTemporalKillAndRestartKeepsHistory(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv, err := StartTemporal(ctx, TemporalOptions{UIPort: -1, DBFile: filepath.Join(t.TempDir(), "temporal.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	c, err := client.Dial(client.Options{HostPort: srv.Address})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "kept", TaskQueue: "nobody-polls"}, "Anything")
	if err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	desc, err := c.DescribeWorkflowExecution(ctx, "kept", run.GetRunID())
	if err != nil {
		t.Fatalf("workflow lost across the kill: %v", err)
	}
	if desc.GetWorkflowExecutionInfo().GetExecution().GetRunId() != run.GetRunID() {
		t.Fatalf("another run: %v", desc.GetWorkflowExecutionInfo())
	}
}
