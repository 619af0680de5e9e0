package botapp

import (
	"context"
	"fmt"
	"strings"
	"time"

	"vpnflow/internal/nodeadmin"
	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

// adminNodes runs /nodes (the list) and /node <operation> (nodeadmin):
// the node rows are the database's, so the bot changes them itself, and
// the worker picks the changes up from there.
func (a *App) adminNodes(ctx context.Context, admin store.User, cmd, args string) {
	lang := admin.Language
	fields := strings.Fields(args)
	if cmd == "nodes" && len(fields) == 0 {
		fields = []string{nodeadmin.OpList}
	}
	req, err := nodeadmin.Parse(fields)
	if err == nil && cmd == "node" && len(fields) == 0 {
		err = fmt.Errorf("%w: say what to do", nodeadmin.ErrUsage)
	}
	var out string
	if err == nil {
		out, err = nodeadmin.Run(ctx, a.store, req, time.Now(), a.drainNode)
	}
	switch {
	case err != nil && nodeadmin.IsInputError(err):
		a.log.Info("admin node command refused", "admin_id", admin.TelegramID, "args", truncate(args, 200), "reason", err)
		a.reply(ctx, admin.TelegramID, a.texts.T(lang, "admin_node_invalid", map[string]any{
			"Error": nodeadmin.InputMessage(err), "Usage": adminUsage["node"],
		}), nil)
	case err != nil:
		a.fail(ctx, admin.TelegramID, "admin node "+req.Op, err)
	case req.Op == nodeadmin.OpList:
		a.reply(ctx, admin.TelegramID, a.texts.T(lang, "admin_nodes", map[string]any{"List": out}), nil)
	default:
		a.log.Info("admin node command", "admin_id", admin.TelegramID, "op", req.Op, "node", req.Name)
		a.reply(ctx, admin.TelegramID, a.texts.T(lang, "admin_node_done", map[string]any{"Text": strings.TrimSpace(out)}), nil)
	}
}

// drainNode starts moving a drained node's users to other nodes at the
// configured drain rate (the NodeEvacuation workflow).
func (a *App) drainNode(ctx context.Context, n store.Node) (int, error) {
	req := shop.EvacuationRequest{Mode: shop.EvacuateDrain, PerMinute: a.cfg.NodeDrainRate}
	return req.PerMinute, shop.StartEvacuation(ctx, a.temporal, a.cfg.TaskQueue, n.ID, n.Name, req)
}
