package workflows

import (
	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/notice"
	"vpnflow/internal/shop"
)

// expire ends the period: the database first (which refuses if a renewal
// just moved the expiry, and writes the user's notice to the outbox), then
// Xray. The database compares with the workflow's time, so one clock
// decides.
func (s *subscription) expire(ctx workflow.Context) error {
	if s.edges {
		return s.expireNow(ctx)
	}
	var a *activities.Activities
	var res activities.ExpireResult
	if err := s.untilDone(ctx, "expire subscription", func() error {
		return step(ctx, leanExpiry, withDB(ctx), a.ExpireSubscription, activities.ExpireInput{
			UserID: s.state.UserID, At: workflow.Now(ctx), Tell: tellsInOutbox(ctx),
		}, &res)
	}); err != nil {
		return err
	}
	if !res.Expired {
		if res.ExpiresAt.After(s.state.ExpiresAt) {
			s.state.ExpiresAt = res.ExpiresAt
			return s.upsert(ctx)
		}
		// The database has no later expiry and did not expire it: only a
		// missing row does that. Stop acting on the key.
		workflow.GetLogger(ctx).Warn("database did not expire subscription", "expires_at", res.ExpiresAt)
	}
	if err := s.untilDone(ctx, "remove expired key", func() error {
		return xrayStep(ctx, withXray(ctx), a.RemoveVLESSUser, activities.UserRef{UserID: s.state.UserID}, nil)
	}); err != nil {
		return err
	}
	s.endSessions(ctx, "")
	s.state.InXray = false
	s.state.Status = shop.StatusExpired
	if err := s.upsert(ctx); err != nil {
		return err
	}
	if !tellsInOutbox(ctx) {
		s.notify(ctx, notice.Expired(s.state.PlanID))
	}
	return nil
}

// tellsInOutbox: from leanOutbox on, the expiry's transaction writes the
// notice to the outbox (when it ends a live period, which is when the
// user is to be told), and this workflow sends none.
func tellsInOutbox(ctx workflow.Context) bool { return leanIn(ctx) >= leanOutbox }

// expireOverdue handles the reconcile sweep's report of a live row whose
// expiry has passed (a missed timer, a terminated run, an operator's
// reset). A run started by that signal knows nothing yet, so it takes the
// row as the sweep saw it; then the period is expired now, like any other.
func (s *subscription) expireOverdue(ctx workflow.Context, o shop.Overdue) error {
	workflow.GetLogger(ctx).Warn("database reports an overdue subscription", "expires_at", o.ExpiresAt, "status", o.Status)
	if s.state.Status == shop.StatusNone {
		s.state.Status = shop.StatusActive
		if o.Status == shop.StatusTrial {
			s.state.Status, s.state.Trial = shop.StatusTrial, true
		}
		s.state.ExpiresAt, s.state.PlanID = o.ExpiresAt, o.PlanID
		// Whether the key is in Xray is unknown: removing is harmless.
		s.state.InXray = true
	}
	return s.expireNow(ctx)
}

// expireNow expires the period at the workflow's time. If the database
// holds a later live expiry (a renewal the workflow has not heard of yet),
// that wins and the key stays (or is put back). Otherwise the key leaves
// Xray, whatever the row says: a row that is not live must not have a key
// in Xray. The user is told once, when a live period ends.
func (s *subscription) expireNow(ctx workflow.Context) error {
	var a *activities.Activities
	var res activities.ExpireResult
	at := workflow.Now(ctx)
	if err := s.untilDone(ctx, "expire subscription", func() error {
		return step(ctx, leanExpiry, withDB(ctx), a.ExpireSubscription, activities.ExpireInput{
			UserID: s.state.UserID, At: at, Tell: tellsInOutbox(ctx),
		}, &res)
	}); err != nil {
		return err
	}
	if !res.Expired && res.ExpiresAt.After(at) && (res.Status == shop.StatusActive || res.Status == shop.StatusTrial) {
		return s.adoptLaterExpiry(ctx, res)
	}
	if !res.Expired {
		workflow.GetLogger(ctx).Warn("database did not expire subscription; removing the key anyway", "expires_at", res.ExpiresAt, "status", res.Status)
	}
	if err := s.untilDone(ctx, "remove expired key", func() error {
		return xrayStep(ctx, withXray(ctx), a.RemoveVLESSUser, activities.UserRef{UserID: s.state.UserID}, nil)
	}); err != nil {
		return err
	}
	s.endSessions(ctx, "")
	wasLive := s.active()
	s.state.InXray = false
	if s.state.Status != shop.StatusBanned {
		s.state.Status = shop.StatusExpired
	}
	if err := s.upsert(ctx); err != nil {
		return err
	}
	if wasLive && !tellsInOutbox(ctx) {
		s.notify(ctx, notice.Expired(s.state.PlanID))
	}
	return nil
}

// adoptLaterExpiry takes the database's later expiry: the period goes on,
// and the key is made sure to be in Xray.
func (s *subscription) adoptLaterExpiry(ctx workflow.Context, res activities.ExpireResult) error {
	s.state.ExpiresAt = res.ExpiresAt
	if s.state.Status == shop.StatusBanned {
		return s.upsert(ctx)
	}
	if !s.active() {
		s.state.Status, s.state.Trial = res.Status, res.Status == shop.StatusTrial
	}
	s.skipPassedReminders(ctx)
	if err := s.upsert(ctx); err != nil {
		return err
	}
	// The workflow's idea of the key may be stale (a run started by the
	// overdue report knows nothing); a live row's key belongs in Xray.
	return s.ensureInXray(ctx)
}

// untilDone runs an activity whose retries are unlimited; only an error
// retrying cannot fix comes back, and then the step is tried again after
// configRetry rather than failing the user's workflow.
func (s *subscription) untilDone(ctx workflow.Context, what string, run func() error) error {
	for {
		err := run()
		if err == nil {
			return s.unstuck(ctx)
		}
		if err := s.retryLater(ctx, what, err); err != nil {
			return err
		}
	}
}
