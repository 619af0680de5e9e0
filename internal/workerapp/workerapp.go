// Package workerapp runs the worker process: it connects to Postgres, Xray,
// Crypto Pay, Telegram and Temporal, registers the workflows and activities
// and polls the task queue until its context ends.
package workerapp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"go.temporal.io/sdk/client"
	"golang.org/x/sync/errgroup"

	"vpnflow/activities"
	"vpnflow/internal/circuit"
	"vpnflow/internal/config"
	"vpnflow/internal/cryptopay"
	"vpnflow/internal/daemon"
	"vpnflow/internal/db"
	"vpnflow/internal/i18n"
	"vpnflow/internal/sandboxgate"
	"vpnflow/internal/schedules"
	"vpnflow/internal/store"
	"vpnflow/internal/telegram"
	"vpnflow/internal/telemetry"
	"vpnflow/internal/xray"
	"vpnflow/schema"
)

// Run runs a worker until ctx ends. It returns nil on a clean shutdown.
func Run(ctx context.Context, cfg config.Config, tel *telemetry.Telemetry) error {
	log := tel.Logger()
	if err := cfg.ForWorker(); err != nil {
		return err
	}
	log.Info("worker starting", "config", cfg)

	if err := schema.Migrate(ctx, cfg.DatabaseURL, migrationLog{log}); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	pool, err := db.OpenMetered(ctx, cfg.DatabaseURL, tel.Registry(), "worker", db.WithDefaultMaxConns(PoolSize))
	if err != nil {
		return err
	}
	defer pool.Close()
	st := store.New(pool)
	nodeID, err := st.UpsertNode(ctx, EnvNode(cfg))
	if err != nil {
		return fmt.Errorf("register xray node: %w", err)
	}
	nodes := xray.NewRegistry(activities.NodeEndpoints(st), log)
	defer nodes.Close()

	if cfg.XrayEndSessions {
		enableEndingSessions(log)
	}

	// One circuit breaker per external system (internal/circuit), and one
	// per Xray node: a hung or down system fails calls fast instead of
	// holding activity slots.
	tgBreaker := circuit.New("telegram", log, circuit.HTTPFailure)
	cpBreaker := circuit.New("cryptopay", log, circuit.HTTPFailure)
	circuit.Register(tel.Registry(), tgBreaker, cpBreaker)
	circuit.RegisterOpen(tel.Registry(), "xray", func() bool {
		for _, open := range nodes.Open() {
			if open {
				return true
			}
		}
		return false
	})
	// Every message the worker sends waits for one shared budget, so an
	// expiry storm's notices and a broadcast together stay under
	// Telegram's flood limit instead of being refused with 429.
	pace := telegram.NewPace(cfg.TelegramSendRate, tel.Registry())
	tg, err := telegram.New(cfg.TelegramBotToken, cfg.TelegramAPIURL, tgBreaker.Transport(nil), pace)
	if err != nil {
		return err
	}
	texts, err := i18n.New()
	if err != nil {
		return err
	}
	if cfg.Sandbox {
		// The sandbox activities run only against our own Telegram
		// stand-in, whatever the configuration says; decided once.
		if err := sandboxgate.Check(ctx, cfg.TelegramAPIURL, cfg.TelegramBotToken, nil); err != nil {
			log.Warn("sandbox activities refused: VPNFLOW_SANDBOX is on, but Telegram is not the vpnflow stand-in", "reason", err)
			cfg.Sandbox = false
		}
	}
	// The worker is live while its pollers return and its task slots are
	// not all stuck; the SDK's own metrics tell (daemon.WorkerLoops).
	live := daemon.NewLiveness()
	loops := live.WatchWorker(cfg.LivenessBound, BulkheadQueues(cfg)...)
	tc, err := daemon.DialTemporal(ctx, cfg, tel, 30*time.Second, func(o *client.Options) {
		o.MetricsHandler = loops.MetricsHandler(o.MetricsHandler)
	})
	if err != nil {
		return err
	}
	defer tc.Close()

	workers := NewWorkers(tc, cfg, &activities.Activities{
		Store:         st,
		Nodes:         nodes,
		CryptoPay:     cryptopay.New(cfg.CryptoPayAPIURL, cfg.CryptoPayToken, &http.Client{Timeout: 15 * time.Second, Transport: cpBreaker.Transport(nil)}),
		Telegram:      tg,
		Temporal:      tc,
		Texts:         texts,
		Config:        cfg,
		NodeID:        nodeID,
		Database:      pool,
		LocalXray:     activities.NewLocalSlots(LocalCallSlots(pool.Config().MaxConns)),
		LocalTelegram: activities.NewLocalSlots(LocalCallSlots(pool.Config().MaxConns)),
	}, pool.Config().MaxConns)
	if err := ensureSchedules(ctx, tc, cfg, log); err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting: a clean stop
		}
		return err
	}

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		mux := http.NewServeMux()
		mux.Handle("/metrics", tel.MetricsHandler())
		mux.Handle("/healthz", live)
		return telemetry.Serve(ctx, cfg.WorkerMetricsAddr, mux)
	})
	g.Go(func() error {
		live.Watchdog(ctx, cfg.WatchdogLimit, log, daemon.ExitProcess)
		return nil
	})
	g.Go(func() error {
		// The bot reads this to tell the admins when the worker goes
		// silent: the health check runs in the worker and cannot.
		instance := daemon.Instance()
		live.Beat(ctx, log, func(ctx context.Context, healthy bool, detail string) error {
			return st.Beat(ctx, store.ProcessWorker, instance, healthy, detail)
		})
		return nil
	})
	g.Go(func() error {
		for _, w := range workers {
			if err := w.Start(); err != nil {
				return fmt.Errorf("start worker: %w", err)
			}
			defer w.Stop()
		}
		log.Info("worker polling", "task_queue", cfg.TaskQueue, "bulkheads", Slots(cfg, pool.Config().MaxConns),
			"local_activities", LocalSlots(pool.Config().MaxConns),
			"metrics", "http://"+cfg.WorkerMetricsAddr+"/metrics")
		<-ctx.Done()
		return nil
	})
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	log.Info("worker stopped")
	return err
}

// EnvNodeName is the name of the node the environment describes: the one
// node of deployments from before there were several.
const EnvNodeName = "default"

// EnvNode is the node the worker's environment describes (XRAY_API_ADDR,
// VLESS_HOST, VLESS_REALITY_*, XRAY_NODE_REGION), registered at each start.
func EnvNode(cfg config.Config) store.Node {
	return store.Node{
		Name: EnvNodeName, APIAddr: cfg.XrayAPIAddr, InboundTag: cfg.XrayInboundTag, Host: cfg.VLESSHost, Port: cfg.VLESSPort,
		Region: cfg.XrayNodeRegion, PublicKey: cfg.VLESSRealityPubKey, SNI: cfg.VLESSRealitySNI, ShortID: cfg.VLESSRealityShortID,
	}
}

// ensureSchedules creates or updates the reconcile, Xray watch and health
// check schedules, so a fresh deployment runs them without an operator step.
func ensureSchedules(ctx context.Context, tc client.Client, cfg config.Config, log *slog.Logger) error {
	outcomes, err := schedules.Ensure(ctx, tc, cfg)
	for _, o := range outcomes {
		log.Info("schedule "+o.Did, "schedule", o.ID, "paused", o.Paused)
	}
	return err
}

// migrationLog turns the migrator's progress lines into log records.
type migrationLog struct {
	log interface{ Info(string, ...any) }
}

func (m migrationLog) Write(p []byte) (int, error) {
	m.log.Info("migrate: " + string(trimNL(p)))
	return len(p), nil
}

func trimNL(p []byte) []byte {
	for len(p) > 0 && (p[len(p)-1] == '\n' || p[len(p)-1] == '\r') {
		p = p[:len(p)-1]
	}
	return p
}

// enableEndingSessions wakes the CAP_NET_ADMIN that ending revoked keys'
// sessions needs (xray.EnableNetAdmin). Without it the worker runs on; the
// health check's Revocation component reports what is missing.
func enableEndingSessions(log *slog.Logger) {
	ok, err := xray.EnableNetAdmin()
	switch {
	case err != nil:
		log.Error("cannot end revoked keys' sessions: CAP_NET_ADMIN is permitted but could not be made effective", "error", err)
	case !ok:
		log.Error("cannot end revoked keys' sessions: no CAP_NET_ADMIN (grant it, as docker-compose.yml does, or set XRAY_END_SESSIONS=false)")
	}
}
