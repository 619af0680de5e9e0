package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"go.temporal.io/sdk/client"

	"vpnflow/internal/config"
	"vpnflow/internal/daemon"
	"vpnflow/internal/schedules"
	"vpnflow/internal/telemetry"
)

// applySchedules creates or updates the reconcile, Xray watch and health
// check schedules from the configuration. The worker does the same at
// start; this is for changing intervals without restarting it.
func applySchedules(ctx context.Context) error {
	return withTemporal(ctx, func(cfg config.Config, tc client.Client) error {
		return ensureSchedules(ctx, cfg, tc)
	})
}

// reconcileNow triggers the reconcile schedule once, now.
func reconcileNow(ctx context.Context) error {
	return withTemporal(ctx, func(_ config.Config, tc client.Client) error {
		if err := schedules.TriggerNow(ctx, tc, schedules.ReconcileID); err != nil {
			return fmt.Errorf("trigger %s: %w (has the worker or `starter schedules apply` created it?)", schedules.ReconcileID, err)
		}
		fmt.Printf("reconcile triggered: watch %s in the Temporal UI\n", schedules.ReconcileID)
		return nil
	})
}

// withTemporal loads the configuration and dials Temporal for a command.
func withTemporal(ctx context.Context, run func(config.Config, client.Client) error) error {
	cfg, err := config.Load()
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	tel, err := telemetry.Setup(ctx, telemetry.Options{Service: "starter", Level: cfg.Level, Out: os.Stderr})
	if err != nil {
		return err
	}
	defer tel.Shutdown(context.WithoutCancel(ctx))
	tc, err := daemon.DialTemporal(ctx, cfg, tel, 10*time.Second)
	if err != nil {
		return err
	}
	defer tc.Close()
	return run(cfg, tc)
}

func ensureSchedules(ctx context.Context, cfg config.Config, tc client.Client) error {
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
