// Package botapp runs the Telegram-facing process. It talks to users and to
// Temporal only: anything that moves money or keys is a workflow start,
// signal or update, so the update path never waits on Xray or a payment
// provider. Its database use is short reads and the user's own profile.
package botapp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"
	"golang.org/x/sync/errgroup"

	"vpnflow/internal/config"
	"vpnflow/internal/daemon"
	"vpnflow/internal/db"
	"vpnflow/internal/i18n"
	"vpnflow/internal/store"
	"vpnflow/internal/subfeed"
	"vpnflow/internal/telegram"
	"vpnflow/internal/telemetry"
)

// App is the bot: handlers plus the clients they use.
type App struct {
	cfg         config.Config
	log         *slog.Logger
	pool        *pgxpool.Pool
	store       *store.Store
	temporal    client.Client
	tg          *telegram.Bot
	render      telegram.Renderer
	texts       *i18n.Catalog
	limiter     *limiter
	username    string // the bot's @username, for invite links
	sandbox     bool   // sandbox commands allowed (decideSandbox)
	live        *daemon.Liveness
	updates     *daemon.Loop // the update loop (liveness.go)
	standby     *standby     // one bot per token (standby.go)
	workerWatch *workerWatch // the worker's heartbeat (peer.go)
	answers     *answerMetrics
	// registrations are newcomers' rows being written (registration.go).
	registrations registrations
}

// Run runs the bot until ctx ends: updates by long polling or webhook, and
// the HTTP server for subscription URLs, webhooks, health and metrics. It returns nil on a
// clean shutdown.
func Run(ctx context.Context, cfg config.Config, tel *telemetry.Telemetry) error {
	if err := cfg.ForBot(); err != nil {
		return err
	}
	log := tel.Logger()
	log.Info("bot starting", "config", cfg)
	pool, err := db.OpenMetered(ctx, cfg.DatabaseURL, tel.Registry(), "bot")
	if err != nil {
		return err
	}
	defer pool.Close()
	texts, err := i18n.New()
	if err != nil {
		return err
	}
	tc, err := daemon.DialTemporal(ctx, cfg, tel, 30*time.Second)
	if err != nil {
		return err
	}
	defer tc.Close()

	app := &App{
		cfg: cfg, log: log, pool: pool, store: store.New(pool), temporal: tc, texts: texts,
		limiter: newLimiter(2, 8), render: telegram.NewRenderer(texts, cfg),
	}
	opts := telegram.BotOptions{
		Token: cfg.TelegramBotToken, APIURL: cfg.TelegramAPIURL, Handle: app.handle,
		Errors: func(err error) { log.Warn("telegram", "error", err) },
	}
	if cfg.TelegramMode == config.ModeWebhook {
		opts.WebhookSecret = cfg.TelegramWebhookToken
	}
	app.standby = newStandby(tel.Registry())
	app.workerWatch = newWorkerWatch(tel.Registry())
	app.answers = newAnswerMetrics(tel.Registry())
	app.live = daemon.NewLiveness()
	app.watchUpdates(app.live, &opts)
	app.tg, err = telegram.NewBot(opts)
	if err != nil {
		return err
	}
	app.username = app.botUsername(ctx)
	app.decideSandbox(ctx)

	feed, err := subfeed.New(subfeed.Options{
		Store: app.store, Config: cfg, Texts: texts, BotURL: botURL(app.username),
		Registry: tel.Registry(), Log: log,
	})
	if err != nil {
		return fmt.Errorf("subscription url handler: %w", err)
	}

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return telemetry.Serve(ctx, cfg.HTTPAddr, app.routes(tel, feed)) })
	g.Go(func() error { return app.receive(ctx) })
	g.Go(func() error { app.probeWebhook(ctx); return nil })
	g.Go(func() error { app.beat(ctx); return nil })
	g.Go(func() error { app.watchWorker(ctx); return nil })
	g.Go(func() error { app.live.Watchdog(ctx, cfg.WatchdogLimit, log, daemon.ExitProcess); return nil })
	log.Info("bot running", "mode", cfg.TelegramMode, "http", "http://"+cfg.HTTPAddr, "username", app.username)
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	log.Info("bot stopped")
	return err
}

// receive takes updates by long polling or, in webhook mode, registers the
// webhook and lets the HTTP server feed them in.
func (a *App) receive(ctx context.Context) error {
	if a.cfg.TelegramMode == config.ModeWebhook {
		sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err := a.tg.SetWebhook(sctx, a.cfg.TelegramWebhookURL, a.cfg.TelegramWebhookToken)
		cancel()
		if err != nil {
			return fmt.Errorf("set telegram webhook to %s: %w", a.cfg.TelegramWebhookURL, err)
		}
		a.tg.ServeWebhook(ctx)
		return nil
	}
	// A webhook left over from webhook mode would make getUpdates fail.
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	if err := a.tg.DeleteWebhook(dctx); err != nil {
		a.log.Warn("delete telegram webhook before polling", "error", err)
	}
	cancel()
	a.pollOneAtATime(ctx)
	return nil
}

func (a *App) botUsername(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	name, err := a.tg.Username(ctx)
	if err != nil {
		a.log.Warn("telegram getMe failed; invite links will lack the bot name until restart", "error", err)
		return ""
	}
	return name
}

// botURL is the bot's public link, "" while its username is unknown.
func botURL(username string) string {
	if username == "" {
		return ""
	}
	return "https://t.me/" + username
}

func (a *App) routes(tel *telemetry.Telemetry, feed http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(subfeed.Path, feed)
	mux.Handle("GET /healthz", a.live)
	mux.HandleFunc("GET /readyz", a.ready)
	mux.Handle("GET /metrics", tel.MetricsHandler())
	mux.HandleFunc("POST /webhooks/cryptopay", a.cryptoPayWebhook)
	if a.cfg.TelegramMode == config.ModeWebhook {
		mux.Handle("POST /webhooks/telegram", a.telegramWebhook())
	}
	return mux
}

// ready answers 200 only when Postgres and Temporal both answer.
func (a *App) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if err := a.pool.Ping(ctx); err != nil {
		http.Error(w, "postgres: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	if _, err := a.temporal.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		http.Error(w, "temporal: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
}

// telegramWebhook checks Telegram's secret header before the library sees
// the update: the library itself answers 200 even to a wrong secret.
func (a *App) telegramWebhook() http.Handler {
	next := a.tg.WebhookHandler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !secretEqual(r.Header.Get("X-Telegram-Bot-Api-Secret-Token"), a.cfg.TelegramWebhookToken) {
			a.log.Warn("telegram webhook with a wrong secret refused", "remote", r.RemoteAddr)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		a.updates.Progress()
		next.ServeHTTP(w, r)
	})
}
