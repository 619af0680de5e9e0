// Command bot runs vpnflow's Telegram-facing process: updates by long
// polling or webhook, the Crypto Pay webhook, /healthz, /readyz and /metrics.
// Configuration comes from environment variables (see README).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"vpnflow/internal/botapp"
	"vpnflow/internal/config"
	"vpnflow/internal/telemetry"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bot:", err)
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
	tel, err := telemetry.Setup(ctx, telemetry.Options{Service: "vpnflow-bot", Level: cfg.Level, OTLPEndpoint: cfg.OTLPEndpoint, Out: os.Stderr})
	if err != nil {
		return err
	}
	defer tel.Shutdown(context.WithoutCancel(ctx))
	return botapp.Run(ctx, cfg, tel)
}
