package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/notice"
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

// edgesChange versions the fixes of issue 8 (signals drained before
// continue-as-new, expiry at the workflow's time, extensions that end in
// the past, policy read from the configuration, retry loops that continue
// as new). Runs recorded before it keep their old command sequence.
const edgesChange = "subscription-edges"

// Subscription is one user's VPN access over its whole life: activations,
// extensions, reminders and expiry, as durable timers instead of the legacy
// bot's tickers. Its ID (subscription/<telegram id>) makes it the single
// writer of the user's key; extensions are deduplicated by id, also across
// continue-as-new.
func Subscription(ctx workflow.Context, in shop.SubscriptionInput) error {
	if in.UserID <= 0 {
		return temporal.NewNonRetryableApplicationError("user id must be positive", "InvalidInput", nil)
	}
	ctx = withLean(ctx)
	s := &subscription{policy: in.Policy, lean: leanIn(ctx)}
	s.edges = version(ctx, edgesChange, 1) >= 1
	if in.State != nil {
		s.state = *in.State
	} else {
		s.state = shop.SubscriptionState{UserID: in.UserID, Status: shop.StatusNone}
	}
	s.pending, s.bans, s.overdue, s.moves = in.Pending, in.Bans, in.Overdue, in.Moves
	if err := s.setup(ctx); err != nil {
		return err
	}
	s.outbox = newOutbox(ctx, in.UserID, in.Outbox)
	return s.run(ctx, in)
}

type subscription struct {
	// edges is set for runs that started on the code versioned by
	// edgesChange; replays of older runs keep the old behaviour.
	edges bool
	// lean is the run's lean version (lean.go), for update handlers,
	// which run outside the context that carries it.
	lean   workflow.Version
	policy shop.Policy
	// policyRead is when this run last read the policy (refreshPolicy).
	policyRead time.Time
	state      shop.SubscriptionState
	pending    []shop.Extension
	bans       []shop.Ban
	overdue    *shop.Overdue
	reissues   []*reissueJob
	moves      []shop.Move // node moves asked for (subscription_move.go)
	outbox     *outbox     // nil in runs recorded before versionOutbox
	// rearm wakes the main loop to re-arm its timer: turning auto-renewal
	// on can put the renewal before the moment the loop sleeps until.
	rearm bool
	timer *wakeTimer // the main loop's timer, in lean runs (sleep)

	extensions, banSignals, overdueSignals, moveSignals workflow.ReceiveChannel
}

// reissueJob is a reissue update waiting for the main loop, which runs every
// Xray change of this user one at a time.
type reissueJob struct {
	done  bool
	err   error
	reply *shop.Reply // where the outcome goes, when the bot handed the request over
}

// errContinueAsNew comes back from a step stuck in retry when the run's
// history is long enough to continue as new; the step's work is queued
// again (or left in the state) so the next run resumes it.
var errContinueAsNew = errors.New("continue as new to resume a step stuck in retry")

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
	s.extensions = workflow.GetSignalChannel(ctx, shop.SignalExtend)
	s.banSignals = workflow.GetSignalChannel(ctx, shop.SignalBan)
	s.overdueSignals = workflow.GetSignalChannel(ctx, shop.SignalExpireOverdue)
	s.moveSignals = workflow.GetSignalChannel(ctx, shop.SignalMove)
	if !s.edges {
		// Runs from before edgesChange read signals in a coroutine. A
		// coroutine blocked on a channel takes a signal straight from it,
		// even while the main loop is deciding to continue as new, so a
		// signal arriving with an activity result could be lost; newer runs
		// read the channels in the main loop (receiveSignals).
		workflow.Go(ctx, func(ctx workflow.Context) {
			for {
				sel := workflow.NewSelector(ctx)
				sel.AddReceive(s.extensions, func(c workflow.ReceiveChannel, _ bool) {
					var ext shop.Extension
					c.Receive(ctx, &ext)
					s.pending = append(s.pending, ext)
				})
				sel.AddReceive(s.banSignals, func(c workflow.ReceiveChannel, _ bool) {
					var b shop.Ban
					c.Receive(ctx, &b)
					s.bans = append(s.bans, b)
				})
				sel.AddReceive(s.overdueSignals, func(c workflow.ReceiveChannel, _ bool) {
					var o shop.Overdue
					c.Receive(ctx, &o)
					s.overdue = &o
				})
				sel.Select(ctx)
			}
		})
	}
	return s.upsert(ctx)
}

// receiveSignals moves every signal delivered so far into the queues,
// without blocking. The main loop calls it before each decision, the last
// time after every handler has finished and just before continuing as new,
// so no signal stays behind in a channel of a finished run.
func (s *subscription) receiveSignals() {
	s.receiveMoves()
	if !s.edges {
		return
	}
	for {
		var ext shop.Extension
		if !s.extensions.ReceiveAsync(&ext) {
			break
		}
		s.pending = append(s.pending, ext)
	}
	for {
		var b shop.Ban
		if !s.banSignals.ReceiveAsync(&b) {
			break
		}
		s.bans = append(s.bans, b)
	}
	for {
		var o shop.Overdue
		if !s.overdueSignals.ReceiveAsync(&o) {
			break
		}
		s.overdue = &o
	}
}

// signalled reports whether signals wait in a channel (runs on edgesChange).
func (s *subscription) signalled() bool {
	return s.moveSignals.Len() > 0 ||
		s.edges && (s.extensions.Len() > 0 || s.banSignals.Len() > 0 || s.overdueSignals.Len() > 0)
}

// waiting reports whether anything waits for the main loop: queued work or
// signals not yet received.
func (s *subscription) waiting() bool {
	return s.queued() || s.signalled() || s.rearm
}

// queued reports whether signals or updates wait for the main loop.
func (s *subscription) queued() bool {
	return len(s.pending) > 0 || len(s.bans) > 0 || len(s.reissues) > 0 || s.overdue != nil || len(s.moves) > 0 ||
		(s.edges && len(s.state.Cleanup) > 0)
}

func (s *subscription) run(ctx workflow.Context, in shop.SubscriptionInput) error {
	if s.edges {
		s.refreshPolicy(ctx)
	}
	for {
		if err := s.step(ctx); err != nil {
			if errors.Is(err, errContinueAsNew) {
				return s.continueAsNew(ctx, in)
			}
			return err
		}

		if s.shouldContinueAsNew(ctx) {
			// Finish every handler and take in every queued signal first;
			// anything that arrived is applied before the history is cut.
			if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) || s.waiting() }); err != nil {
				return err
			}
			s.outbox.flush(ctx, outboxGrace)
			s.receiveSignals()
			if !s.queued() {
				st := s.state
				return workflow.NewContinueAsNewError(ctx, Subscription, shop.SubscriptionInput{
					UserID: in.UserID, Policy: s.policy, State: &st, Outbox: s.outbox.undelivered(),
				})
			}
			continue
		}

		if err := s.sleep(ctx); err != nil {
			return err
		}
	}
}

// step does what is due now: queued work, then the expiry, the renewal or
// a reminder, until nothing is due.
func (s *subscription) step(ctx workflow.Context) error {
	s.rearm = false
	for {
		if err := s.drain(ctx); err != nil {
			return err
		}
		d := s.clock().dueAt(workflow.Now(ctx))
		switch d.Kind {
		case dueExpiry:
			if err := s.expire(ctx); err != nil {
				return err
			}
			continue
		case dueRenewal:
			if err := s.autoRenew(ctx); err != nil {
				return err
			}
			continue
		case dueReminder:
			s.remind(ctx, d.Lead)
			continue
		}
		return nil
	}
}

func (s *subscription) shouldContinueAsNew(ctx workflow.Context) bool {
	info := workflow.GetInfo(ctx)
	return info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() > maxHistory
}

// continueAsNew ends a run whose step is stuck in retry: waiting reissues
// are answered (they cannot run while the step is stuck), every signal is
// taken in, and the queued work travels in the next run's input.
func (s *subscription) continueAsNew(ctx workflow.Context, in shop.SubscriptionInput) error {
	for _, job := range s.reissues {
		job.err, job.done = refuse(shop.RefusedTooSoon, configRetry), true
	}
	s.reissues = nil
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return err
	}
	s.outbox.flush(ctx, outboxGrace)
	s.receiveSignals()
	st := s.state
	return workflow.NewContinueAsNewError(ctx, Subscription, shop.SubscriptionInput{
		UserID: in.UserID, Policy: s.policy, State: &st, Pending: s.pending, Bans: s.bans, Overdue: s.overdue,
		Moves: s.moves, Outbox: s.outbox.undelivered(),
	})
}

// drain applies queued bans, extensions, an overdue expiry, node moves and reissues, in
// that order: a ban wins over anything that arrived with it. Work a stuck
// step could not finish goes back to the front of its queue.
func (s *subscription) drain(ctx workflow.Context) error {
	for s.receiveSignals(); s.queued(); s.receiveSignals() {
		switch {
		case len(s.bans) > 0:
			b := s.bans[0]
			s.bans = s.bans[1:]
			if err := s.ban(ctx, b); err != nil {
				if errors.Is(err, errContinueAsNew) {
					s.bans = append([]shop.Ban{b}, s.bans...)
				}
				return err
			}
		case len(s.pending) > 0:
			ext := s.pending[0]
			s.pending = s.pending[1:]
			if err := s.apply(ctx, ext); err != nil {
				return err
			}
		case s.overdue != nil:
			o := *s.overdue
			s.overdue = nil
			if err := s.expireOverdue(ctx, o); err != nil {
				if errors.Is(err, errContinueAsNew) {
					s.overdue = &o
				}
				return err
			}
		case s.edges && len(s.state.Cleanup) > 0:
			if err := s.cleanup(ctx); err != nil {
				return err
			}
		case len(s.moves) > 0:
			m := s.moves[0]
			s.moves = s.moves[1:]
			if err := s.move(ctx, m); err != nil {
				s.requeueMove(err, m)
				return err
			}
		default:
			job := s.reissues[0]
			s.reissues = s.reissues[1:]
			job.err = s.reissue(ctx, job.reply)
			job.done = true
		}
	}
	return nil
}

func (s *subscription) active() bool { return s.clock().active() }

func (s *subscription) notify(ctx workflow.Context, n notice.Notice) {
	var a *activities.Activities
	n.UserID = s.state.UserID
	if s.outbox != nil {
		if !s.outbox.sendNow(ctx, n) {
			s.outbox.post(noticeOf(n))
		}
		return
	}
	if err := workflow.ExecuteActivity(withTelegram(ctx), a.Notify, n).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Warn("notice not delivered", "message", n.Message, "error", err)
	}
}

// answer tells the user the outcome of a request the bot handed over
// (shop.Reply), in place of the bot's "working on it" message. A request
// from a bot that still waited for the outcome itself has no reply and
// gets no notice.
func (s *subscription) answer(ctx workflow.Context, reply *shop.Reply, n notice.Notice) {
	if reply != nil {
		s.notify(ctx, n.Replacing(reply.MessageID))
	}
}

// sendKey sends the user the key message ("activated", "reissued").
func (s *subscription) sendKey(ctx workflow.Context, reason string) {
	if s.outbox != nil {
		s.outbox.post(shop.Outgoing{KeyReason: reason})
		return
	}
	var a *activities.Activities
	if err := workflow.ExecuteActivity(withTelegram(ctx), a.SendKey, activities.SendKeyInput{
		UserID: s.state.UserID, Reason: reason,
	}).Get(ctx, nil); err != nil {
		// The key is active; the user can always open "My subscription".
		workflow.GetLogger(ctx).Warn("key message not delivered", "reason", reason, "error", err)
	}
}

func (s *subscription) upsert(ctx workflow.Context) error {
	updates := []temporal.SearchAttributeUpdate{
		shop.AttrTelegramUserID.ValueSet(s.state.UserID),
		shop.AttrSubscriptionStatus.ValueSet(s.state.Status),
	}
	if !s.state.ExpiresAt.IsZero() {
		updates = append(updates, shop.AttrExpiresAt.ValueSet(s.state.ExpiresAt))
	}
	if s.edges {
		// Carried in the state across continue-as-new, so a run that
		// resumes a stuck step is marked from its start.
		updates = append(updates, shop.AttrSubscriptionStuck.ValueSet(s.state.Stuck != ""))
	}
	return upsertChanged(ctx, updates...)
}
