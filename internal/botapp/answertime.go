package botapp

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The bot's promise to users is a fast first answer, whatever Temporal,
// Xray or PostgreSQL are doing. answerClock measures it where the bot can
// see it: from the moment an update's handler starts to the moment the
// handler first asks Telegram to show the user something (a message, an
// edit, a photo, a button-press or pre-checkout answer). Telegram's own
// delay is not the bot's and is not counted.
type answerClock struct {
	kind  string
	what  string // the command, for the slow-answer log line
	start time.Time
	once  sync.Once
}

// nameAnswer names the update ctx belongs to (its command) for the log.
func nameAnswer(ctx context.Context, what string) {
	if c, _ := ctx.Value(answerClockKey{}).(*answerClock); c != nil {
		c.what = what
	}
}

type answerClockKey struct{}

// Update kinds, the label of the answer metrics.
const (
	updateMessage     = "message"
	updateButton      = "button"
	updatePreCheckout = "pre_checkout"
	updatePayment     = "payment"
)

// answerMetrics are vpnflow_bot_first_answer_seconds and the count of
// updates the bot answered nothing to.
type answerMetrics struct {
	first      *prometheus.HistogramVec
	unanswered *prometheus.CounterVec
}

func newAnswerMetrics(reg prometheus.Registerer) *answerMetrics {
	m := &answerMetrics{
		first: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "vpnflow_bot_first_answer_seconds",
			Help:    "Time from an update's handler starting to the bot's first answer call to Telegram.",
			Buckets: []float64{.005, .01, .025, .05, .075, .1, .15, .2, .3, .5, 1, 2, 5, 10, 30},
		}, []string{"update"}),
		unanswered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vpnflow_bot_updates_unanswered_total",
			Help: "Updates whose handler ended without any answer to the user (rate limits, ignored chats, answers a workflow sends).",
		}, []string{"update"}),
	}
	reg.MustRegister(m.first, m.unanswered)
	return m
}

// startAnswerClock starts timing an update of the given kind. The returned
// func ends it and counts the update as unanswered if nothing was sent.
func (a *App) startAnswerClock(ctx context.Context, kind string) (context.Context, func()) {
	c := &answerClock{kind: kind, start: time.Now()}
	return context.WithValue(ctx, answerClockKey{}, c), func() {
		c.once.Do(func() {
			if a.answers != nil {
				a.answers.unanswered.WithLabelValues(kind).Inc()
			}
		})
	}
}

// answering records the first answer of the update ctx belongs to; the
// callers are the few places that call Telegram on a user's behalf.
func (a *App) answering(ctx context.Context) {
	c, _ := ctx.Value(answerClockKey{}).(*answerClock)
	if c == nil {
		return
	}
	c.once.Do(func() {
		took := time.Since(c.start)
		if a.answers != nil {
			a.answers.first.WithLabelValues(c.kind).Observe(took.Seconds())
		}
		if took > slowAnswer && a.log != nil {
			a.log.Info("slow first answer", "update", c.kind, "command", c.what, "took", took.Round(time.Millisecond))
		}
	})
}

// slowAnswer is the first-answer time over which the bot logs the update:
// the bound chaos-seed holds at the 99th percentile.
const slowAnswer = 200 * time.Millisecond
