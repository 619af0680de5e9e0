package main

import (
	"context"

	"go.temporal.io/sdk/client"

	"fmt"
	"io"
	"strings"
	"time"

	"vpnflow/internal/config"
	"vpnflow/internal/db"
	"vpnflow/internal/nodeadmin"
	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

// nodes runs `starter nodes <operation>` (internal/nodeadmin, the same as
// the bot's /node) against the database; the worker picks the changes up
// from the node rows.
func nodes(ctx context.Context, args []string, out io.Writer) error {
	req, err := nodeadmin.Parse(args)
	if err != nil {
		return nodesUsage(err)
	}
	cfg, err := config.Load()
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	if err := cfg.ForStarter(); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	pool, err := db.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	text, err := nodeadmin.Run(ctx, store.New(pool), req, time.Now(), func(ctx context.Context, n store.Node) (int, error) {
		// Temporal is dialled only for a drain that moves users.
		return cfg.NodeDrainRate, withTemporal(ctx, func(cfg config.Config, tc client.Client) error {
			return shop.StartEvacuation(ctx, tc, cfg.TaskQueue, n.ID, n.Name,
				shop.EvacuationRequest{Mode: shop.EvacuateDrain, PerMinute: cfg.NodeDrainRate})
		})
	})
	if err != nil {
		if nodeadmin.IsInputError(err) {
			return nodesUsage(err)
		}
		return fmt.Errorf("nodes %s: %w", req.Op, err)
	}
	_, err = io.WriteString(out, text)
	return err
}

func nodesUsage(err error) error {
	return fmt.Errorf("%s\n\nusage: starter nodes <operation>\n  %s", nodeadmin.InputMessage(err),
		strings.ReplaceAll(nodeadmin.Usage, "\n", "\n  "))
}
