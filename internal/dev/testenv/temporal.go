package testenv

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"vpnflow/internal/dev/devstack"
	"vpnflow/internal/dev/stack"
)

var (
	temporalOnce sync.Once
	temporalSrv  *stack.TemporalServer
	temporalErr  error
)

// Temporal returns this test binary's Temporal server, starting it on first
// use: the dev server (in-memory, UI off), or with
// VPNFLOW_TEST_TEMPORAL=postgres the production server on a PostgreSQL
// cluster of its own (the stacks of devstack follow the same variable).
// VPNFLOW_TEST_TEMPORAL_ADDRESS reuses a running server instead; it must
// have vpnflow's search attributes registered.
func Temporal(tb testing.TB) *stack.TemporalServer {
	tb.Helper()
	temporalOnce.Do(func() {
		if addr := os.Getenv("VPNFLOW_TEST_TEMPORAL_ADDRESS"); addr != "" {
			temporalSrv = &stack.TemporalServer{Address: addr, Namespace: envOr("VPNFLOW_TEST_TEMPORAL_NAMESPACE", "default")}
			return
		}
		dir := Dir(tb, "temporal")
		log, err := os.Create(dir + "/temporal.log")
		if err != nil {
			temporalErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		switch kind := os.Getenv(devstack.TemporalEnv); kind {
		case "", devstack.TemporalDev:
			temporalSrv, temporalErr = stack.StartTemporal(ctx, stack.TemporalOptions{UIPort: -1, Log: log})
		case devstack.TemporalPostgres:
			temporalSrv, temporalErr = startTemporalPostgres(ctx, dir, log)
		default:
			temporalErr = fmt.Errorf("%s=%q: want %q or %q", devstack.TemporalEnv, kind, devstack.TemporalDev, devstack.TemporalPostgres)
		}
		if temporalErr == nil {
			atExit(func() { temporalSrv.Stop(); log.Close() })
		}
	})
	if temporalErr != nil {
		fail(tb, "temporal server", temporalErr)
	}
	return temporalSrv
}

// startTemporalPostgres runs the production profile on a cluster apart from
// the one test databases are made and dropped on, so neither disturbs the
// other; the cluster stops after the server (atExit runs in reverse).
func startTemporalPostgres(ctx context.Context, dir string, log io.Writer) (*stack.TemporalServer, error) {
	pg, err := stack.StartPostgres(ctx, stack.PostgresOptions{Dir: filepath.Join(dir, "postgres"), Fast: true})
	if err != nil {
		return nil, fmt.Errorf("its PostgreSQL: %w", err)
	}
	atExit(pg.Stop)
	return stack.StartTemporalPostgres(ctx, stack.TemporalPostgresOptions{Postgres: pg, Dir: filepath.Join(dir, "server"), Log: log})
}

// TemporalClient dials the test server; the client is closed when the test ends.
func TemporalClient(tb testing.TB) client.Client {
	tb.Helper()
	srv := Temporal(tb)
	c, err := client.Dial(client.Options{
		HostPort:  srv.Address,
		Namespace: srv.Namespace,
		Logger:    sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))),
	})
	if err != nil {
		fail(tb, "temporal client", err)
	}
	tb.Cleanup(c.Close)
	return c
}

// TaskQueue is a task queue name unique to the test, so workers of parallel
// tests never take each other's tasks.
func TaskQueue(tb testing.TB) string {
	return "test-" + strings.NewReplacer("/", "-", " ", "_").Replace(tb.Name()) + "-" + time.Now().Format("150405.000000")
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
