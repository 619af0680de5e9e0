package telegram

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
)

// floodWindow is Telegram's limit: about this many messages from one bot in
// any one second, more are refused with 429 and a flood wait that stops
// every send for a while.
const floodWindow = 30

// Pace is one process's budget of messages to Telegram. The worker runs many
// Telegram activities at once (notices, keys, invoices, alerts) and
// broadcast pages beside them; only one budget that all of them draw from
// keeps their sum under Telegram's limit.
//
// Two things hold a send back. The pace proper is a token bucket holding one
// token: one send every 1/rate, never a burst. A send that has to wait books
// the next free slot when it asks (rate.Limiter reserves in call order), so
// waiting sends go first come, first served: a broadcast page, which sends
// one message at a time, gets one slot in each round of waiting senders and
// cannot starve the notices queued beside it, and its own pace
// (workflows.DefaultBroadcastRate) caps it below the budget when nothing
// else waits.
//
// Spacing sends at the client is not enough on its own: Telegram counts
// them when they arrive, and a send held up on the way (a busy CPU, a slow
// connection) arrives close to later ones. At 28/s against a window of 30 a
// delay of 71 ms puts 31 in one second; on the 2-core test machine under
// load that happened in 1 storm of 20. So the pace also keeps a window: a
// send counts from the moment it leaves until one second after its answer,
// and no more than floodWindow count at once. Whatever a request's delay,
// Telegram cannot have seen more than floodWindow of them in a second. At a
// normal round trip the window never holds a send back; with round trips
// over 70 ms it lowers the rate to floodWindow / (1 s + round trip).
//
// Only the worker paces its sends. The bot's replies answer a user who just
// pressed something and must go at once; they are few, and the worker's
// default rate leaves them the rest of Telegram's limit.
type Pace struct {
	lim     *rate.Limiter
	window  chan struct{}
	waited  prometheus.Histogram
	trip    prometheus.Histogram
	refused prometheus.Counter
}

// ErrNoSendSlot is returned instead of sending when the caller's deadline
// comes before its turn: the send is not made late, and the caller (an
// activity) retries it.
var ErrNoSendSlot = errors.New("no Telegram send slot before the deadline")

// NewPace builds a budget of perSecond messages a second and registers its
// metrics on reg: vpnflow_telegram_send_wait_seconds, how long sends
// waited for their turn, and vpnflow_telegram_send_wait_refused_total,
// sends given up because their turn came after their deadline, and
// vpnflow_telegram_send_seconds, each paced send's round trip: how long it
// holds its place in the window beyond the second every send holds.
func NewPace(perSecond int, reg prometheus.Registerer) *Pace {
	p := &Pace{
		lim:    rate.NewLimiter(rate.Limit(perSecond), 1),
		window: make(chan struct{}, floodWindow),
		waited: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vpnflow_telegram_send_wait_seconds",
			Help:    "Time a message waited for its turn in the worker's Telegram send budget (TELEGRAM_SEND_RATE) before it went out.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		trip: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vpnflow_telegram_send_seconds",
			Help:    "Round trip of a paced message to Telegram, from leaving to its answer; the send pace's window holds each send this long plus a second.",
			Buckets: []float64{.005, .01, .025, .05, .075, .1, .15, .25, .5, 1, 2.5, 5, 15},
		}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vpnflow_telegram_send_wait_refused_total",
			Help: "Messages not sent because their turn in the Telegram send budget came after the activity's deadline (the activity retries them).",
		}),
	}
	reg.MustRegister(p.waited, p.trip, p.refused)
	return p
}

// take waits for a send's turn; the caller sends, then calls done.
// rate.Limiter.Wait refuses at once a slot after ctx's deadline (giving it
// back), so an activity near its timeout fails fast and is retried instead
// of sleeping past it; a wait on the window ends with ctx. A nil Pace (the
// bot's client) never waits.
func (p *Pace) take(ctx context.Context) (done func(), err error) {
	if p == nil {
		return func() {}, nil
	}
	start := time.Now()
	defer func() { p.waited.Observe(time.Since(start).Seconds()) }()
	if d, ok := ctx.Value(paceWaitKey{}).(time.Duration); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	err = p.lim.Wait(ctx)
	if err == nil {
		select {
		case p.window <- struct{}{}:
			left := time.Now()
			return func() { p.release(left) }, nil
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return nil, fmt.Errorf("wait for a Telegram send slot: %w", err)
	}
	p.refused.Inc()
	return nil, fmt.Errorf("%w: %w", ErrNoSendSlot, err)
}

type paceWaitKey struct{}

// WithPaceWait bounds how long a send made with ctx waits for its turn in
// the pace: a turn further off is refused at once (ErrNoSendSlot), and
// the caller sends another way. The send itself keeps ctx's own deadline.
func WithPaceWait(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, paceWaitKey{}, d)
}

// release ends a send's count in the window one second after its answer,
// when Telegram's window has certainly moved past it, and records the
// send's round trip from left.
func (p *Pace) release(left time.Time) {
	p.trip.Observe(time.Since(left).Seconds())
	time.AfterFunc(time.Second, func() { <-p.window })
}
