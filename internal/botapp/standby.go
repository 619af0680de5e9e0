package botapp

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// One bot per token. Telegram answers 409 Conflict to all but the latest
// getUpdates, so two processes polling one token steal each other's
// updates and both keep retrying. A polling bot therefore holds a lease on
// the token in PostgreSQL (store.TakeBotLease), renewed every third of its
// TTL; a second bot stands by, says so loudly, and takes over when the
// lease lapses. A 409 while holding the lease means a poller outside this
// database (another deployment on the same token): the bot stops polling
// and stands by for one TTL before trying again, rather than fight.

// standby is the bot's polling state, for liveness and /metrics.
type standby struct {
	on        atomic.Bool
	conflict  chan struct{} // a 409 to getUpdates, while polling
	gauge     prometheus.Gauge
	conflicts prometheus.Counter
}

func newStandby(reg prometheus.Registerer) *standby {
	s := &standby{
		conflict: make(chan struct{}, 1),
		gauge: prometheus.NewGauge(prometheus.GaugeOpts{Name: "vpnflow_bot_standby",
			Help: "1 while this bot does not poll because another instance holds the token"}),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{Name: "vpnflow_telegram_poll_conflicts_total",
			Help: "getUpdates answered 409 Conflict: another process polls this bot token"}),
	}
	if reg != nil {
		reg.MustRegister(s.gauge, s.conflicts)
	}
	return s
}

func (s *standby) set(on bool) {
	s.on.Store(on)
	if on {
		s.gauge.Set(1)
	} else {
		s.gauge.Set(0)
	}
}

// tokenHash names the token in bot_lease without storing it.
func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:8])
}

// instanceID names this process in the lease and the logs.
func instanceID() string {
	host, _ := os.Hostname()
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s:%d:%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// pollOneAtATime polls for updates while this process holds the token's
// lease, and stands by otherwise, until ctx ends.
func (a *App) pollOneAtATime(ctx context.Context) {
	key, holder, ttl := tokenHash(a.cfg.TelegramBotToken), instanceID(), a.cfg.TelegramLeaseTTL
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
		defer cancel()
		if err := a.store.ReleaseBotLease(rctx, key, holder); err != nil {
			a.log.Warn("release the bot token lease", "error", err)
		}
	}()
	for ctx.Err() == nil {
		if !a.awaitLease(ctx, key, holder, ttl) {
			return
		}
		if conflict := a.pollWhileHeld(ctx, key, holder, ttl); conflict {
			a.standby.set(true)
			a.log.Error("standing by: telegram answered 409 Conflict to getUpdates although this bot holds the token lease; "+
				"another process outside this database polls the same token (another deployment?). Stop it; retrying after the lease TTL",
				"retry_in", ttl)
			// Let the lease lapse so that a peer in this database does not wait on us.
			rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			_ = a.store.ReleaseBotLease(rctx, key, holder)
			cancel()
			if !sleep(ctx, ttl) {
				return
			}
		}
	}
}

// awaitLease returns once this process holds the lease (true), or when ctx
// ends (false). While another holds it, the bot stands by and says so once
// per holder.
func (a *App) awaitLease(ctx context.Context, key, holder string, ttl time.Duration) bool {
	told := ""
	for {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		lease, held, err := a.store.TakeBotLease(rctx, key, holder, ttl)
		cancel()
		switch {
		case err != nil:
			a.log.Warn("take the bot token lease", "error", err)
		case held:
			if a.standby.on.Load() {
				a.log.Info("bot token lease taken: polling again", "instance", holder)
			}
			a.standby.set(false)
			return true
		case told != lease.Holder:
			told = lease.Holder
			a.standby.set(true)
			a.log.Error("standing by: another bot instance polls this token; only one may. This one takes over if it stops",
				"holder", lease.Holder, "lease_until", lease.ExpiresAt, "instance", holder)
		}
		if !sleep(ctx, ttl/3) {
			return false
		}
	}
}

// pollWhileHeld polls, renewing the lease every third of its TTL, until
// ctx ends, the lease is lost, or Telegram reports a conflicting poller
// (then it returns true).
func (a *App) pollWhileHeld(ctx context.Context, key, holder string, ttl time.Duration) (conflict bool) {
	pctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); a.tg.Poll(pctx) }()
	defer func() { stop(); <-done }()
	select { // a conflict from an earlier round is stale
	case <-a.standby.conflict:
	default:
	}
	renew := time.NewTicker(ttl / 3)
	defer renew.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-a.standby.conflict:
			return true
		case <-renew.C:
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			lease, held, err := a.store.TakeBotLease(rctx, key, holder, ttl)
			cancel()
			if err == nil && !held {
				a.log.Error("bot token lease lost to another instance: polling stops", "holder", lease.Holder)
				return false
			}
			if err != nil {
				// Keep polling: a database hiccup must not stop updates.
				// The lease lapses only after the whole TTL.
				a.log.Warn("renew the bot token lease", "error", err)
			}
		}
	}
}

// pollConflict hears Telegram's 409 to getUpdates.
func (a *App) pollConflict() {
	a.standby.conflicts.Inc()
	select {
	case a.standby.conflict <- struct{}{}:
	default:
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
