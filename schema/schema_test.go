package schema_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pressly/goose/v3"

	"vpnflow/internal/dev/testenv"
	"vpnflow/schema"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestMigrateFromZeroThenNoop(t *testing.T) {
	ctx := context.Background()
	url := testenv.EmptyDatabaseURL(t)

	var out bytes.Buffer
	if err := schema.Migrate(ctx, url, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "applied 00001_init.sql") {
		t.Errorf("first run printed %q, want the applied migration", out.String())
	}
	out.Reset()
	if err := schema.Migrate(ctx, url, &out); err != nil {
		t.Fatal(err)
	}
	migrations, err := fs.Glob(schema.Migrations(), "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	// The last version is the highest number (branches merged in any
	// order may leave a gap until the other lands).
	last := 0
	for _, m := range migrations {
		var v int
		if _, err := fmt.Sscanf(m, "%05d_", &v); err == nil && v > last {
			last = v
		}
	}
	if want := fmt.Sprintf("schema up to date (version %d)\n", last); out.String() != want {
		t.Errorf("second run printed %q, want %q", out.String(), want)
	}
}

func TestConcurrentMigrate(t *testing.T) {
	ctx := context.Background()
	url := testenv.EmptyDatabaseURL(t)
	const n = 3
	var (
		wg   sync.WaitGroup
		errs [n]error
		outs [n]bytes.Buffer
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = schema.Migrate(ctx, url, &outs[i])
		}()
	}
	wg.Wait()
	applied := 0
	for i := range n {
		if errs[i] != nil {
			t.Errorf("migrate %d: %v", i, errs[i])
		}
		if strings.Contains(outs[i].String(), "applied") {
			applied++
		}
	}
	if applied != 1 {
		t.Errorf("%d runs applied migrations, want exactly 1", applied)
	}
	pool := connect(t, url)
	var versions int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM goose_db_version WHERE version_id = 1`).Scan(&versions); err != nil || versions != 1 {
		t.Errorf("version 1 recorded %d times (%v)", versions, err)
	}
}

func TestMigrateBadURL(t *testing.T) {
	err := schema.Migrate(context.Background(), "postgres://nobody@127.0.0.1:1/none?connect_timeout=2", nil)
	if err == nil {
		t.Fatal("no error for an unreachable database")
	}
}

// The down migration must undo the up one completely, or a rollback in
// production would leave debris.
func TestDownThenUpAgain(t *testing.T) {
	ctx := context.Background()
	url := testenv.EmptyDatabaseURL(t)
	if err := schema.Migrate(ctx, url, nil); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, schema.Migrations(), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 0); err != nil {
		t.Fatal(err)
	}
	var tables []string
	rows, err := db.QueryContext(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'goose_db_version'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	if len(tables) != 0 {
		t.Errorf("tables left after down: %v", tables)
	}
	if err := schema.Migrate(ctx, url, nil); err != nil {
		t.Fatalf("up after down: %v", err)
	}
}

// The schema refuses what would break the money invariants even when the
// store is bypassed.
func TestSchemaRejectsRawSQL(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Database(t)
	mustExec(t, pool, `INSERT INTO users (telegram_id, ref_code) VALUES (1, 'aaaaaaaa'), (2, 'bbbbbbbb')`)
	mustExec(t, pool, `INSERT INTO purchases (id, user_id, kind, amount, currency, provider, provider_invoice_id, provider_charge_id)
		VALUES ('00000000-0000-0000-0000-000000000001', 1, 'topup', 100, 'USD', 'cryptopay', 'inv-1', 'ch-1')`)
	mustExec(t, pool, `INSERT INTO ledger (user_id, amount, currency, kind, reference) VALUES (1, 100, 'USD', 'topup', 'purchase:x')`)
	mustExec(t, pool, `INSERT INTO trials (user_id, ends_at) VALUES (1, now() + interval '3 days')`)
	mustExec(t, pool, `INSERT INTO promo_codes (code, kind, value, max_uses, used) VALUES ('ONE', 'days', 7, 1, 1)`)

	for _, tc := range []struct {
		name, sql, constraint string
	}{
		{"duplicate provider invoice", `INSERT INTO purchases (id, user_id, kind, amount, currency, provider, provider_invoice_id)
			VALUES ('00000000-0000-0000-0000-000000000002', 2, 'topup', 100, 'USD', 'cryptopay', 'inv-1')`, "purchases_provider_invoice_key"},
		{"duplicate provider charge", `INSERT INTO purchases (id, user_id, kind, amount, currency, provider, provider_charge_id)
			VALUES ('00000000-0000-0000-0000-000000000003', 2, 'topup', 100, 'USD', 'cryptopay', 'ch-1')`, "purchases_provider_charge_key"},
		{"duplicate ledger entry", `INSERT INTO ledger (user_id, amount, currency, kind, reference) VALUES (2, 5, 'USD', 'topup', 'purchase:x')`, "ledger_kind_reference_key"},
		{"second trial", `INSERT INTO trials (user_id, ends_at) VALUES (1, now() + interval '1 day')`, "trials_pkey"},
		{"negative balance", `UPDATE users SET balance = balance - 1 WHERE telegram_id = 2`, "users_balance_check"},
		{"promo used past max", `UPDATE promo_codes SET used = used + 1 WHERE code = 'ONE'`, "promo_codes_used_check"},
		{"zero amount", `INSERT INTO purchases (id, user_id, kind, amount, currency, provider)
			VALUES ('00000000-0000-0000-0000-000000000004', 1, 'topup', 0, 'USD', 'stars')`, "purchases_amount_check"},
		{"top-up from balance", `INSERT INTO purchases (id, user_id, kind, amount, currency, provider)
			VALUES ('00000000-0000-0000-0000-000000000005', 1, 'topup', 10, 'USD', 'balance')`, "purchases_topup_not_from_balance"},
		{"self referral", `INSERT INTO referrals (referred_id, referrer_id) VALUES (1, 1)`, "referrals_not_self"},
		{"unknown subscription status", `INSERT INTO nodes (name, api_addr, inbound_tag, host, port) VALUES ('n', 'a:1', 't', 'h', 443);
			INSERT INTO subscriptions (user_id, node_id, vless_uuid, xray_email, status, expires_at)
			VALUES (1, 1, gen_random_uuid(), 'tg1@x', 'paused', now())`, "subscriptions_status_check"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pool.Exec(ctx, tc.sql)
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.ConstraintName != tc.constraint {
				t.Fatalf("err = %v, want a violation of %s", err, tc.constraint)
			}
		})
	}
}

func connect(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func mustExec(t *testing.T, pool *pgxpool.Pool, sql string) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
