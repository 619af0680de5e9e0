package main

import (
	"context"
	"fmt"
	"os"

	"vpnflow/internal/config"
	"vpnflow/schema"
)

func migrate(ctx context.Context) error {
	cfg, err := config.Load()
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	if err := cfg.ForStarter(); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	return schema.Migrate(ctx, cfg.DatabaseURL, os.Stdout)
}
