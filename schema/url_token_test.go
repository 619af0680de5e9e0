package schema_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"regexp"
	"testing"

	"github.com/pressly/goose/v3"

	"vpnflow/internal/dev/testenv"
	"vpnflow/schema"
)

// TestURLTokenMigrationGivesExistingRowsTheirOwnTokens: subscriptions that
// exist before 00006 each get a distinct, well-formed token whose stored
// digest is its SHA-256, so their URLs work from the first key message on.
func TestURLTokenMigrationGivesExistingRowsTheirOwnTokens(t *testing.T) {
	ctx := context.Background()
	url := testenv.EmptyDatabaseURL(t)
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, schema.Migrations(), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 5); err != nil {
		t.Fatal(err)
	}
	pool := connect(t, url)
	mustExec(t, pool, `INSERT INTO nodes (name, api_addr, inbound_tag, host, port) VALUES ('n', 'a:1', 't', 'h', 443)`)
	mustExec(t, pool, `INSERT INTO users (telegram_id, ref_code) SELECT i, 'ref' || lpad(i::text, 6, '0') FROM generate_series(1, 50) i`)
	mustExec(t, pool, `INSERT INTO subscriptions (user_id, node_id, vless_uuid, xray_email, status, expires_at)
		SELECT i, 1, gen_random_uuid(), 'tg' || i || '@x', 'active', now() + interval '1 day' FROM generate_series(1, 50) i`)

	if err := schema.Migrate(ctx, url, nil); err != nil {
		t.Fatal(err)
	}
	rows, err := pool.Query(ctx, `SELECT url_token, url_token_hash FROM subscriptions`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	form := regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)
	seen := map[string]bool{}
	for rows.Next() {
		var token string
		var hash []byte
		if err := rows.Scan(&token, &hash); err != nil {
			t.Fatal(err)
		}
		if !form.MatchString(token) {
			t.Errorf("token %q is not 43 base64url characters", token)
		}
		if sum := sha256.Sum256([]byte(token)); string(sum[:]) != string(hash) {
			t.Errorf("stored digest of %q is not its SHA-256", token)
		}
		if seen[token] {
			t.Errorf("token %q given to two rows", token)
		}
		seen[token] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 50 {
		t.Fatalf("%d tokens, want 50", len(seen))
	}
}
