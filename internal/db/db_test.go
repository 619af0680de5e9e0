package db_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"vpnflow/internal/db"
	"vpnflow/internal/dev/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func open(t *testing.T, dbURL string) *pgxpool.Pool {
	t.Helper()
	pool, err := db.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func withParams(t *testing.T, raw string, kv ...string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func setting(t *testing.T, pool *pgxpool.Pool, name string) string {
	t.Helper()
	var v string
	if err := pool.QueryRow(context.Background(), `SELECT current_setting($1)`, name).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestOpenAppliesGuards(t *testing.T) {
	pool := open(t, testenv.DatabaseURL(t))
	for name, want := range map[string]string{
		"statement_timeout":                   "10s",
		"idle_in_transaction_session_timeout": "30s",
		"TimeZone":                            "UTC",
		"application_name":                    "vpnflow",
	} {
		if got := setting(t, pool, name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if got := pool.Config().MaxConns; got != db.DefaultMaxConns {
		t.Errorf("MaxConns = %d, want %d", got, db.DefaultMaxConns)
	}
}

// A process sizes its own pool (the worker's is larger) unless the URL
// does.
func TestDefaultMaxConnsOption(t *testing.T) {
	cfg, err := db.Config(testenv.DatabaseURL(t), db.WithDefaultMaxConns(20))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxConns != 20 {
		t.Errorf("MaxConns = %d, want the process's default 20", cfg.MaxConns)
	}
	cfg, err = db.Config(withParams(t, testenv.DatabaseURL(t), "pool_max_conns", "3"), db.WithDefaultMaxConns(20))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxConns != 3 {
		t.Errorf("MaxConns = %d, want 3 from the URL", cfg.MaxConns)
	}
}

func TestURLSettingsWin(t *testing.T) {
	pool := open(t, withParams(t, testenv.DatabaseURL(t), "pool_max_conns", "3", "statement_timeout", "100", "application_name", "bot"))
	if got := pool.Config().MaxConns; got != 3 {
		t.Errorf("MaxConns = %d, want 3 from the URL", got)
	}
	if got := setting(t, pool, "application_name"); got != "bot" {
		t.Errorf("application_name = %q, want bot", got)
	}
	// A query slower than statement_timeout is cancelled by the server.
	_, err := pool.Exec(context.Background(), `SELECT pg_sleep(30)`)
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "57014" {
		t.Fatalf("err = %v, want query_canceled (57014)", err)
	}
}

func TestOpenErrorsHidePassword(t *testing.T) {
	for _, raw := range []string{
		"postgres://vpnflow:s3cret@127.0.0.1:1/vpnflow?connect_timeout=2",
		"postgres://vpnflow:s3cret@127.0.0.1:1/vpnflow?pool_max_conns=notanumber",
	} {
		_, err := db.Open(context.Background(), raw)
		if err == nil {
			t.Fatalf("%s: no error", raw)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error shows the password: %v", err)
		}
	}
	if _, err := db.Open(context.Background(), ""); err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Errorf("empty URL: err = %v, want a hint about DATABASE_URL", err)
	}
}

func TestPoolCollector(t *testing.T) {
	ctx := context.Background()
	pool := open(t, withParams(t, testenv.DatabaseURL(t), "pool_max_conns", "3"))
	c := db.NewPoolCollector(pool, "worker")

	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", err, problems)
	}
	if n := testutil.CollectAndCount(c); n != 13 {
		t.Errorf("%d metrics, want 13", n)
	}

	a, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Release()
	b, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := pool.Acquire(canceled); err == nil {
		t.Fatal("acquire with a cancelled context succeeded")
	}

	const want = `
# HELP vpnflow_db_pool_acquired_conns Connections currently checked out of the pool.
# TYPE vpnflow_db_pool_acquired_conns gauge
vpnflow_db_pool_acquired_conns{pool="worker"} 2
# HELP vpnflow_db_pool_canceled_acquires_total Acquires abandoned because their context ended.
# TYPE vpnflow_db_pool_canceled_acquires_total counter
vpnflow_db_pool_canceled_acquires_total{pool="worker"} 1
# HELP vpnflow_db_pool_max_conns Maximum size of the pool.
# TYPE vpnflow_db_pool_max_conns gauge
vpnflow_db_pool_max_conns{pool="worker"} 3
# HELP vpnflow_db_pool_total_conns Connections open (acquired, idle and being constructed).
# TYPE vpnflow_db_pool_total_conns gauge
vpnflow_db_pool_total_conns{pool="worker"} 2
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want),
		"vpnflow_db_pool_acquired_conns", "vpnflow_db_pool_canceled_acquires_total",
		"vpnflow_db_pool_max_conns", "vpnflow_db_pool_total_conns"); err != nil {
		t.Error(err)
	}

	// Counters only grow: Open's ping and the two acquires above.
	got := gather(t, c)
	if v := got["vpnflow_db_pool_acquires_total"]; v < 3 {
		t.Errorf("acquires_total = %v, want >= 3", v)
	}
	if v := got["vpnflow_db_pool_empty_acquires_total"]; v < 2 {
		t.Errorf("empty_acquires_total = %v, want >= 2 (new connections had to be opened)", v)
	}
	if v := got["vpnflow_db_pool_new_conns_total"]; v != 2 {
		t.Errorf("new_conns_total = %v, want 2", v)
	}
	if v := got["vpnflow_db_pool_acquire_wait_seconds_total"]; v <= 0 {
		t.Errorf("acquire_wait_seconds_total = %v, want > 0", v)
	}
}

func gather(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			out[f.GetName()] = value(f.GetType(), m)
		}
	}
	return out
}

func value(typ dto.MetricType, m *dto.Metric) float64 {
	if typ == dto.MetricType_COUNTER {
		return m.GetCounter().GetValue()
	}
	return m.GetGauge().GetValue()
}
