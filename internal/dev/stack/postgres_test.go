package stack

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgDir is a state directory the postgres account can enter when the tests
// run as root (t.TempDir is 0700).
func pgDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "vpnflow-stack-pg-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			os.RemoveAll(d)
		} else {
			t.Logf("postgres state kept in %s", d)
		}
	})
	return d
}

func TestStartPostgresReusesCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := pgDir(t)
	var log bytes.Buffer

	pg, err := StartPostgres(ctx, PostgresOptions{Dir: dir, Fast: true, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	if !strings.HasPrefix(pg.URL, "postgres://vpnflow@127.0.0.1:") || !strings.HasSuffix(pg.URL, "/vpnflow?sslmode=disable") {
		t.Errorf("URL = %q", pg.URL)
	}
	conn, err := pgx.Connect(ctx, pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	var db, user, encoding, fsync string
	if err := conn.QueryRow(ctx, `SELECT current_database(), current_user, pg_encoding_to_char(encoding), current_setting('fsync')
		FROM pg_database WHERE datname = current_database()`).Scan(&db, &user, &encoding, &fsync); err != nil {
		t.Fatal(err)
	}
	if db != "vpnflow" || user != "vpnflow" || encoding != "UTF8" || fsync != "off" {
		t.Errorf("got database %s user %s encoding %s fsync %s", db, user, encoding, fsync)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)`); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)

	pg.Stop()
	pg.Stop() // idempotent
	select {
	case <-pg.Done():
	default:
		t.Fatal("Done not closed after Stop")
	}
	if _, err := os.Stat(filepath.Join(dir, "postgres.log")); err != nil {
		t.Errorf("no log file: %v", err)
	}
	if log.Len() == 0 {
		t.Error("nothing written to PostgresOptions.Log")
	}

	// Same directory, not fast: the cluster and its data are reused.
	pg2, err := StartPostgres(ctx, PostgresOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer pg2.Stop()
	conn, err = pgx.Connect(ctx, pg2.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var v int
	if err := conn.QueryRow(ctx, `SELECT v FROM kept`).Scan(&v); err != nil || v != 42 {
		t.Fatalf("data from the first run: v=%d err=%v", v, err)
	}
	if err := conn.QueryRow(ctx, `SELECT current_setting('fsync')`).Scan(&fsync); err != nil || fsync != "on" {
		t.Errorf("fsync = %q (%v), want on without Fast", fsync, err)
	}
}

func TestStartPostgresRefusesForeignDataDir(t *testing.T) {
	dir := pgDir(t)
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data", "something"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := StartPostgres(context.Background(), PostgresOptions{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "holds no PostgreSQL cluster") {
		t.Fatalf("err = %v, want a refusal to use a non-cluster data dir", err)
	}
}

func TestStartPostgresNeedsDir(t *testing.T) {
	if _, err := StartPostgres(context.Background(), PostgresOptions{}); err == nil {
		t.Fatal("no error without Dir")
	}
}

func TestCheckReachable(t *testing.T) {
	parent := t.TempDir()
	closed := filepath.Join(parent, "closed")
	inner := filepath.Join(closed, "inner")
	if err := os.MkdirAll(inner, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(closed)
	if err != nil {
		t.Fatal(err)
	}
	owner := st.Sys().(*syscall.Stat_t).Uid
	// Parents of t.TempDir may themselves be closed; test below an open root.
	other := osUser{switchTo: true, uid: owner + 1, gid: 1 << 30}
	if err := other.checkReachableBelow(inner, parent); err == nil || !strings.Contains(err.Error(), closed) {
		t.Errorf("err = %v, want one naming %s", err, closed)
	}
	self := osUser{switchTo: true, uid: owner, gid: 1 << 30}
	if err := self.checkReachableBelow(inner, parent); err != nil {
		t.Errorf("owner cannot reach its own dir: %v", err)
	}
	if err := (osUser{}).checkReachable(inner); err != nil {
		t.Errorf("a non-switching user is always fine: %v", err)
	}
}

func TestPostgresBinDir(t *testing.T) {
	bin, err := postgresBinDir("")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"postgres", "initdb"} {
		if !isExecutable(filepath.Join(bin, name)) {
			t.Errorf("%s has no %s", bin, name)
		}
	}
}
