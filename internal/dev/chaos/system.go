package chaos

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"vpnflow/internal/db"
	"vpnflow/internal/dev/devstack"
	"vpnflow/internal/store"
	"vpnflow/internal/xray"
)

// shopConfig runs the shop as in production, with its clocks shortened so
// that the recovery paths act within the run: Crypto Pay polling finds a
// dropped webhook in seconds, the Xray watch notices a restart quickly, and
// a restarted bot takes over the token lease its killed predecessor could
// not release within seconds rather than the production 30 s.
var shopConfig = map[string]string{
	"TELEGRAM_LEASE_TTL":      "5s",
	"CRYPTOPAY_POLL_INTERVAL": "3s",
	"XRAY_WATCH_INTERVAL":     "10s",
	"RECONCILE_INTERVAL":      "1m",
	"PLANS":                   "1m:30d:3.00:150,3m:90d:8.00:400",
	"LOG_LEVEL":               "info",
}

// system is the shop under test: the stack, the worker and bot binaries,
// and handles to look inside.
type system struct {
	stack       *devstack.Stack
	worker, bot *proc
	pool        *pgxpool.Pool
	store       *store.Store
	temporal    client.Client
	xray        *xray.Client
}

// startSystem brings up the stack with Temporal on a SQLite file and a
// durable PostgreSQL (so a SIGKILL of either loses nothing acknowledged),
// then the worker and the bot as binaries.
func startSystem(ctx context.Context, dir string, progress io.Writer) (_ *system, err error) {
	s := &system{}
	defer func() {
		if err != nil {
			s.stop()
		}
	}()
	workerBin, botBin, err := buildBinaries(ctx, dir)
	if err != nil {
		return nil, err
	}
	s.stack, err = devstack.Start(ctx, devstack.Options{
		Dir: filepath.Join(dir, "state"), Env: shopConfig, Persistent: true,
		Ports: devstack.Ports{TemporalUI: -1}, Progress: progress,
	})
	if err != nil {
		return nil, fmt.Errorf("start stack: %w", err)
	}
	cfg := s.stack.Config
	s.worker = newProc("worker", workerBin, dir, s.stack.Env)
	s.bot = newProc("bot", botBin, dir, s.stack.Env)
	s.bot.ready = httpReady("http://"+cfg.HTTPAddr+"/readyz", readyLimit)
	if err := s.worker.start(ctx); err != nil {
		return nil, err
	}
	if err := s.bot.start(ctx); err != nil {
		return nil, err
	}
	if s.pool, err = db.Open(ctx, cfg.DatabaseURL); err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	s.store = store.New(s.pool)
	if s.temporal, err = client.Dial(client.Options{
		HostPort: cfg.TemporalAddress, Namespace: cfg.TemporalNamespace,
		Logger: sdklog.NewStructuredLogger(quietLogger()),
	}); err != nil {
		return nil, fmt.Errorf("dial temporal: %w", err)
	}
	if s.xray, err = xray.Dial(cfg.XrayAPIAddr, cfg.XrayInboundTag, nil); err != nil {
		return nil, fmt.Errorf("dial xray: %w", err)
	}
	return s, nil
}

func (s *system) stop() {
	if s.bot != nil {
		s.bot.stop()
	}
	if s.worker != nil {
		s.worker.stop()
	}
	if s.xray != nil {
		s.xray.Close()
	}
	if s.temporal != nil {
		s.temporal.Close()
	}
	if s.pool != nil {
		s.pool.Close()
	}
	if s.stack != nil {
		s.stack.Stop()
	}
}

// quietLogger keeps the SDK's reconnect warnings during faults out of the
// report.
func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
