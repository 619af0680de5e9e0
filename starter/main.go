// Command starter is vpnflow's operator tool:
//
//	starter migrate           apply database migrations
//	starter schedules apply   create or update the Temporal Schedules
//	starter reconcile         run the Xray reconciliation now
//	starter nodes ...         list, add, change, drain, disable or enable Xray nodes
//
// Configuration comes from environment variables (see README). It is a
// production program and links nothing of internal/dev; the local stack
// (`make dev`, `make tools`) has its own entry point, internal/dev/cmd/vpnflow-dev.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: starter <command>

commands:
  migrate           apply database migrations (DATABASE_URL)
  schedules apply   create or update the reconcile, Xray watch, health-check and
                    traffic Schedules (the worker also does this at start)
  reconcile         trigger the Xray reconciliation now
  nodes [list]      the Xray nodes: users, capacity, state, health (DATABASE_URL)
  nodes add name=… region=… api=host:port host=… pbk=… sni=… capacity=N [port=443] [tag=vless-in] [sid=…]
  nodes set <name> field=value…
  nodes drain|disable|enable <name>
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "starter:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return fmt.Errorf("no command given")
	}
	switch args[0] {
	case "migrate":
		return migrate(ctx)
	case "schedules":
		if len(args) < 2 || args[1] != "apply" {
			return fmt.Errorf("usage: starter schedules apply")
		}
		return applySchedules(ctx)
	case "reconcile":
		return reconcileNow(ctx)
	case "nodes":
		return nodes(ctx, args[1:], os.Stdout)
	case "help", "-h", "--help":
		fmt.Print(usage)
		return nil
	}
	fmt.Fprint(os.Stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
