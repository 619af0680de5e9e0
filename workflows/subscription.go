package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/searchattr"
	"vpnflow/internal/shop"
)

// activationNotice is how long a key activation may take before the user is
// told it is in progress (Xray slow or down).
const activationNotice = 10 * time.Second

// configRetry is how long the workflow waits before retrying an Xray call
// that failed with a configuration error (say, a wrong inbound tag): long
// enough for an operator to fix it, short enough that nobody has to act on
// the workflow afterwards.
const configRetry = 5 * time.Minute

// maxHistory caps a run's history even if the server never suggests
// continuing as new; a user renewing monthly for decades stays far below
// Temporal's limits.
const maxHistory = 5000

// TrialRequest asks for the free trial (update-with-start from the bot).
type TrialRequest struct{}

// Subscription is one user's VPN access over its whole life: activations,
// extensions, reminders and expiry, as durable timers instead of the legacy
// bot's tickers. Its ID (subscription/<telegram id>) makes it the single
// writer of the user's key; extensions are deduplicated by id, also across
// continue-as-new.
func Subscription(ctx workflow.Context, in shop.SubscriptionInput) error {
	if in.UserID <= 0 {
		return temporal.NewNonRetryableApplicationError("user id must be positive", "InvalidInput", nil)
	}
	s := &subscription{policy: in.Policy}
	if in.State != nil {
		s.state = *in.State
	} else {
		s.state = shop.SubscriptionState{UserID: in.UserID, Status: shop.StatusNone}
	}
	if err := s.setup(ctx); err != nil {
		return err
	}
	return s.run(ctx, in)
}

type subscription struct {
	policy  shop.Policy
	state   shop.SubscriptionState
	pending []shop.Extension
}

func (s *subscription) setup(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, shop.QueryState, func() (shop.SubscriptionState, error) {
		return s.state, nil
	}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, shop.UpdateStartTrial, s.startTrial,
		workflow.UpdateHandlerOptions{Validator: s.validateTrial}); err != nil {
		return err
	}
	extensions := workflow.GetSignalChannel(ctx, shop.SignalExtend)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			var ext shop.Extension
			extensions.Receive(ctx, &ext)
			s.pending = append(s.pending, ext)
		}
	})
	return s.upsert(ctx)
}

func (s *subscription) validateTrial(ctx workflow.Context, _ TrialRequest) error {
	if s.active() {
		return errors.New("subscription already active")
	}
	if s.state.Status == shop.StatusBanned {
		return errors.New("user is banned")
	}
	return nil
}

// startTrial books the trial in the database (once per user, enforced by the
// schema) and queues its extension; the main loop activates the key.
func (s *subscription) startTrial(ctx workflow.Context, _ TrialRequest) (activities.TrialResult, error) {
	var a *activities.Activities
	var res activities.TrialResult
	if err := workflow.ExecuteActivity(withDB(ctx), a.StartTrial, activities.UserRef{UserID: s.state.UserID}).Get(ctx, &res); err != nil {
		return res, err
	}
	s.pending = append(s.pending, shop.Extension{ID: "trial", Kind: "trial", PlanID: "trial", ExpiresAt: res.ExpiresAt, Trial: true})
	return res, nil
}

func (s *subscription) run(ctx workflow.Context, in shop.SubscriptionInput) error {
	for {
		for len(s.pending) > 0 {
			ext := s.pending[0]
			s.pending = s.pending[1:]
			if err := s.apply(ctx, ext); err != nil {
				return err
			}
		}

		if s.active() && !workflow.Now(ctx).Before(s.state.ExpiresAt) {
			if err := s.expire(ctx); err != nil {
				return err
			}
			continue
		}
		if due, stage := s.dueReminder(ctx); due {
			s.remind(ctx, stage)
			continue
		}

		if info := workflow.GetInfo(ctx); info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() > maxHistory {
			// Finish every handler and take in every queued signal first;
			// anything that arrived is applied before the history is cut.
			if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
				return err
			}
			if len(s.pending) == 0 {
				st := s.state
				return workflow.NewContinueAsNewError(ctx, Subscription, shop.SubscriptionInput{UserID: in.UserID, Policy: s.policy, State: &st})
			}
			continue
		}

		next, ok := s.nextEvent(ctx)
		woken := func() bool { return len(s.pending) > 0 }
		if ok {
			_, _ = workflow.AwaitWithTimeout(ctx, next.Sub(workflow.Now(ctx)), woken)
		} else if err := workflow.Await(ctx, woken); err != nil {
			return err
		}
	}
}

func (s *subscription) active() bool {
	return s.state.Status == shop.StatusActive || s.state.Status == shop.StatusTrial
}

// apply moves the expiry and makes sure the key works, once per extension id.
func (s *subscription) apply(ctx workflow.Context, ext shop.Extension) error {
	if s.state.HasApplied(ext.ID) {
		workflow.GetLogger(ctx).Info("extension already applied", "id", ext.ID)
		return nil
	}
	s.state.MarkApplied(ext.ID)
	wasActive := s.active() && s.state.InXray
	if ext.ExpiresAt.After(s.state.ExpiresAt) {
		s.state.ExpiresAt = ext.ExpiresAt
		s.state.Reminded = nil
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
	var a *activities.Activities
	if wasActive {
		s.notify(ctx, activities.Notice{Message: "subscription_extended", Expires: s.state.ExpiresAt})
		return nil
	}
	if err := workflow.ExecuteActivity(withTelegram(ctx), a.SendKey, activities.SendKeyInput{
		UserID: s.state.UserID, Reason: "activated",
	}).Get(ctx, nil); err != nil {
		// The key is active; the user can always open "My subscription".
		workflow.GetLogger(ctx).Warn("key message not delivered", "error", err)
	}
	return nil
}

// ensureInXray adds the user's key to Xray, retrying until Xray answers. If
// that takes more than a few seconds the user is told once that activation
// is in progress; the key follows without anyone acting.
func (s *subscription) ensureInXray(ctx workflow.Context) error {
	var a *activities.Activities
	told := false
	for {
		f := workflow.ExecuteActivity(withXray(ctx), a.EnsureVLESSUser, activities.UserRef{UserID: s.state.UserID})
		if ok, _ := workflow.AwaitWithTimeout(ctx, activationNotice, f.IsReady); !ok && !told {
			told = true
			s.notify(ctx, activities.Notice{Message: "activation_in_progress"})
		}
		err := f.Get(ctx, nil)
		if err == nil {
			s.state.InXray = true
			return nil
		}
		var appErr *temporal.ApplicationError
		if !errors.As(err, &appErr) || appErr.Type() != activities.ErrConfiguration {
			return fmt.Errorf("add vless user: %w", err)
		}
		workflow.GetLogger(ctx).Error("xray configuration error; retrying later", "error", err, "retry_in", configRetry)
		if err := workflow.Sleep(ctx, configRetry); err != nil {
			return err
		}
	}
}

// expire ends the period: the database first (which refuses if a renewal
// just moved the expiry), then Xray, then the user.
func (s *subscription) expire(ctx workflow.Context) error {
	var a *activities.Activities
	var res activities.ExpireResult
	if err := workflow.ExecuteActivity(withDB(ctx), a.ExpireSubscription, activities.UserRef{UserID: s.state.UserID}).Get(ctx, &res); err != nil {
		return fmt.Errorf("expire subscription: %w", err)
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
	if err := workflow.ExecuteActivity(withXray(ctx), a.RemoveVLESSUser, activities.UserRef{UserID: s.state.UserID}).Get(ctx, nil); err != nil {
		return fmt.Errorf("remove vless user: %w", err)
	}
	s.state.InXray = false
	s.state.Status = shop.StatusExpired
	if err := s.upsert(ctx); err != nil {
		return err
	}
	s.notify(ctx, activities.Notice{Message: "subscription_expired", PlanID: s.state.PlanID, Buttons: []activities.Button{activities.ButtonRenew}})
	return nil
}

// reminders are the stages for the current period, longest lead first.
func (s *subscription) reminders() []time.Duration {
	if s.state.Trial {
		return s.policy.TrialReminders
	}
	return s.policy.PaidReminders
}

func stageKey(lead time.Duration, expires time.Time) string {
	return fmt.Sprintf("%s@%d", lead, expires.Unix())
}

func (s *subscription) reminded(key string) bool {
	for _, r := range s.state.Reminded {
		if r == key {
			return true
		}
	}
	return false
}

// skipPassedReminders marks stages whose moment is already past for a new
// period, so a user who renews two days before expiry is not sent the
// three-day reminder.
func (s *subscription) skipPassedReminders(ctx workflow.Context) {
	now := workflow.Now(ctx)
	for _, lead := range s.reminders() {
		key := stageKey(lead, s.state.ExpiresAt)
		if !s.state.ExpiresAt.Add(-lead).After(now) && !s.reminded(key) {
			s.state.Reminded = append(s.state.Reminded, key)
		}
	}
}

func (s *subscription) dueReminder(ctx workflow.Context) (bool, time.Duration) {
	if !s.active() {
		return false, 0
	}
	now := workflow.Now(ctx)
	for _, lead := range s.reminders() {
		if !s.state.ExpiresAt.Add(-lead).After(now) && !s.reminded(stageKey(lead, s.state.ExpiresAt)) {
			return true, lead
		}
	}
	return false, 0
}

// remind sends one reminder stage. The stage is marked before sending, so a
// reminder goes out once per period even if this run continues as new.
func (s *subscription) remind(ctx workflow.Context, lead time.Duration) {
	s.state.Reminded = append(s.state.Reminded, stageKey(lead, s.state.ExpiresAt))
	s.notify(ctx, activities.Notice{
		Message: "reminder", PlanID: s.state.PlanID, Expires: s.state.ExpiresAt,
		Left: s.state.ExpiresAt.Sub(workflow.Now(ctx)), Buttons: []activities.Button{activities.ButtonRenew},
	})
}

// nextEvent is the next moment the workflow must wake by itself: a reminder
// or the expiry. A signal or update wakes it earlier; the timer is then
// simply re-armed for the new moment.
func (s *subscription) nextEvent(ctx workflow.Context) (time.Time, bool) {
	if !s.active() {
		return time.Time{}, false
	}
	next := s.state.ExpiresAt
	now := workflow.Now(ctx)
	for _, lead := range s.reminders() {
		at := s.state.ExpiresAt.Add(-lead)
		if at.After(now) && at.Before(next) && !s.reminded(stageKey(lead, s.state.ExpiresAt)) {
			next = at
		}
	}
	return next, true
}

func (s *subscription) notify(ctx workflow.Context, n activities.Notice) {
	var a *activities.Activities
	n.UserID = s.state.UserID
	if err := workflow.ExecuteActivity(withTelegram(ctx), a.Notify, n).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Warn("notice not delivered", "message", n.Message, "error", err)
	}
}

func (s *subscription) upsert(ctx workflow.Context) error {
	updates := []temporal.SearchAttributeUpdate{
		searchattr.TelegramUserID.ValueSet(s.state.UserID),
		searchattr.SubscriptionStatus.ValueSet(s.state.Status),
	}
	if !s.state.ExpiresAt.IsZero() {
		updates = append(updates, searchattr.ExpiresAt.ValueSet(s.state.ExpiresAt))
	}
	return workflow.UpsertTypedSearchAttributes(ctx, updates...)
}

// ReissueRequest asks for a new key (update from the bot).
type ReissueRequest struct{}

// AutoRenewRequest switches renewal from balance on or off.
type AutoRenewRequest struct {
	On bool
}
