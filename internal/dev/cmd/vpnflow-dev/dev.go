package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/sync/errgroup"

	"vpnflow/internal/botapp"
	"vpnflow/internal/dev/devstack"
	"vpnflow/internal/telemetry"
	"vpnflow/internal/workerapp"
)

// devDir is the git-ignored state directory of `make dev`.
const devDir = ".dev"

// dev runs the whole system in the foreground until Ctrl-C. -temporal
// postgres runs it on the production Temporal server with its state in the
// local PostgreSQL cluster (`make dev TEMPORAL=postgres`).
func dev(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	temporal := fs.String("temporal", devstack.TemporalDev, "which Temporal server: dev (the CLI's dev server, with UI) or postgres (the production server on the local PostgreSQL)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	started := time.Now()
	fmt.Println("vpnflow: starting the local stack (Ctrl-C stops everything)")
	if err := tools(ctx, devTools(*temporal)...); err != nil {
		return err
	}
	dir, err := filepath.Abs(devDir)
	if err != nil {
		return err
	}
	st, err := devstack.Start(ctx, devstack.Options{
		Dir: dir, Env: environ(), Ports: devstack.DevPorts, Persistent: true, Temporal: *temporal, Progress: os.Stdout,
		SecondNode: true,
	})
	if err != nil {
		return fmt.Errorf("%w\n(logs are in %s; a port in use means another `make dev` may be running)", err, dir)
	}
	defer func() {
		fmt.Println("vpnflow: stopping")
		st.Stop()
	}()

	logPath := filepath.Join(dir, "vpnflow.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	tel, err := telemetry.Setup(ctx, telemetry.Options{Service: "vpnflow-dev", Level: st.Config.Level, OTLPEndpoint: st.Config.OTLPEndpoint, Out: logFile})
	if err != nil {
		return err
	}
	defer tel.Shutdown(context.WithoutCancel(ctx))

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return workerapp.Run(gctx, st.Config, tel) })
	g.Go(func() error { return botapp.Run(gctx, st.Config, tel) })

	printURLs(st, logPath, time.Since(started))
	err = g.Wait()
	if errors.Is(err, context.Canceled) || ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("%w (details in %s)", err, logPath)
}

func printURLs(st *devstack.Stack, logPath string, took time.Duration) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "\nvpnflow is up (%s):\n", took.Round(time.Second))
	if st.Temporal.UIURL != "" {
		fmt.Fprintf(w, "  Temporal UI\t%s\n", st.Temporal.UIURL)
	} else {
		fmt.Fprintf(w, "  Temporal UI\tnone\t(the production server has none; `temporal workflow list` or docker compose's UI)\n")
	}
	if st.Telegram != nil {
		fmt.Fprintf(w, "  Sandbox chat\t%s/\t(a Telegram chat with the bot; no token needed)\n", st.Telegram.URL())
	} else {
		fmt.Fprintf(w, "  Telegram\treal Bot API\t(%s mode)\n", st.Config.TelegramMode)
	}
	if st.CryptoPay != nil {
		fmt.Fprintf(w, "  Crypto Pay sandbox\t%s\t(API; an invoice's pay page opens from its button in the chat)\n", st.CryptoPay.URL())
	}
	fmt.Fprintf(w, "  Bot HTTP\thttp://%s/healthz\t/readyz /metrics /webhooks/cryptopay\n", st.Config.HTTPAddr)
	fmt.Fprintf(w, "  Worker metrics\thttp://%s/metrics\n", st.Config.WorkerMetricsAddr)
	fmt.Fprintf(w, "  Temporal\t%s\tnamespace %s, task queue %s\n", st.Config.TemporalAddress, st.Config.TemporalNamespace, st.Config.TaskQueue)
	if st.Postgres != nil {
		fmt.Fprintf(w, "  PostgreSQL\t%s\n", st.Postgres.URL)
	}
	fmt.Fprintf(w, "  Xray API\t%s\tnode default (region %s): inbound %s, VLESS on %s:%d\n", st.Xray.APIAddr,
		st.Config.XrayNodeRegion, st.Xray.InboundTag, st.Xray.VLESSHost, st.Xray.VLESSPort)
	if st.Xray2 != nil {
		fmt.Fprintf(w, "  Xray API\t%s\tnode %s (region %s): inbound %s, VLESS on %s:%d\n", st.Xray2.APIAddr,
			devstack.SecondNodeName, devstack.SecondNodeRegion, st.Xray2.InboundTag, st.Xray2.VLESSHost, st.Xray2.VLESSPort)
	}
	fmt.Fprintf(w, "  Logs\ttail -f %s\n", logPath)
	w.Flush()
}

func environ() map[string]string {
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return env
}
