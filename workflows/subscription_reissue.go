package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/notice"
	"vpnflow/internal/shop"
)

func (s *subscription) validateReissue(ctx workflow.Context, _ shop.ReissueRequest) error {
	switch {
	case s.state.Status == shop.StatusBanned:
		return refuse(shop.RefusedBanned, 0)
	case !s.active() || !s.state.InXray:
		return refuse(shop.RefusedNotActive, 0)
	case len(s.reissues) > 0:
		return refuse(shop.RefusedTooSoon, s.policy.ReissueEvery)
	}
	if wait := s.state.LastReissue.Add(s.policy.ReissueEvery).Sub(workflow.Now(ctx)); !s.state.LastReissue.IsZero() && wait > 0 {
		return refuse(shop.RefusedTooSoon, wait)
	}
	return nil
}

// requestReissue queues the reissue for the main loop and waits for it.
// A handed-over request is answered here when it succeeds or is refused
// at a continue-as-new; a failed reissue answers it itself.
func (s *subscription) requestReissue(ctx workflow.Context, req shop.ReissueRequest) error {
	job := &reissueJob{reply: req.Reply}
	s.reissues = append(s.reissues, job)
	if err := workflow.Await(ctx, func() bool { return job.done }); err != nil {
		return err
	}
	if r := shop.RefusalFrom(job.err); r.Refused() {
		s.answer(ctx, req.Reply, notice.Refused(r.MessageID(), r.Wait))
	} else if job.err == nil {
		s.answer(ctx, req.Reply, notice.ReissueDone())
	}
	return job.err
}

// later leaves a cleanup step for the next run when its retry loop ran into
// the continue-as-new point; it reports whether it did.
func (s *subscription) later(err error, items ...string) bool {
	if !errors.Is(err, errContinueAsNew) {
		return false
	}
	s.state.Cleanup = append(s.state.Cleanup, items...)
	return true
}

// reissue replaces the user's key: the new key is added to Xray next to the
// old one, stored, delivered, and only then is the old key removed. If a
// step before the switch fails, the new key is dropped, the old one keeps
// working and the user is told. A removal still stuck in retry when the run
// continues as new is finished by the next run (state Cleanup).
func (s *subscription) reissue(ctx workflow.Context, reply *shop.Reply) error {
	var a *activities.Activities
	ref := activities.UserRef{UserID: s.state.UserID}
	var plan activities.ReissuePlan
	if err := workflow.ExecuteActivity(withDB(ctx), a.BeginReissue, ref).Get(ctx, &plan); err != nil {
		s.reissueFailed(ctx, reply)
		return err
	}
	newKey := activities.KeyRef{UserID: s.state.UserID, Email: plan.NewEmail}
	addCtx := on(ctx, shop.BulkheadXray, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second, ScheduleToCloseTimeout: time.Minute,
		RetryPolicy: backoff(10 * time.Second),
	})
	err := workflow.ExecuteActivity(addCtx, a.AddPendingKey, newKey).Get(ctx, nil)
	if err == nil {
		err = workflow.ExecuteActivity(withDB(ctx), a.CommitReissue, newKey).Get(ctx, nil)
	}
	if err != nil {
		workflow.GetLogger(ctx).Warn("reissue failed; rolling back", "error", err)
		rmErr := s.untilDone(ctx, "remove unused reissued key", func() error {
			return workflow.ExecuteActivity(withXray(ctx), a.RemoveKey, newKey).Get(ctx, nil)
		})
		if !s.later(rmErr, cleanupKeyPrefix+newKey.Email, cleanupAbort) {
			s.later(s.untilDone(ctx, "abort reissue", func() error {
				return workflow.ExecuteActivity(withDB(ctx), a.AbortReissue, ref).Get(ctx, nil)
			}), cleanupAbort)
		}
		s.reissueFailed(ctx, reply)
		return err
	}
	s.state.KeyVersion++
	s.state.LastReissue = workflow.Now(ctx)
	s.sendKey(ctx, "reissued")
	err = s.untilDone(ctx, "remove old key", func() error {
		return workflow.ExecuteActivity(withXray(ctx), a.RemoveKey, activities.KeyRef{UserID: s.state.UserID, Email: plan.OldEmail}).Get(ctx, nil)
	})
	if s.later(err, cleanupKeyPrefix+plan.OldEmail) {
		return nil
	}
	if err == nil {
		s.endSessions(ctx, plan.OldEmail)
	}
	return err
}

// reissueFailed tells the user the reissue did not happen: in place of the
// bot's "working on it" message when the request was handed over.
func (s *subscription) reissueFailed(ctx workflow.Context, reply *shop.Reply) {
	if reply != nil {
		s.answer(ctx, reply, notice.ReissueFailed())
		return
	}
	s.notify(ctx, notice.ReissueFailed())
}
