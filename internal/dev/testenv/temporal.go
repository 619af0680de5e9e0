package testenv

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"vpnflow/internal/dev/stack"
)

var (
	temporalOnce sync.Once
	temporalSrv  *stack.TemporalServer
	temporalErr  error
)

// Temporal returns this test binary's Temporal dev server (in-memory, UI off),
// starting it on first use. VPNFLOW_TEST_TEMPORAL_ADDRESS reuses a running
// server instead; it must have vpnflow's search attributes registered.
func Temporal(tb testing.TB) *stack.TemporalServer {
	tb.Helper()
	temporalOnce.Do(func() {
		if addr := os.Getenv("VPNFLOW_TEST_TEMPORAL_ADDRESS"); addr != "" {
			temporalSrv = &stack.TemporalServer{Address: addr, Namespace: envOr("VPNFLOW_TEST_TEMPORAL_NAMESPACE", "default")}
			return
		}
		log, err := os.Create(Dir(tb, "temporal") + "/temporal.log")
		if err != nil {
			temporalErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		temporalSrv, temporalErr = stack.StartTemporal(ctx, stack.TemporalOptions{UIPort: -1, Log: log})
		if temporalErr == nil {
			atExit(func() { temporalSrv.Stop(); log.Close() })
		}
	})
	if temporalErr != nil {
		fail(tb, "temporal dev server", temporalErr)
	}
	return temporalSrv
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
