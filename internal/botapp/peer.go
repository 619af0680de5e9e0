package botapp

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vpnflow/internal/daemon"
	"vpnflow/internal/store"
	"vpnflow/internal/telegram"
)

// The bot and the worker watch each other through their heartbeats
// (store.Beat). The worker's health check tells the admins when the bot
// goes silent; when the worker itself is silent or stuck, its health check
// cannot run, so the bot tells them. Each change of state is told once.

// beat records the bot's heartbeat until ctx ends.
func (a *App) beat(ctx context.Context) {
	instance := daemon.Instance()
	a.live.Beat(ctx, a.log, func(ctx context.Context, healthy bool, detail string) error {
		return a.store.Beat(ctx, store.ProcessBot, instance, healthy, detail)
	})
}

// workerWatch is what the bot last told the admins about the worker.
type workerWatch struct {
	down bool
	age  prometheus.Gauge
}

func newWorkerWatch(reg prometheus.Registerer) *workerWatch {
	w := &workerWatch{age: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vpnflow_worker_heartbeat_age_seconds",
		Help: "Seconds since the worker's last heartbeat, as the bot reads it (-1: it never beat)"})}
	if reg != nil {
		reg.MustRegister(w.age)
	}
	return w
}

// watchWorker reads the worker's heartbeat every HeartbeatEvery until ctx
// ends, and tells the admins when the worker goes silent or stuck, and
// when it is back.
func (a *App) watchWorker(ctx context.Context) {
	every(ctx, daemon.HeartbeatEvery, func() { a.checkWorker(ctx) })
}

// checkWorker reads the worker's heartbeat once.
func (a *App) checkWorker(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	h, err := a.store.LastBeat(rctx, store.ProcessWorker)
	cancel()
	problem := ""
	switch {
	case errors.Is(err, store.ErrNotFound):
		a.workerWatch.age.Set(-1)
		return // no worker has run yet: nothing to compare with
	case err != nil:
		a.log.Warn("read the worker's heartbeat", "error", err)
		return // the database is down: the worker's health check says so
	case h.Age > daemon.PeerSilence:
		problem = fmt.Sprintf("no heartbeat since %s (%s ago)", h.BeatAt.UTC().Format(time.DateTime+" UTC"), h.Age.Round(time.Second))
	case !h.Healthy:
		problem = fmt.Sprintf("stuck since before %s: %s", h.BeatAt.UTC().Format(time.DateTime+" UTC"), h.Detail)
	}
	a.workerWatch.age.Set(h.Age.Seconds())
	if down := problem != ""; down != a.workerWatch.down {
		if a.tellAdminsAboutWorker(ctx, down, problem) {
			a.workerWatch.down = down
		}
	}
}

// tellAdminsAboutWorker sends the change to every admin; it reports
// whether anyone heard (or there is nobody to tell), so an alert nobody
// received is sent again on the next read.
func (a *App) tellAdminsAboutWorker(ctx context.Context, down bool, problem string) bool {
	if down {
		a.log.Error("the worker is silent or stuck; telling the admins", "problem", problem)
	} else {
		a.log.Info("the worker is back; telling the admins")
	}
	if len(a.cfg.AdminIDs) == 0 {
		return true
	}
	told := false
	for _, id := range a.cfg.AdminIDs {
		lang := a.langOf(ctx, &telegram.User{ID: id})
		text := a.texts.T(lang, "admin_health_up", map[string]any{"Component": "Worker"})
		if down {
			text = a.texts.T(lang, "admin_health_down", map[string]any{"Component": "Worker", "Error": problem})
		}
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := a.tg.Send(sctx, telegram.Message{ChatID: id, Text: text})
		cancel()
		if err != nil {
			a.log.Warn("worker alert not delivered", "admin", id, "error", err)
			continue
		}
		told = true
	}
	return told
}
