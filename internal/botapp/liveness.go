package botapp

import (
	"context"
	"net/http"
	"time"

	"vpnflow/internal/config"
	"vpnflow/internal/daemon"
	"vpnflow/internal/telegram"
)

// The bot is live only while its update loop makes progress: a getUpdates
// round that returns (with updates or none), or, with a webhook, a
// delivery or Telegram holding nothing for us. A handler pool that stops
// taking updates stalls the loop too: the library's poller blocks once its
// queue is full.

// pollTimeout is the long poll's length under a liveness bound: a few
// rounds fit in each bound, so one slow round does not look like a stall.
func pollTimeout(bound time.Duration) time.Duration {
	return min(max(bound/3, 2*time.Second), time.Minute)
}

// watchUpdates registers the update loop and sets up the client options
// that report its rounds.
func (a *App) watchUpdates(live *daemon.Liveness, opts *telegram.BotOptions) {
	a.updates = live.Loop("telegram-updates", a.cfg.LivenessBound)
	// Standing by, the bot receives nothing on purpose: not a stall.
	a.updates.IdleWhen(a.standby.on.Load)
	opts.PollTimeout = pollTimeout(a.cfg.LivenessBound)
	opts.HTTPClient = &http.Client{Timeout: opts.PollTimeout + 15*time.Second}
	opts.Polls = telegram.PollObserver{Completed: a.updates.Progress, Conflict: a.pollConflict}
}

// probeWebhook counts Telegram holding no update for the webhook as
// progress, so a quiet webhook bot stays live while one whose deliveries
// stop with updates waiting does not. Deliveries count on their own
// (telegramWebhook).
func (a *App) probeWebhook(ctx context.Context) {
	if a.cfg.TelegramMode != config.ModeWebhook {
		return
	}
	every(ctx, pollTimeout(a.cfg.LivenessBound), func() {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		pending, err := a.tg.WebhookPending(pctx)
		cancel()
		switch {
		case err != nil:
			a.log.Warn("telegram getWebhookInfo failed", "error", err)
		case pending == 0:
			a.updates.Progress()
		}
	})
}

// every runs fn every d until ctx ends.
func every(ctx context.Context, d time.Duration, fn func()) {
	tick := time.NewTicker(d)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		fn()
	}
}
