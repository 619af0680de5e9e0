package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"
)

// wakeTimer is the timer a Subscription run sleeps on until its next
// reminder, renewal or expiry.
type wakeTimer struct {
	at     time.Time
	fired  workflow.Future
	cancel workflow.CancelFunc
}

// sleep waits until something waits for the main loop (s.waiting) or
// the next reminder, renewal or expiry is due.
//
// Runs before leanTimer armed a new timer on every wake-up and left the
// old one running: a purchase, a reissue, a trial's extension each left a
// timer that fired later into a workflow task of its own, only for the
// loop to arm yet another timer for the moment already armed. Lean runs
// keep one timer: kept while its moment stays the next one, cancelled
// (one event, in a task that runs anyway) when the moment moves, never
// left to fire for nothing.
func (s *subscription) sleep(ctx workflow.Context) error {
	next, ok := s.clock().nextEvent(workflow.Now(ctx))
	if leanIn(ctx) < leanTimer {
		if ok {
			_, _ = workflow.AwaitWithTimeout(ctx, next.Sub(workflow.Now(ctx)), s.waiting)
			return nil
		}
		return workflow.Await(ctx, s.waiting)
	}
	if s.timer != nil && (!ok || !s.timer.at.Equal(next)) {
		s.timer.cancel()
		s.timer = nil
	}
	if ok && s.timer == nil {
		tctx, cancel := workflow.WithCancel(ctx)
		s.timer = &wakeTimer{at: next, fired: workflow.NewTimer(tctx, max(next.Sub(workflow.Now(ctx)), 0)), cancel: cancel}
	}
	if s.timer == nil {
		return workflow.Await(ctx, s.waiting)
	}
	t := s.timer
	if err := workflow.Await(ctx, func() bool { return s.waiting() || t.fired.IsReady() }); err != nil {
		return err
	}
	if t.fired.IsReady() {
		s.timer = nil
	}
	return nil
}
