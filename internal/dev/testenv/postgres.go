package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"vpnflow/internal/db"
	"vpnflow/internal/dev/stack"
	"vpnflow/schema"
)

// DatabaseURLEnv names an existing server to use instead of starting one:
// the URL of a role allowed to create databases. Test databases are created
// and dropped on it; nothing else is touched.
const DatabaseURLEnv = "VPNFLOW_TEST_DATABASE_URL"

const pgStartTimeout = 3 * time.Minute

// postgresEnv is the one server of this test binary and its migrated
// template database.
var postgresEnv struct {
	mu       sync.Mutex
	tried    bool
	err      error
	admin    *pgxpool.Pool // a maintenance connection for CREATE/DROP DATABASE
	base     *url.URL      // the server's URL; databases differ only in path
	template string
}

// Database returns a pool on a fresh database with the schema applied. The
// database is dropped when the test ends.
func Database(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	dbURL := DatabaseURL(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := db.Open(ctx, dbURL)
	if err != nil {
		tb.Fatalf("testenv: open pool: %v", err)
	}
	tb.Cleanup(pool.Close) // runs before the drop registered by DatabaseURL
	return pool
}

// DatabaseURL returns the URL of a fresh database with the schema applied,
// cloned from a template migrated once per test binary.
func DatabaseURL(tb testing.TB) string {
	tb.Helper()
	return newDatabase(tb, true)
}

// EmptyDatabaseURL returns the URL of a fresh database without the schema,
// for tests of the migrations themselves.
func EmptyDatabaseURL(tb testing.TB) string {
	tb.Helper()
	return newDatabase(tb, false)
}

func newDatabase(tb testing.TB, migrated bool) string {
	tb.Helper()
	if err := startPostgres(tb); err != nil {
		fail(tb, "PostgreSQL", err)
	}
	e := &postgresEnv
	name := databaseName(tb.Name())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stmt := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	if migrated {
		stmt += " TEMPLATE " + pgx.Identifier{e.template}.Sanitize()
	}
	if _, err := e.admin.Exec(ctx, stmt); err != nil {
		tb.Fatalf("testenv: create database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := dropDatabase(ctx, e.admin, name); err != nil {
			tb.Errorf("testenv: %v", err)
		}
	})
	return databaseURL(e.base, name)
}

// startPostgres starts (or finds) the server and builds the template once;
// a failure is remembered so every test that needs the database reports it.
func startPostgres(tb testing.TB) error {
	e := &postgresEnv
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.tried {
		return e.err
	}
	e.tried = true
	e.err = setupPostgres(tb)
	return e.err
}

func setupPostgres(tb testing.TB) error {
	e := &postgresEnv
	ctx, cancel := context.WithTimeout(context.Background(), pgStartTimeout)
	defer cancel()

	adminURL := os.Getenv(DatabaseURLEnv)
	if adminURL == "" {
		pg, err := stack.StartPostgres(ctx, stack.PostgresOptions{Dir: Dir(tb, "postgres"), Fast: true})
		if err != nil {
			return err
		}
		atExit(pg.Stop)
		adminURL = pg.AdminURL
	}
	base, err := url.Parse(adminURL)
	if err != nil || (base.Scheme != "postgres" && base.Scheme != "postgresql") {
		return fmt.Errorf("%s must be a postgres:// URL", DatabaseURLEnv)
	}
	admin, err := pgxpool.New(ctx, adminURL)
	if err == nil {
		err = admin.Ping(ctx)
	}
	if err != nil {
		return fmt.Errorf("connect to %s: %w", db.Redact(adminURL), err)
	}
	// Registered after pg.Stop, so it runs before it.
	atExit(admin.Close)

	template := "vpnflow_template_" + randomHex(6)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{template}.Sanitize()); err != nil {
		return fmt.Errorf("create template database: %w", err)
	}
	atExit(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = dropDatabase(ctx, admin, template)
	})
	if err := schema.Migrate(ctx, databaseURL(base, template), io.Discard); err != nil {
		return fmt.Errorf("migrate template database: %w", err)
	}
	e.admin, e.base, e.template = admin, base, template
	return nil
}

func dropDatabase(ctx context.Context, admin *pgxpool.Pool, name string) error {
	// FORCE ends sessions a test leaked, which would otherwise block the drop.
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

func databaseURL(base *url.URL, name string) string {
	u := *base
	u.Path = "/" + name
	return u.String()
}

// databaseName makes a unique, recognisable database name from a test name.
func databaseName(testName string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(testName) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	s := b.String()
	if len(s) > 40 {
		s = s[:40]
	}
	return "t_" + s + "_" + randomHex(6)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails since Go 1.24
	return hex.EncodeToString(b)
}
