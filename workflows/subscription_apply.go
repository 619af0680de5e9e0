package workflows

import (
	"errors"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/notice"
	"vpnflow/internal/shop"
)

func (s *subscription) validateTrial(ctx workflow.Context, _ shop.TrialRequest) error {
	if s.active() {
		return refuse(shop.RefusedActive, 0)
	}
	if s.state.Status == shop.StatusBanned {
		return refuse(shop.RefusedBanned, 0)
	}
	return nil
}

// startTrial books the trial in the database (once per user, enforced by the
// schema) and queues its extension; the main loop activates the key.
func (s *subscription) startTrial(ctx workflow.Context, req shop.TrialRequest) (shop.TrialResult, error) {
	ctx = withLeanOf(ctx, s.lean)
	var a *activities.Activities
	var res shop.TrialResult
	if err := dbStep(ctx, a.StartTrial, activities.UserRef{UserID: s.state.UserID}, &res); err != nil {
		s.answer(ctx, req.Reply, trialRefusal(err))
		return res, err
	}
	s.pending = append(s.pending, shop.Extension{ID: shop.TrialExtensionID, Kind: shop.ExtensionTrial, PlanID: shop.TrialPlanID, ExpiresAt: res.ExpiresAt, Trial: true})
	s.answer(ctx, req.Reply, notice.TrialStarted(res.ExpiresAt.Sub(workflow.Now(ctx)).Round(time.Minute)))
	return res, nil
}

// trialRefusal is what the user is told when the database refused the
// trial.
func trialRefusal(err error) notice.Notice {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		switch appErr.Type() {
		case shop.ErrTrialUsed:
			return notice.TrialUsed()
		case shop.ErrNoCapacity:
			return notice.TrialNoCapacity()
		case shop.ErrActiveSubscription:
			return notice.Refused(shop.Refusal{Type: shop.RefusedActive}.MessageID(), 0)
		}
	}
	return notice.RequestFailed()
}

// cloneState copies the state with its own slices, so a step that cannot
// finish can put the state back as it was.
func cloneState(st shop.SubscriptionState) shop.SubscriptionState {
	st.Applied = slices.Clone(st.Applied)
	st.Reminded = slices.Clone(st.Reminded)
	st.Cleanup = slices.Clone(st.Cleanup)
	return st
}

// apply moves the expiry and makes sure the key works, once per extension
// id. If the key cannot be added before the run continues as new, the
// state is put back and the extension queued again, so the next run
// applies it from the start (key, message and all).
func (s *subscription) apply(ctx workflow.Context, ext shop.Extension) error {
	if s.state.HasApplied(ext.ID) {
		workflow.GetLogger(ctx).Info("extension already applied", "id", ext.ID)
		return nil
	}
	if s.edges && !ext.ExpiresAt.After(workflow.Now(ctx)) {
		return s.applyPast(ctx, ext)
	}
	before := cloneState(s.state)
	err := s.applyLive(ctx, ext)
	if errors.Is(err, errContinueAsNew) {
		s.state = before
		s.pending = append([]shop.Extension{ext}, s.pending...)
	}
	return err
}

// applyPast records an extension whose period is already over (a refund
// that overtook its purchase's late extension, say). It changes nothing in
// Xray and sends no key: there is no time left to activate. A correction
// that moves a live period's end into the past ends the period now: the
// main loop's expiry runs next and takes the key out.
func (s *subscription) applyPast(ctx workflow.Context, ext shop.Extension) error {
	s.state.MarkApplied(ext.ID)
	workflow.GetLogger(ctx).Info("extension ends in the past: recorded, key unchanged", "id", ext.ID, "expires_at", ext.ExpiresAt)
	switch {
	case ext.Replace && !ext.ExpiresAt.Equal(s.state.ExpiresAt):
		s.state.ExpiresAt = ext.ExpiresAt
	case !s.active() && ext.ExpiresAt.After(s.state.ExpiresAt):
		s.state.ExpiresAt = ext.ExpiresAt
	default:
		return nil
	}
	return s.upsert(ctx)
}

func (s *subscription) applyLive(ctx workflow.Context, ext shop.Extension) error {
	s.state.MarkApplied(ext.ID)
	wasActive := s.active() && s.state.InXray
	longer := ext.ExpiresAt.After(s.state.ExpiresAt)
	if longer || (ext.Replace && !ext.ExpiresAt.Equal(s.state.ExpiresAt)) {
		s.state.ExpiresAt = ext.ExpiresAt
		s.state.Reminded = nil
		if s.edges {
			// A new period follows the configuration as it is now.
			s.refreshPolicy(ctx)
		}
	}
	if ext.PlanID != "" {
		s.state.PlanID = ext.PlanID
	}
	if s.state.Status == shop.StatusBanned {
		return s.upsert(ctx)
	}
	s.state.Trial = ext.Trial
	s.state.Status = shop.StatusActive
	if ext.Trial {
		s.state.Status = shop.StatusTrial
	}
	s.skipPassedReminders(ctx)
	if err := s.upsert(ctx); err != nil {
		return err
	}
	if err := s.ensureInXray(ctx); err != nil {
		return err
	}
	if wasActive {
		// A renewal sends its own message; a correction that shortens the
		// period is not news to celebrate.
		if ext.Kind != shop.ExtensionRenewal && longer {
			s.notify(ctx, notice.Extended(s.state.ExpiresAt))
		}
		return nil
	}
	s.sendKey(ctx, "activated")
	return nil
}

// ensureInXray adds the user's key to Xray, retrying until Xray answers. If
// that takes more than a few seconds the user is told once that activation
// is in progress; the key follows without anyone acting.
func (s *subscription) ensureInXray(ctx workflow.Context) error {
	if leanIn(ctx) >= leanActivation {
		return s.addKey(ctx)
	}
	var a *activities.Activities
	told := false
	for {
		f := workflow.ExecuteActivity(withXray(ctx), a.EnsureVLESSUser, activities.UserRef{UserID: s.state.UserID})
		if ok, _ := workflow.AwaitWithTimeout(ctx, activationNotice, f.IsReady); !ok && !told {
			told = true
			s.notify(ctx, notice.ActivationInProgress())
		}
		err := f.Get(ctx, nil)
		if err == nil {
			s.state.InXray = true
			return s.unstuck(ctx)
		}
		// Retries are unlimited, so only an error retrying cannot fix (a
		// wrong inbound tag, say) gets here: wait for the operator.
		if err := s.retryLater(ctx, "add key to xray", err); err != nil {
			return err
		}
	}
}

// addKey is ensureInXray in lean runs (leanActivation), without a timer.
// The older way raced the call against a timer of activationNotice, which
// was left running when the key came first, as it nearly always does, and
// fired ten seconds later into a workflow task of its own: five events
// per activation for nothing. Here the first call itself is given
// activationNotice, retries included; only a call that has not succeeded
// by then tells the user and goes on retrying without limit. An error
// retrying cannot fix (a wrong inbound tag) is not news for the user: the
// step is retried after configRetry, as before. From leanXray the very
// first try runs locally (xrayLocal), in the task that decided it.
func (s *subscription) addKey(ctx workflow.Context) error {
	var a *activities.Activities
	ref := activities.UserRef{UserID: s.state.UserID}
	within := on(ctx, shop.BulkheadXray, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second, ScheduleToCloseTimeout: activationNotice,
		RetryPolicy: backoff(30 * time.Second),
	})
	if leanIn(ctx) >= leanXray {
		err := xrayLocal(ctx, a.EnsureVLESSUser, ref, nil)
		if err == nil {
			s.state.InXray = true
			return s.unstuck(ctx)
		}
		if final(err) {
			if err := s.retryLater(ctx, "add key to xray", err); err != nil {
				return err
			}
		}
	}
	told := false
	for {
		opts := withXray(ctx)
		if !told {
			opts = within
		}
		err := workflow.ExecuteActivity(opts, a.EnsureVLESSUser, ref).Get(ctx, nil)
		if err != nil && !told && !final(err) {
			told = true
			s.notify(ctx, notice.ActivationInProgress())
			err = workflow.ExecuteActivity(withXray(ctx), a.EnsureVLESSUser, ref).Get(ctx, nil)
		}
		if err == nil {
			s.state.InXray = true
			return s.unstuck(ctx)
		}
		// Retries are unlimited, so only an error retrying cannot fix
		// gets here: wait for the operator.
		if err := s.retryLater(ctx, "add key to xray", err); err != nil {
			return err
		}
	}
}
