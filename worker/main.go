// Command worker runs vpnflow's Temporal worker: every workflow and activity.
// Configuration comes from environment variables (see README).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"vpnflow/internal/config"
	"vpnflow/internal/telemetry"
	"vpnflow/internal/workerapp"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := config.Load()
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tel, err := telemetry.Setup(ctx, telemetry.Options{Service: "vpnflow-worker", Level: cfg.Level, OTLPEndpoint: cfg.OTLPEndpoint, Out: os.Stderr})
	if err != nil {
		return err
	}
	defer tel.Shutdown(context.WithoutCancel(ctx))
	return workerapp.Run(ctx, cfg, tel)
}
