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
	policy   shop.Policy
	state    shop.SubscriptionState
	pending  []shop.Extension
	bans     []shop.Ban
	reissues []*reissueJob
}

// reissueJob is a reissue update waiting for the main loop, which runs every
// Xray change of this user one at a time.
type reissueJob struct {
	done bool
	err  error
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
	if err := workflow.SetUpdateHandlerWithOptions(ctx, shop.UpdateReissue, s.requestReissue,
		workflow.UpdateHandlerOptions{Validator: s.validateReissue}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, shop.UpdateSetAutoRenew, s.setAutoRenew,
		workflow.UpdateHandlerOptions{Validator: s.validateAutoRenew}); err != nil {
		return err
	}
	extensions := workflow.GetSignalChannel(ctx, shop.SignalExtend)
	bans := workflow.GetSignalChannel(ctx, shop.SignalBan)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			sel := workflow.NewSelector(ctx)
			sel.AddReceive(extensions, func(c workflow.ReceiveChannel, _ bool) {
				var ext shop.Extension
				c.Receive(ctx, &ext)
				s.pending = append(s.pending, ext)
			})
			sel.AddReceive(bans, func(c workflow.ReceiveChannel, _ bool) {
				var b shop.Ban
				c.Receive(ctx, &b)
				s.bans = append(s.bans, b)
			})
			sel.Select(ctx)
		}
	})
	return s.upsert(ctx)
}

// queued reports whether signals or updates wait for the main loop.
func (s *subscription) queued() bool {
	return len(s.pending) > 0 || len(s.bans) > 0 || len(s.reissues) > 0
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
		if err := s.drain(ctx); err != nil {
			return err
		}

		now := workflow.Now(ctx)
		switch {
		case s.active() && !now.Before(s.state.ExpiresAt):
			if err := s.expire(ctx); err != nil {
				return err
			}
			continue
		case s.renewalDue(now):
			if err := s.autoRenew(ctx); err != nil {
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
			if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) || s.queued() }); err != nil {
				return err
			}
			if !s.queued() {
				st := s.state
				return workflow.NewContinueAsNewError(ctx, Subscription, shop.SubscriptionInput{UserID: in.UserID, Policy: s.policy, State: &st})
			}
			continue
		}

		if next, ok := s.nextEvent(ctx); ok {
			_, _ = workflow.AwaitWithTimeout(ctx, next.Sub(workflow.Now(ctx)), s.queued)
		} else if err := workflow.Await(ctx, s.queued); err != nil {
			return err
		}
	}
}

// drain applies queued bans, extensions and reissues, in that order: a ban
// wins over anything that arrived with it.
func (s *subscription) drain(ctx workflow.Context) error {
	for s.queued() {
		switch {
		case len(s.bans) > 0:
			b := s.bans[0]
			s.bans = s.bans[1:]
			if err := s.ban(ctx, b); err != nil {
				return err
			}
		case len(s.pending) > 0:
			ext := s.pending[0]
			s.pending = s.pending[1:]
			if err := s.apply(ctx, ext); err != nil {
				return err
			}
		default:
			job := s.reissues[0]
			s.reissues = s.reissues[1:]
			job.err = s.reissue(ctx)
			job.done = true
		}
	}
	return nil
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
	longer := ext.ExpiresAt.After(s.state.ExpiresAt)
	if longer || (ext.Replace && !ext.ExpiresAt.Equal(s.state.ExpiresAt)) {
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
		// A renewal sends its own message; a correction that shortens the
		// period is not news to celebrate.
		if ext.Kind != "renewal" && longer {
			s.notify(ctx, activities.Notice{Message: "subscription_extended", Expires: s.state.ExpiresAt})
		}
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
		// Retries are unlimited, so only an error retrying cannot fix (a
		// wrong inbound tag, say) gets here: wait for the operator.
		workflow.GetLogger(ctx).Error("adding the key to xray failed; retrying later", "error", err, "retry_in", configRetry)
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
	if err := s.untilDone(ctx, "expire subscription", func() error {
		return workflow.ExecuteActivity(withDB(ctx), a.ExpireSubscription, activities.UserRef{UserID: s.state.UserID}).Get(ctx, &res)
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
		return workflow.ExecuteActivity(withXray(ctx), a.RemoveVLESSUser, activities.UserRef{UserID: s.state.UserID}).Get(ctx, nil)
	}); err != nil {
		return err
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
	if at, ok := s.renewalAt(); ok && at.After(now) && at.Before(next) {
		next = at
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

// ban takes the key out of Xray (or, on unban, puts a still-paid key back).
func (s *subscription) ban(ctx workflow.Context, b shop.Ban) error {
	var a *activities.Activities
	if b.Banned {
		if s.state.Status == shop.StatusBanned {
			return nil
		}
		if err := s.untilDone(ctx, "remove banned user's key", func() error {
			return workflow.ExecuteActivity(withXray(ctx), a.RemoveVLESSUser, activities.UserRef{UserID: s.state.UserID}).Get(ctx, nil)
		}); err != nil {
			return err
		}
		s.state.Status, s.state.InXray = shop.StatusBanned, false
		if err := s.upsert(ctx); err != nil {
			return err
		}
		s.notify(ctx, activities.Notice{Message: "banned_notice"})
		return nil
	}
	if s.state.Status != shop.StatusBanned {
		return nil
	}
	s.state.Status = shop.StatusExpired
	if workflow.Now(ctx).Before(s.state.ExpiresAt) {
		s.state.Status = shop.StatusActive
		if s.state.Trial {
			s.state.Status = shop.StatusTrial
		}
		if err := s.ensureInXray(ctx); err != nil {
			return err
		}
	}
	if err := s.upsert(ctx); err != nil {
		return err
	}
	s.notify(ctx, activities.Notice{Message: "unbanned_notice"})
	return nil
}

// untilDone runs an activity whose retries are unlimited; only an error
// retrying cannot fix comes back, and then the step is tried again after
// configRetry rather than failing the user's workflow.
func (s *subscription) untilDone(ctx workflow.Context, what string, run func() error) error {
	for {
		err := run()
		if err == nil {
			return nil
		}
		workflow.GetLogger(ctx).Error(what+" failed; retrying later", "error", err, "retry_in", configRetry)
		if err := workflow.Sleep(ctx, configRetry); err != nil {
			return err
		}
	}
}

func (s *subscription) validateReissue(ctx workflow.Context, _ ReissueRequest) error {
	switch {
	case s.state.Status == shop.StatusBanned:
		return refuse(RefusedBanned, 0)
	case !s.active() || !s.state.InXray:
		return refuse(RefusedNotActive, 0)
	case len(s.reissues) > 0:
		return refuse(RefusedTooSoon, s.policy.ReissueEvery)
	}
	if wait := s.state.LastReissue.Add(s.policy.ReissueEvery).Sub(workflow.Now(ctx)); !s.state.LastReissue.IsZero() && wait > 0 {
		return refuse(RefusedTooSoon, wait)
	}
	return nil
}

// requestReissue queues the reissue for the main loop and waits for it.
func (s *subscription) requestReissue(ctx workflow.Context, _ ReissueRequest) error {
	job := &reissueJob{}
	s.reissues = append(s.reissues, job)
	if err := workflow.Await(ctx, func() bool { return job.done }); err != nil {
		return err
	}
	return job.err
}

// reissue replaces the user's key: the new key is added to Xray next to the
// old one, stored, delivered, and only then is the old key removed. If a
// step before the switch fails, the new key is dropped, the old one keeps
// working and the user is told.
func (s *subscription) reissue(ctx workflow.Context) error {
	var a *activities.Activities
	ref := activities.UserRef{UserID: s.state.UserID}
	var plan activities.ReissuePlan
	if err := workflow.ExecuteActivity(withDB(ctx), a.BeginReissue, ref).Get(ctx, &plan); err != nil {
		s.notify(ctx, activities.Notice{Message: "reissue_failed"})
		return err
	}
	newKey := activities.KeyRef{UserID: s.state.UserID, Email: plan.NewEmail}
	addCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second, ScheduleToCloseTimeout: time.Minute,
		RetryPolicy: backoff(10 * time.Second),
	})
	err := workflow.ExecuteActivity(addCtx, a.AddPendingKey, newKey).Get(ctx, nil)
	if err == nil {
		err = workflow.ExecuteActivity(withDB(ctx), a.CommitReissue, newKey).Get(ctx, nil)
	}
	if err != nil {
		workflow.GetLogger(ctx).Warn("reissue failed; rolling back", "error", err)
		_ = s.untilDone(ctx, "remove unused reissued key", func() error {
			return workflow.ExecuteActivity(withXray(ctx), a.RemoveKey, newKey).Get(ctx, nil)
		})
		_ = s.untilDone(ctx, "abort reissue", func() error {
			return workflow.ExecuteActivity(withDB(ctx), a.AbortReissue, ref).Get(ctx, nil)
		})
		s.notify(ctx, activities.Notice{Message: "reissue_failed"})
		return err
	}
	s.state.KeyVersion++
	s.state.LastReissue = workflow.Now(ctx)
	if err := workflow.ExecuteActivity(withTelegram(ctx), a.SendKey, activities.SendKeyInput{UserID: s.state.UserID, Reason: "reissued"}).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Warn("reissued key not delivered; the user can open My subscription", "error", err)
	}
	return s.untilDone(ctx, "remove old key", func() error {
		return workflow.ExecuteActivity(withXray(ctx), a.RemoveKey, activities.KeyRef{UserID: s.state.UserID, Email: plan.OldEmail}).Get(ctx, nil)
	})
}

func (s *subscription) validateAutoRenew(ctx workflow.Context, _ AutoRenewRequest) error {
	if s.state.Status == shop.StatusNone {
		return refuse(RefusedNotActive, 0)
	}
	return nil
}

func (s *subscription) setAutoRenew(ctx workflow.Context, req AutoRenewRequest) error {
	var a *activities.Activities
	if err := workflow.ExecuteActivity(withDB(ctx), a.SetAutoRenew, activities.AutoRenewSetting{UserID: s.state.UserID, On: req.On}).Get(ctx, nil); err != nil {
		return err
	}
	s.state.AutoRenew = req.On
	return nil
}

func renewalKey(expires time.Time) string { return fmt.Sprintf("renew@%d", expires.Unix()) }

// renewalAt is when the current period is renewed from the balance, if it
// is to be.
func (s *subscription) renewalAt() (time.Time, bool) {
	if !s.state.AutoRenew || s.state.Status != shop.StatusActive || s.state.Trial || s.reminded(renewalKey(s.state.ExpiresAt)) {
		return time.Time{}, false
	}
	return s.state.ExpiresAt.Add(-s.policy.AutoRenewLead), true
}

func (s *subscription) renewalDue(now time.Time) bool {
	at, ok := s.renewalAt()
	return ok && !now.Before(at)
}

// autoRenew charges the balance once for the period (the activity's
// purchase id is derived from user and period end, so a retry or a worker
// restart can never charge twice) and applies the extension.
func (s *subscription) autoRenew(ctx workflow.Context) error {
	var a *activities.Activities
	periodEnd := s.state.ExpiresAt
	s.state.Reminded = append(s.state.Reminded, renewalKey(periodEnd))
	var res activities.AutoRenewResult
	if err := workflow.ExecuteActivity(withDB(ctx), a.AutoRenew, activities.AutoRenewInput{
		UserID: s.state.UserID, PlanID: s.state.PlanID, PeriodEnd: periodEnd,
	}).Get(ctx, &res); err != nil {
		workflow.GetLogger(ctx).Error("auto-renewal failed", "error", err)
		return nil
	}
	switch {
	case res.Renewed:
		if err := s.apply(ctx, shop.Extension{
			ID: fmt.Sprintf("renewal:%d", periodEnd.Unix()), Kind: "renewal", PlanID: s.state.PlanID, ExpiresAt: res.ExpiresAt,
		}); err != nil {
			return err
		}
		s.notify(ctx, activities.Notice{Message: "autorenew_done", PlanID: s.state.PlanID, Expires: res.ExpiresAt, Amount: res.Price, Currency: res.Currency})
	case res.NoPlan:
		workflow.GetLogger(ctx).Info("auto-renewal skipped: plan no longer sold", "plan", s.state.PlanID)
	default:
		s.notify(ctx, activities.Notice{Message: "autorenew_short_balance", Amount: res.Price, Currency: res.Currency, Balance: res.Balance,
			Buttons: []activities.Button{activities.ButtonTopUp}})
	}
	return nil
}
