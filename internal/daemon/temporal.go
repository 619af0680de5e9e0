package daemon

// Every process dials Temporal the same way: with the configured address
// and namespace, tracing, metrics and structured logs.

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/client"

	"vpnflow/internal/config"
	"vpnflow/internal/telemetry"
)

// DialTemporal connects to Temporal and checks the namespace is served, retrying for
// up to wait so a process started together with the server does not fail
// its first seconds.
// Each configure function may adjust the options after telemetry is set,
// e.g. to wrap the metrics handler (WorkerLoops.MetricsHandler).
func DialTemporal(ctx context.Context, cfg config.Config, tel *telemetry.Telemetry, wait time.Duration, configure ...func(*client.Options)) (client.Client, error) {
	opts := client.Options{HostPort: cfg.TemporalAddress, Namespace: cfg.TemporalNamespace}
	if err := tel.ApplyTemporal(&opts); err != nil {
		return nil, err
	}
	for _, f := range configure {
		f(&opts)
	}
	deadline := time.Now().Add(wait)
	for {
		c, err := client.DialContext(ctx, opts)
		if err == nil {
			return c, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("connect to temporal at %s (namespace %s): %w (is the server running? check TEMPORAL_ADDRESS)", cfg.TemporalAddress, cfg.TemporalNamespace, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}
