// Package devstack brings up the whole system on one machine: PostgreSQL,
// Temporal (the dev server, or the production server on PostgreSQL),
// Xray-core, the Telegram and Crypto Pay stand-ins (unless real tokens are
// given), and the worker and bot. `make dev` and the end-to-end tests both
// use it, so what a developer runs is what CI tests.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"vpnflow/internal/config"
	"vpnflow/internal/db"
	fakecp "vpnflow/internal/dev/fake/cryptopay"
	faketg "vpnflow/internal/dev/fake/telegram"
	"vpnflow/internal/dev/stack"
	"vpnflow/internal/store"
	"vpnflow/schema"
)

// Ports are where the stack listens on 127.0.0.1; a zero port is picked free.
type Ports struct {
	Postgres, Temporal, TemporalUI, XrayAPI, VLESS, Telegram, CryptoPay, Bot, WorkerMetrics int
	// The second node (Options.SecondNode).
	XrayAPI2, VLESS2 int
}

// DevPorts are the fixed ports `make dev` uses, so URLs stay the same.
var DevPorts = Ports{
	Postgres: 54329, Temporal: 7233, TemporalUI: 8233, XrayAPI: 10085, VLESS: 8443,
	Telegram: 8088, CryptoPay: 8089, Bot: 8080, WorkerMetrics: 9091,
	XrayAPI2: 10086, VLESS2: 8444,
}

// Options configures Start.
type Options struct {
	Dir string // state directory: database, Temporal history, Xray config, logs
	// Env is the caller's environment. A variable set there wins over the
	// stack's own value; DATABASE_URL, TELEGRAM_BOT_TOKEN and CRYPTOPAY_TOKEN
	// set there replace the local PostgreSQL and the stand-ins.
	Env   map[string]string
	Ports Ports
	// Persistent keeps Temporal's history in a SQLite file and runs
	// PostgreSQL durably; tests run both in their fast, throwaway modes.
	Persistent bool
	// Temporal is TemporalDev or TemporalPostgres; empty takes
	// $VPNFLOW_TEST_TEMPORAL, and the dev server when that is unset too.
	Temporal string
	// SecondNode runs a second Xray on ports of its own, registered as the
	// node SecondNodeName in region SecondNodeRegion beside the
	// environment's node (region FirstNodeRegion), so new users spread
	// over both. `make dev` runs it.
	SecondNode bool
	Progress   io.Writer // one line per step
	// XrayTarget and XrayAllowPrivate configure the stack's Xray nodes as
	// stack.XrayOptions' Target and AllowPrivate do, for tests that send
	// real VPN traffic to local servers (vlessclient).
	XrayTarget       string
	XrayAllowPrivate bool
}

// The sandbox's two nodes.
const (
	FirstNodeRegion  = "eu-1"
	SecondNodeName   = "eu-2"
	SecondNodeRegion = "eu-2"
)

// Stack is a running local system, minus the worker and bot, which the
// caller runs (in-process or as binaries) with Config or Env.
type Stack struct {
	Config    config.Config
	Env       map[string]string // the configuration as environment variables
	Postgres  *stack.Postgres   // nil when DATABASE_URL was given
	Temporal  *stack.TemporalServer
	Xray      *stack.XrayServer
	Xray2     *stack.XrayServer // the second node; nil without Options.SecondNode
	Telegram  *faketg.Server    // nil when TELEGRAM_BOT_TOKEN was given
	CryptoPay *fakecp.Server    // nil when CRYPTOPAY_TOKEN was given

	stops []func()
}

// Sandbox tokens: the stand-ins accept these and nothing else.
const (
	sandboxTelegramToken  = faketg.DefaultToken
	sandboxCryptoPayToken = "sandbox-cryptopay-token"
	sandboxWebhookSecret  = "sandbox-webhook-secret"
)

// SandboxAdminID is the first user the Telegram stand-in creates.
const SandboxAdminID = 7_000_000_001

// Start brings the stack up. On error, whatever started is stopped again.
func Start(ctx context.Context, opts Options) (_ *Stack, err error) {
	s := &Stack{}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	out := opts.Progress
	if out == nil {
		out = io.Discard
	}
	step := func(format string, args ...any) { fmt.Fprintf(out, "• "+format+"\n", args...) }
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create state dir %s: %w", opts.Dir, err)
	}
	// PostgreSQL runs as its own user and must be able to enter the dir.
	_ = os.Chmod(opts.Dir, 0o755)
	p := opts.Ports
	pick := func(port *int) error {
		if *port != 0 {
			return nil
		}
		n, err := stack.FreePort()
		*port = n
		return err
	}
	// The worker's metrics port is not needed by anyone in advance, so
	// with no fixed port it binds port 0: a port picked here and bound later
	// can be taken in between by a parallel test's server.
	metricsAddr := addr(p.WorkerMetrics)
	// The stand-ins bind port 0 themselves when none is fixed, and the
	// bot's port is picked last: the less time between picking a port and
	// binding it, the less chance a parallel test's server takes it.
	user := opts.Env
	env := map[string]string{
		"TEMPORAL_NAMESPACE":  "default",
		"WORKER_METRICS_ADDR": metricsAddr,
		"LOG_LEVEL":           "info",
	}

	if url := user["DATABASE_URL"]; url != "" {
		step("PostgreSQL: using DATABASE_URL")
	} else {
		step("PostgreSQL 15: starting a local cluster in %s", filepath.Join(opts.Dir, "postgres"))
		s.Postgres, err = stack.StartPostgres(ctx, stack.PostgresOptions{
			Dir: filepath.Join(opts.Dir, "postgres"), Port: p.Postgres, Fast: !opts.Persistent,
		})
		if err != nil {
			return nil, fmt.Errorf("postgres: %w", err)
		}
		s.stops = append(s.stops, s.Postgres.Stop)
		env["DATABASE_URL"] = s.Postgres.URL
	}

	temporalLog, err := os.Create(filepath.Join(opts.Dir, "temporal.log"))
	if err != nil {
		return nil, err
	}
	s.stops = append(s.stops, func() { temporalLog.Close() })
	if err := s.startTemporal(ctx, opts, p, temporalLog, step); err != nil {
		return nil, fmt.Errorf("temporal: %w (log: %s)", err, temporalLog.Name())
	}
	s.stops = append(s.stops, func() { s.Temporal.Stop() })
	env["TEMPORAL_ADDRESS"] = s.Temporal.Address
	if s.Temporal.UIURL != "" {
		env["TEMPORAL_UI_URL"] = s.Temporal.UIURL
	}

	step("Xray-core %s: starting", stack.Xray.Version)
	s.Xray, err = stack.StartXray(ctx, stack.XrayOptions{
		Dir: filepath.Join(opts.Dir, "xray"), APIPort: p.XrayAPI, VLESSPort: p.VLESS,
		Target: opts.XrayTarget, AllowPrivate: opts.XrayAllowPrivate,
	})
	if err != nil {
		return nil, fmt.Errorf("xray: %w", err)
	}
	s.stops = append(s.stops, s.Xray.Stop)
	env["XRAY_API_ADDR"] = s.Xray.APIAddr
	env["XRAY_INBOUND_TAG"] = s.Xray.InboundTag
	env["VLESS_HOST"] = s.Xray.VLESSHost
	env["VLESS_PORT"] = strconv.Itoa(s.Xray.VLESSPort)
	env["VLESS_REALITY_PUBLIC_KEY"] = s.Xray.PublicKey
	env["VLESS_REALITY_SNI"] = s.Xray.SNI
	env["VLESS_REALITY_SHORT_ID"] = s.Xray.ShortID
	if opts.SecondNode {
		step("Xray-core %s: starting the second node", stack.Xray.Version)
		s.Xray2, err = stack.StartXray(ctx, stack.XrayOptions{
			Dir: filepath.Join(opts.Dir, "xray-2"), APIPort: p.XrayAPI2, VLESSPort: p.VLESS2,
			Target: opts.XrayTarget, AllowPrivate: opts.XrayAllowPrivate,
		})
		if err != nil {
			return nil, fmt.Errorf("xray (second node): %w", err)
		}
		s.stops = append(s.stops, s.Xray2.Stop)
		env["XRAY_NODE_REGION"] = FirstNodeRegion
	}

	if user["TELEGRAM_BOT_TOKEN"] != "" {
		step("Telegram: real Bot API (TELEGRAM_BOT_TOKEN is set)")
	} else {
		s.Telegram, err = faketg.New(faketg.Options{
			TemporalUIURL: s.Temporal.UIURL, TemporalNamespace: "default",
		})
		if err != nil {
			return nil, fmt.Errorf("telegram stand-in: %w", err)
		}
		if err := s.Telegram.Start(addr(p.Telegram)); err != nil {
			return nil, fmt.Errorf("telegram stand-in on %s: %w", addr(p.Telegram), err)
		}
		s.stops = append(s.stops, func() { s.Telegram.Close() })
		env["TELEGRAM_BOT_TOKEN"] = sandboxTelegramToken
		env["TELEGRAM_API_URL"] = s.Telegram.URL()
		env["TELEGRAM_WEBHOOK_SECRET"] = sandboxWebhookSecret
		env["VPNFLOW_SANDBOX"] = "true"
		// A last, one-minute reminder, so "expire in 2 minutes" shows one.
		env["REMINDERS_PAID"] = "72h,24h,1h,1m"
		env["REMINDERS_TRIAL"] = "24h,1h,1m"
		// The stand-in numbers users from SandboxAdminID up, so the first
		// sandbox user can try the admin commands.
		env["ADMIN_IDS"] = strconv.FormatInt(SandboxAdminID, 10)
		step("Telegram: sandbox stand-in at %s", s.Telegram.URL())
	}

	if user["CRYPTOPAY_TOKEN"] != "" {
		step("Crypto Pay: real API (CRYPTOPAY_TOKEN is set)")
	} else {
		s.CryptoPay, err = fakecp.New(fakecp.Options{
			Token:                sandboxCryptoPayToken,
			ReturnURL:            sandboxReturnURL(s.Telegram),
			WebhookRetryInterval: time.Second,
		})
		if err != nil {
			return nil, fmt.Errorf("crypto pay stand-in: %w", err)
		}
		if err := s.CryptoPay.Start(addr(p.CryptoPay)); err != nil {
			return nil, fmt.Errorf("crypto pay stand-in on %s: %w", addr(p.CryptoPay), err)
		}
		s.stops = append(s.stops, func() { s.CryptoPay.Close() })
		env["CRYPTOPAY_TOKEN"] = sandboxCryptoPayToken
		env["CRYPTOPAY_API_URL"] = s.CryptoPay.URL()
		step("Crypto Pay: sandbox stand-in at %s", s.CryptoPay.URL())
	}

	if err := pick(&p.Bot); err != nil {
		return nil, err
	}
	env["HTTP_ADDR"] = addr(p.Bot)
	// The caller's own settings win over the stack's.
	for k, v := range user {
		if v != "" && isConfigVar(k) {
			env[k] = v
		}
	}
	// Subscription URLs point at the bot itself, on loopback: the sandbox
	// chat and the tests open them from this machine.
	if env["SUBSCRIPTION_BASE_URL"] == "" {
		env["SUBSCRIPTION_BASE_URL"] = "http://" + env["HTTP_ADDR"]
	}
	if s.CryptoPay != nil {
		// The bot may listen elsewhere than the stack picked.
		s.CryptoPay.SetWebhookURL("http://" + env["HTTP_ADDR"] + "/webhooks/cryptopay")
	}
	if s.Telegram != nil && (env["TELEGRAM_API_URL"] != s.Telegram.URL()) {
		return nil, errors.New("TELEGRAM_API_URL is set but TELEGRAM_BOT_TOKEN is not: set both for real Telegram, or neither for the sandbox")
	}
	s.Config, err = config.LoadFrom(env)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	s.Env = env
	// Migrations run before the worker and the bot start, so neither ever
	// sees a half-made schema (the worker migrates too, for deployments).
	step("database migrations")
	if err := schema.Migrate(ctx, s.Config.DatabaseURL, indent{out}); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	if s.Xray2 != nil {
		step("second node %s (region %s): API %s, VLESS on %s:%d", SecondNodeName, SecondNodeRegion,
			s.Xray2.APIAddr, s.Xray2.VLESSHost, s.Xray2.VLESSPort)
		if err := s.registerSecondNode(ctx); err != nil {
			return nil, err
		}
	}
	if s.Telegram != nil {
		if err := s.skipKnownUsers(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func isConfigVar(name string) bool {
	if strings.HasPrefix(name, "OTEL_") {
		return true
	}
	for _, v := range config.Vars() {
		if v.Name == name {
			return true
		}
	}
	return false
}

// registerSecondNode writes the second node's row (its REALITY keys are
// new at every start), as an operator's `starter nodes add` would.
func (s *Stack) registerSecondNode(ctx context.Context) error {
	pool, err := db.Open(ctx, s.Config.DatabaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	x := s.Xray2
	_, err = store.New(pool).UpsertNode(ctx, store.Node{
		Name: SecondNodeName, Region: SecondNodeRegion, APIAddr: x.APIAddr, InboundTag: x.InboundTag,
		Host: x.VLESSHost, Port: x.VLESSPort, PublicKey: x.PublicKey, SNI: x.SNI, ShortID: x.ShortID,
	})
	if err != nil {
		return fmt.Errorf("register the second node: %w", err)
	}
	return nil
}

// skipKnownUsers keeps the stand-in from reusing ids of users the kept
// database already knows.
func (s *Stack) skipKnownUsers(ctx context.Context) error {
	pool, err := db.Open(ctx, s.Config.DatabaseURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	var max int64
	if err := pool.QueryRow(ctx, `SELECT coalesce(max(telegram_id), 0) FROM users`).Scan(&max); err != nil {
		return fmt.Errorf("read known users: %w", err)
	}
	s.Telegram.SkipUserIDs(max)
	return nil
}

func sandboxReturnURL(tg *faketg.Server) string {
	if tg == nil {
		return ""
	}
	return tg.URL() + "/"
}

// indent prefixes a step's detail lines so they read as part of it.
type indent struct{ w io.Writer }

func (i indent) Write(p []byte) (int, error) {
	for _, line := range strings.SplitAfter(string(p), "\n") {
		if line != "" {
			fmt.Fprint(i.w, "    "+line)
		}
	}
	return len(p), nil
}

func addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// Stop stops everything Start started, in reverse order.
func (s *Stack) Stop() {
	for i := len(s.stops) - 1; i >= 0; i-- {
		s.stops[i]()
	}
	s.stops = nil
}
