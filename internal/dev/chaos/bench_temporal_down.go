package chaos

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	faketg "vpnflow/internal/dev/fake/telegram"
)

// TemporalDownRow is the bot's first answers while the Temporal server is
// unreachable (killed): users walk the menus, which need only the
// database, and press "Free trial", which the bot must hand over to
// Temporal and cannot. Issue 11 asks for the same p99 as under load.
type TemporalDownRow struct {
	For     time.Duration
	Answers answerSnapshot
	// Answered counts the bot's first answers in the window, messages
	// and button presses.
	Answered int
	// Trials pressed while Temporal was down, and how many of those users
	// were told plainly that nothing was passed on (the true answer)
	// within trialAnswerWait of their press.
	Trials, ToldPlainly int
}

// trialAnswerWait bounds the wait for the hand-over failure: the bot's
// call to Temporal has 10 s, and a refused connection fails sooner.
const trialAnswerWait = 30 * time.Second

// temporalDownCase kills the Temporal server, lets benchBrowsers users
// walk the menus and one user a second press "Free trial" for dur, reads
// the bot's first answers, and starts the server again on its files.
func (s *system) temporalDownCase(ctx context.Context, d *driver, dur time.Duration) (TemporalDownRow, error) {
	row := TemporalDownRow{For: dur}
	before, err := s.botAnswers(ctx)
	if err != nil {
		return row, err
	}
	s.stack.Temporal.Kill()
	restarted := false
	defer func() {
		if !restarted {
			_ = s.stack.Temporal.Restart(context.WithoutCancel(ctx))
		}
	}()

	walkCtx, stop := context.WithTimeout(ctx, dur)
	defer stop()
	browsed := browseMeanwhile(walkCtx, d, 6_000_000)
	var pressed, told atomic.Int64
	var trials sync.WaitGroup
	tick := time.NewTicker(time.Second)
	for n := 0; walkCtx.Err() == nil; n++ {
		trials.Add(1)
		go func() {
			defer trials.Done()
			u := &user{n: 6_900_000 + n, kind: KindTrial}
			if d.startBenchUser(walkCtx, u) != nil {
				return // the window closed first
			}
			msgID, data, ok := d.button(u.id, "Free trial")
			if !ok {
				return
			}
			if _, err := d.tg.PressButton(u.id, msgID, data); err != nil {
				return
			}
			pressed.Add(1)
			wctx, cancel := context.WithTimeout(ctx, trialAnswerWait)
			defer cancel()
			if _, err := d.tg.WaitForMessage(wctx, u.id, func(m faketg.Message) bool {
				return strings.Contains(m.Text, "couldn't pass that on")
			}); err == nil {
				told.Add(1)
			}
		}()
		select {
		case <-tick.C:
		case <-walkCtx.Done():
		}
	}
	tick.Stop()
	browsed()
	after, err := s.botAnswers(ctx)
	if err != nil {
		return row, err
	}
	row.Answers = after.since(before)
	for _, b := range row.Answers {
		row.Answered += int(b.count())
	}
	trials.Wait()
	row.Trials, row.ToldPlainly = int(pressed.Load()), int(told.Load())
	restarted = true
	if err := s.stack.Temporal.Restart(ctx); err != nil {
		return row, fmt.Errorf("start Temporal again: %w", err)
	}
	return row, nil
}

// String is the case's line in the report.
func (r TemporalDownRow) String() string {
	var b strings.Builder
	for _, kind := range []string{"message", "button"} {
		if a := r.Answers[kind]; a.count() > 0 {
			fmt.Fprintf(&b, "bot first answer (%s) while Temporal is unreachable (%s): n=%d p50 %s p99 %s\n", kind, r.For, a.count(),
				a.quantile(0.5).Round(time.Millisecond), a.quantile(0.99).Round(time.Millisecond))
		}
	}
	fmt.Fprintf(&b, "free trials pressed while Temporal was unreachable: %d, told plainly that nothing was passed on: %d", r.Trials, r.ToldPlainly)
	return b.String()
}
