// Package daemon is the shared wiring of vpnflow's processes: the main of
// the long-running ones (configuration from the environment, telemetry, and
// a context that ends on SIGINT or SIGTERM) and the one way every process
// dials Temporal.
package daemon

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"vpnflow/internal/config"
	"vpnflow/internal/telemetry"
)

// Main runs a process until a signal stops it, and exits non-zero with one
// line on stderr if it fails (a configuration error names the variable).
func Main(service string, run func(context.Context, config.Config, *telemetry.Telemetry) error) {
	if err := serve(service, run); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", service, err)
		os.Exit(1)
	}
}

func serve(service string, run func(context.Context, config.Config, *telemetry.Telemetry) error) error {
	cfg, err := config.Load()
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tel, err := telemetry.Setup(ctx, telemetry.Options{Service: "vpnflow-" + service, Level: cfg.Level, OTLPEndpoint: cfg.OTLPEndpoint, Out: os.Stderr})
	if err != nil {
		return err
	}
	defer func() {
		// Bounded: an unreachable collector must not hold up a shutdown.
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		tel.Shutdown(sctx)
	}()
	return run(ctx, cfg, tel)
}
