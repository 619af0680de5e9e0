package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"vpnflow/internal/config"
	"vpnflow/internal/schedules"
	"vpnflow/internal/telemetry"
	"vpnflow/internal/temporalclient"
)

// applySchedules creates or updates the reconcile, Xray watch and health
// check schedules from the configuration. The worker does the same at
// start; this is for changing intervals without restarting it.
func applySchedules(ctx context.Context) error {
	cfg, err := config.Load()
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	tel, err := telemetry.Setup(ctx, telemetry.Options{Service: "starter", Level: cfg.Level, Out: os.Stderr})
	if err != nil {
		return err
	}
	defer tel.Shutdown(context.WithoutCancel(ctx))
	tc, err := temporalclient.Dial(ctx, cfg, tel, 10*time.Second)
	if err != nil {
		return err
	}
	defer tc.Close()
	outcomes, err := schedules.Ensure(ctx, tc, cfg)
	for _, o := range outcomes {
		paused := ""
		if o.Paused {
			paused = " (paused; unpause it in the Temporal UI)"
		}
		fmt.Printf("schedule %-22s %s%s\n", o.ID, o.Did, paused)
	}
	return err
}
