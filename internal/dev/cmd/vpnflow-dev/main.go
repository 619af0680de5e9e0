// Command vpnflow-dev is the local-development entry point, kept apart from
// the production programs so that they link none of internal/dev:
//
//	vpnflow-dev run     run the whole system locally (sandbox unless tokens are set;
//	                    -temporal postgres: on the production Temporal server)
//	vpnflow-dev tools   build the pinned Temporal CLI and Xray-core (first run
//	                    only; -temporal postgres: the Temporal server and its
//	                    schema tool)
//	vpnflow-dev chaos   the chaos suite: purchases under faults, then an audit
//	vpnflow-dev chaos-seed  the predecessor's incident replayed (10 min; -long: 60)
//	vpnflow-dev bench   the benchmarks: a table of figures, no assertions
//
// `make dev` and `make tools` run it from the repository root; the state of
// `make dev` lives in .dev/ there. The operator commands (migrate, schedules,
// reconcile) are in ./starter.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage: go run ./internal/dev/cmd/vpnflow-dev <command>

commands:
  run     run the whole system locally: PostgreSQL, Temporal (with UI),
          Xray, the worker and the bot; Telegram and Crypto Pay are local
          sandboxes unless TELEGRAM_BOT_TOKEN / CRYPTOPAY_TOKEN are set
          (-temporal postgres: the production Temporal server with its
          state in the local PostgreSQL instead of the dev server)
  tools   build the pinned Temporal CLI and Xray-core into the cache
          (-temporal postgres: the Temporal server and its SQL schema tool)
  chaos   drive purchases while killing and freezing the components, then
          audit (flags: -purchases 1000 -seed N -duration D -concurrency 16
          -faults all -hold 30s,120s; state and logs in .chaos/)
  chaos-seed  the predecessor's incident replayed: every Schedule fired
          together, Xray hung, PostgreSQL and Telegram slowed, for 10
          minutes (-long: 60; -duration D), then heal and audit
  bench   the benchmarks: the purchase pipeline at saturation and at half
          of it, a bare 3-activity workflow on the same server, and their
          ratio (flags: -purchases 300 -concurrency 32 -bare 20s)
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "vpnflow-dev:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return fmt.Errorf("no command given")
	}
	switch args[0] {
	case "run":
		return dev(ctx, args[1:])
	case "tools":
		return runTools(ctx, args[1:])
	case "chaos":
		return runChaos(ctx, args[1:])
	case "chaos-seed":
		return runChaosSeed(ctx, args[1:])
	case "bench":
		return runBench(ctx, args[1:])
	case "help", "-h", "--help":
		fmt.Print(usage)
		return nil
	}
	fmt.Fprint(os.Stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
