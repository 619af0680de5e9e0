package workflows

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"vpnflow/activities"
	"vpnflow/internal/notice"
	"vpnflow/internal/shop"
)

var testPolicy = shop.Policy{
	PaidReminders:  []time.Duration{72 * time.Hour, 24 * time.Hour, time.Hour},
	TrialReminders: []time.Duration{24 * time.Hour, time.Hour},
	AutoRenewLead:  24 * time.Hour,
	ReissueEvery:   10 * time.Minute,
}

// subEnv records what a Subscription workflow did through its activities.
type subEnv struct {
	*testsuite.TestWorkflowEnvironment
	a        *activities.Activities
	notices  []string
	sent     []notice.Notice // the notices in full
	keys     int
	keyWhy   []string // each SendKey's reason
	adds     int
	removes  int
	expireAt func() time.Time                                     // what the database says on expiry; zero = expired
	ensure   func() error                                         // EnsureVLESSUser's outcome; nil = success
	onKey    func()                                               // runs inside SendKey, before it completes
	expire   func(activities.ExpireInput) activities.ExpireResult // the database's expiry, if set
	expires  []activities.ExpireInput
	// expiredOn is where each ExpireSubscription ran: "local" or its queue.
	expiredOn []string
	policy    shop.Policy // what CurrentPolicy reads from the configuration
	// policyReads is where each CurrentPolicy ran: "local" or its queue.
	policyReads []string
	// telegramDown makes Notify and SendKey fail, as a hung or down
	// Telegram does (the activity is retried until its time runs out).
	telegramDown bool
	removedAt    []time.Time // when each RemoveVLESSUser ran (workflow time)
	// xrayOn is where each EnsureVLESSUser ("add@") and RemoveVLESSUser
	// ("remove@") ran: "local" or its queue.
	xrayOn []string
	// noticeOn is where each notice delivered ran ("outbox": written by
	// the expiry's transaction); refuseLocal makes that many local Notify
	// tries fail (not admitted).
	noticeOn    []string
	refuseLocal int
	// outboxRefuses makes EnqueueReminder fail for good, as a reminder
	// the database will never take does.
	outboxRefuses bool
	// told: the period's expiry notice is in the outbox (until a key is
	// added again, a new period).
	told bool
}

func newSubEnv(t *testing.T) *subEnv {
	return newSubEnvIn(t, newTestEnv())
}

func newSubEnvIn(t *testing.T, env *testsuite.TestWorkflowEnvironment) *subEnv {
	a := &activities.Activities{}
	env.RegisterActivity(a)
	se := &subEnv{TestWorkflowEnvironment: env, a: a, policy: testPolicy}
	env.OnActivity(a.CurrentPolicy, mock.Anything, mock.Anything).Return(func(ctx context.Context, _ activities.PolicyRequest) (shop.Policy, error) {
		se.policyReads = append(se.policyReads, where(ctx))
		return se.policy, nil
	})
	env.OnActivity(a.Notify, mock.Anything, mock.Anything).Return(func(ctx context.Context, n notice.Notice) error {
		if se.telegramDown {
			return errTelegramDown
		}
		if se.refuseLocal > 0 && where(ctx) == "local" {
			se.refuseLocal--
			return activities.ErrNotAdmittedLocally
		}
		se.noticeOn = append(se.noticeOn, where(ctx))
		se.notices = append(se.notices, n.Message)
		se.sent = append(se.sent, n)
		return nil
	})
	reminded := map[string]bool{} // the outbox's dedup of reminder stages
	env.OnActivity(a.EnqueueReminder, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.ReminderInput) error {
		if se.outboxRefuses {
			return temporal.NewNonRetryableApplicationError("invalid reminder", "invalid", nil)
		}
		if key := fmt.Sprint(in.Lead, in.Notice.Expires.UnixMicro()); !reminded[key] {
			reminded[key] = true
			se.noticeOn = append(se.noticeOn, "outbox")
			se.notices = append(se.notices, in.Notice.Message)
			se.sent = append(se.sent, in.Notice)
		}
		return nil
	})
	env.OnActivity(a.SendKey, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.SendKeyInput) error {
		if se.telegramDown {
			return errTelegramDown
		}
		se.keys++
		se.keyWhy = append(se.keyWhy, in.Reason)
		if se.onKey != nil {
			se.onKey()
		}
		return nil
	})
	env.OnActivity(a.EnsureVLESSUser, mock.Anything, mock.Anything).Return(func(ctx context.Context, _ activities.UserRef) error {
		se.xrayOn = append(se.xrayOn, "add@"+where(ctx))
		if se.ensure != nil {
			if err := se.ensure(); err != nil {
				return err
			}
		}
		se.adds++
		se.told = false
		return nil
	})
	env.OnActivity(a.RemoveVLESSUser, mock.Anything, mock.Anything).Return(func(ctx context.Context, _ activities.UserRef) error {
		se.xrayOn = append(se.xrayOn, "remove@"+where(ctx))
		se.removes++
		se.removedAt = append(se.removedAt, se.Now())
		return nil
	})
	env.OnActivity(a.ExpireSubscription, mock.Anything, mock.Anything).Return(func(ctx context.Context, in activities.ExpireInput) (activities.ExpireResult, error) {
		se.expires = append(se.expires, in)
		se.expiredOn = append(se.expiredOn, where(ctx))
		res := activities.ExpireResult{Expired: true, Status: shop.StatusExpired}
		if se.expire != nil {
			res = se.expire(in)
		} else if se.expireAt != nil {
			if at := se.expireAt(); !at.IsZero() {
				res = activities.ExpireResult{ExpiresAt: at, Status: shop.StatusActive}
			}
		}
		if in.Tell && res.Expired && !se.told {
			se.told = true // the row is expired now: a repeat writes nothing
			// The expiry's transaction writes the notice to the outbox
			// (store.ExpireAndTell); the NoticeOutbox workflow sends it.
			se.noticeOn = append(se.noticeOn, "outbox")
			se.notices = append(se.notices, "subscription_expired")
			se.sent = append(se.sent, notice.Expired(""))
		}
		return res, nil
	})
	return se
}

var errTelegramDown = errors.New("telegram: circuit open")

func (se *subEnv) extendAt(after time.Duration, id string, validFor time.Duration) {
	se.RegisterDelayedCallback(func() {
		se.SignalWorkflow(shop.SignalExtend, shop.Extension{ID: id, Kind: "purchase", PlanID: "1m", ExpiresAt: se.Now().Add(validFor)})
	}, after)
}

func (se *subEnv) state(t *testing.T) shop.SubscriptionState {
	t.Helper()
	v, err := se.QueryWorkflow(shop.QueryState)
	require.NoError(t, err)
	var st shop.SubscriptionState
	require.NoError(t, v.Get(&st))
	return st
}

func TestSubscriptionActivatesOnceAndExpires(t *testing.T) {
	se := newSubEnv(t)
	se.extendAt(time.Second, "purchase:a", 30*24*time.Hour)
	// The same purchase delivered again (a retried activity): a no-op.
	se.extendAt(2*time.Second, "purchase:a", 30*24*time.Hour)
	var mid shop.SubscriptionState
	se.RegisterDelayedCallback(func() { mid = se.state(t) }, time.Hour)
	var end shop.SubscriptionState
	se.RegisterDelayedCallback(func() { end = se.state(t) }, 40*24*time.Hour)
	se.SetTestTimeout(time.Minute)
	se.RegisterDelayedCallback(func() { se.CancelWorkflow() }, 41*24*time.Hour)

	se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

	require.Equal(t, shop.StatusActive, mid.Status)
	require.True(t, mid.InXray)
	require.Equal(t, []string{"purchase:a"}, mid.Applied)
	require.Equal(t, shop.StatusExpired, end.Status)
	require.False(t, end.InXray)
	require.Equal(t, 1, se.adds)
	require.Equal(t, 1, se.keys)
	require.Equal(t, 1, se.removes)
	require.Equal(t, []string{"reminder", "reminder", "reminder", "subscription_expired"}, se.notices)
}

func TestSubscriptionRenewalMovesExpiry(t *testing.T) {
	se := newSubEnv(t)
	se.extendAt(time.Second, "purchase:a", 10*24*time.Hour)
	// Renewed on day 9 for 30 more days from the old expiry.
	se.RegisterDelayedCallback(func() {
		se.SignalWorkflow(shop.SignalExtend, shop.Extension{ID: "purchase:b", PlanID: "1m", ExpiresAt: se.Now().Add(31 * 24 * time.Hour)})
	}, 9*24*time.Hour)
	var day20 shop.SubscriptionState
	se.RegisterDelayedCallback(func() { day20 = se.state(t) }, 20*24*time.Hour)
	se.RegisterDelayedCallback(func() { se.CancelWorkflow() }, 21*24*time.Hour)

	se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

	require.Equal(t, shop.StatusActive, day20.Status)
	require.Equal(t, 0, se.removes)
	require.Equal(t, 1, se.keys, "a renewal of a live key sends no second key")
	// 72h, 24h before the first expiry passed? No: the 72h reminder fired on
	// day 7 (before the renewal); the new period's reminders are still ahead.
	require.Equal(t, []string{"reminder", "subscription_extended"}, se.notices)
}

func TestSubscriptionRenewalRacingExpiryWins(t *testing.T) {
	se := newSubEnv(t)
	se.extendAt(time.Second, "purchase:a", 24*time.Hour)
	// The database already holds a later expiry when the timer fires (the
	// renewal's signal is still in flight).
	var later time.Time
	se.expireAt = func() time.Time {
		if later.IsZero() {
			later = se.Now().Add(30 * 24 * time.Hour)
			return later
		}
		return time.Time{}
	}
	var st shop.SubscriptionState
	se.RegisterDelayedCallback(func() { st = se.state(t) }, 2*24*time.Hour)
	se.RegisterDelayedCallback(func() { se.CancelWorkflow() }, 3*24*time.Hour)

	se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

	require.Equal(t, shop.StatusActive, st.Status)
	require.Equal(t, 0, se.removes)
}

func TestSubscriptionTellsUserWhileXrayIsDown(t *testing.T) {
	se := newSubEnv(t)
	failures := 0
	se.ensure = func() error {
		if failures < 5 {
			failures++
			return errors.New("xray unavailable")
		}
		return nil
	}
	se.extendAt(time.Second, "purchase:a", 30*24*time.Hour)
	se.RegisterDelayedCallback(func() { se.CancelWorkflow() }, time.Hour)

	se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

	require.Equal(t, 5, failures)
	require.Equal(t, 1, se.adds)
	require.Equal(t, 1, se.keys)
	require.Equal(t, []string{"activation_in_progress"}, se.notices)
}

func TestSubscriptionTrialOncePerUser(t *testing.T) {
	se := newSubEnv(t)
	trials := 0
	se.OnActivity(se.a.StartTrial, mock.Anything, mock.Anything).Return(func(_ context.Context, _ activities.UserRef) (shop.TrialResult, error) {
		trials++
		if trials > 1 {
			return shop.TrialResult{}, temporal.NewNonRetryableApplicationError("used", shop.ErrTrialUsed, nil)
		}
		return shop.TrialResult{ExpiresAt: se.Now().Add(72 * time.Hour)}, nil
	})
	var first, second error
	se.RegisterDelayedCallback(func() {
		se.UpdateWorkflow(shop.UpdateStartTrial, "t1", updateResult(&first), shop.TrialRequest{})
	}, time.Second)
	var st shop.SubscriptionState
	se.RegisterDelayedCallback(func() { st = se.state(t) }, time.Minute)
	// After the trial ends the validator lets a second attempt through to
	// the database, which refuses it.
	se.RegisterDelayedCallback(func() {
		se.UpdateWorkflow(shop.UpdateStartTrial, "t2", updateResult(&second), shop.TrialRequest{})
	}, 80*time.Hour)
	se.RegisterDelayedCallback(func() { se.CancelWorkflow() }, 81*time.Hour)

	se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

	require.NoError(t, first)
	require.Equal(t, shop.StatusTrial, st.Status)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, second, &appErr)
	require.Equal(t, shop.ErrTrialUsed, appErr.Type())
	require.Equal(t, []string{"reminder", "reminder", "subscription_expired"}, se.notices)
}

func TestSubscriptionTrialRefusedWhileActive(t *testing.T) {
	se := newSubEnv(t)
	se.extendAt(time.Second, "purchase:a", 30*24*time.Hour)
	var err error
	se.RegisterDelayedCallback(func() {
		se.UpdateWorkflow(shop.UpdateStartTrial, "t1", updateResult(&err), shop.TrialRequest{})
	}, time.Minute)
	se.RegisterDelayedCallback(func() { se.CancelWorkflow() }, time.Hour)

	se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

	require.Equal(t, shop.RefusedActive, shop.RefusalFrom(err).Type)
}
