package chaos

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/url"
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
	dbProxy     *slowProxy // between the shop and PostgreSQL, when asked for
	pool        *pgxpool.Pool
	store       *store.Store
	temporal    client.Client
	xray        *xray.Client
}

// startSystem brings up the stack with Temporal on a SQLite file and a
// durable PostgreSQL (so a SIGKILL of either loses nothing acknowledged),
// then the worker and the bot as binaries.
//
// With env, those settings override shopConfig. With slowDB, the worker
// and the bot reach PostgreSQL through a slowProxy (s.dbProxy) that can
// slow it down; the suite's own audit connects directly.
func startSystem(ctx context.Context, dir string, progress io.Writer, env map[string]string, slowDB bool) (_ *system, err error) {
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
	settings := maps.Clone(shopConfig)
	maps.Copy(settings, env)
	s.stack, err = devstack.Start(ctx, devstack.Options{
		Dir: filepath.Join(dir, "state"), Env: settings, Persistent: true,
		Ports: devstack.Ports{TemporalUI: -1}, Progress: progress,
	})
	if err != nil {
		return nil, fmt.Errorf("start stack: %w", err)
	}
	cfg := s.stack.Config
	procEnv := s.stack.Env
	if slowDB {
		if procEnv, err = s.slowDatabase(cfg.DatabaseURL); err != nil {
			return nil, err
		}
	}
	s.worker = newProc("worker", workerBin, dir, procEnv)
	s.bot = newProc("bot", botBin, dir, procEnv)
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

// slowDatabase starts s.dbProxy in front of the database at dbURL and
// returns the stack's environment with DATABASE_URL pointing through it.
func (s *system) slowDatabase(dbURL string) (map[string]string, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return nil, fmt.Errorf("database url: %w", err)
	}
	if s.dbProxy, err = startSlowProxy(u.Host); err != nil {
		return nil, err
	}
	u.Host = s.dbProxy.Addr()
	env := maps.Clone(s.stack.Env)
	env["DATABASE_URL"] = u.String()
	return env, nil
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
	if s.dbProxy != nil {
		s.dbProxy.Close()
	}
	if s.stack != nil {
		s.stack.Stop()
	}
}

// quietLogger keeps the SDK's reconnect warnings during faults out of the
// report.
func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
