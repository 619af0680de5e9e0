package workflows

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/shop"
)

func TestSubscriptionBanAndUnban(t *testing.T) {
	se := newSubEnv(t)
	se.extendAt(time.Second, "purchase:a", 30*24*time.Hour)
	se.RegisterDelayedCallback(func() { se.SignalWorkflow(shop.SignalBan, shop.Ban{Banned: true, By: 1}) }, time.Hour)
	var banned shop.SubscriptionState
	se.RegisterDelayedCallback(func() { banned = se.state(t) }, 2*time.Hour)
	// A payment while banned moves the expiry but does not restore the key.
	se.extendAt(3*time.Hour, "purchase:b", 60*24*time.Hour)
	se.RegisterDelayedCallback(func() { se.SignalWorkflow(shop.SignalBan, shop.Ban{Banned: false, By: 1}) }, 4*time.Hour)
	var unbanned shop.SubscriptionState
	se.RegisterDelayedCallback(func() { unbanned = se.state(t) }, 5*time.Hour)
	se.RegisterDelayedCallback(func() { se.CancelWorkflow() }, 6*time.Hour)

	se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

	require.Equal(t, shop.StatusBanned, banned.Status)
	require.False(t, banned.InXray)
	require.Equal(t, shop.StatusActive, unbanned.Status)
	require.True(t, unbanned.InXray)
	require.Equal(t, 1, se.removes)
	require.Equal(t, 2, se.adds)
	require.Equal(t, []string{"banned_notice", "unbanned_notice"}, se.notices)
}

// reissueEnv mocks the reissue activities; addFails makes the new key's
// Xray add fail.
func reissueEnv(t *testing.T, addFails bool) (*subEnv, *[]string) {
	se := newSubEnv(t)
	var steps []string
	se.OnActivity(se.a.BeginReissue, mock.Anything, mock.Anything).Return(func(_ context.Context, _ activities.UserRef) (activities.ReissuePlan, error) {
		steps = append(steps, "begin")
		return activities.ReissuePlan{OldEmail: "tg42@vpnflow", NewEmail: "tg42.k1@vpnflow"}, nil
	})
	se.OnActivity(se.a.AddPendingKey, mock.Anything, mock.Anything).Return(func(_ context.Context, k activities.KeyRef) error {
		steps = append(steps, "add "+k.Email)
		if addFails {
			return temporal.NewNonRetryableApplicationError("xray down", "Xray", errors.New("down"))
		}
		return nil
	})
	se.OnActivity(se.a.CommitReissue, mock.Anything, mock.Anything).Return(func(_ context.Context, k activities.KeyRef) error {
		steps = append(steps, "commit "+k.Email)
		return nil
	})
	se.OnActivity(se.a.AbortReissue, mock.Anything, mock.Anything).Return(func(_ context.Context, _ activities.UserRef) error {
		steps = append(steps, "abort")
		return nil
	})
	se.OnActivity(se.a.RemoveKey, mock.Anything, mock.Anything).Return(func(_ context.Context, k activities.KeyRef) error {
		steps = append(steps, "remove "+k.Email)
		return nil
	})
	return se, &steps
}

func TestSubscriptionReissueAddsNewKeyBeforeRemovingOld(t *testing.T) {
	se, steps := reissueEnv(t, false)
	se.extendAt(time.Second, "purchase:a", 30*24*time.Hour)
	var first, tooSoon error
	se.RegisterDelayedCallback(func() { se.UpdateWorkflow(shop.UpdateReissue, "r1", updateResult(&first), shop.ReissueRequest{}) }, time.Hour)
	se.RegisterDelayedCallback(func() { se.UpdateWorkflow(shop.UpdateReissue, "r2", updateResult(&tooSoon), shop.ReissueRequest{}) }, time.Hour+time.Minute)
	se.RegisterDelayedCallback(func() { se.CancelWorkflow() }, 2*time.Hour)

	se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

	require.NoError(t, first)
	require.Equal(t, []string{"begin", "add tg42.k1@vpnflow", "commit tg42.k1@vpnflow", "remove tg42@vpnflow"}, *steps)
	require.Equal(t, 2, se.keys, "the activation key and the reissued key")
	r := shop.RefusalFrom(tooSoon)
	require.Equal(t, shop.RefusedTooSoon, r.Type)
	require.Equal(t, 9*time.Minute, r.Wait)
}

func TestSubscriptionReissueRollsBackAndKeepsOldKey(t *testing.T) {
	se, steps := reissueEnv(t, true)
	se.extendAt(time.Second, "purchase:a", 30*24*time.Hour)
	var err error
	se.RegisterDelayedCallback(func() { se.UpdateWorkflow(shop.UpdateReissue, "r1", updateResult(&err), shop.ReissueRequest{}) }, time.Hour)
	var st shop.SubscriptionState
	se.RegisterDelayedCallback(func() { st = se.state(t) }, 90*time.Minute)
	se.RegisterDelayedCallback(func() { se.CancelWorkflow() }, 2*time.Hour)

	se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

	require.Error(t, err)
	require.Equal(t, []string{"begin", "add tg42.k1@vpnflow", "remove tg42.k1@vpnflow", "abort"}, *steps)
	require.Equal(t, shop.StatusActive, st.Status)
	require.True(t, st.InXray)
	require.Equal(t, 0, st.KeyVersion)
	require.Equal(t, []string{"reissue_failed"}, se.notices)
	require.Equal(t, 1, se.keys)
}

func TestSubscriptionReissueRefusedWhenNotActive(t *testing.T) {
	se, _ := reissueEnv(t, false)
	var err error
	se.RegisterDelayedCallback(func() { se.UpdateWorkflow(shop.UpdateReissue, "r1", updateResult(&err), shop.ReissueRequest{}) }, time.Minute)
	se.RegisterDelayedCallback(func() { se.CancelWorkflow() }, time.Hour)
	se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})
	require.Equal(t, shop.RefusedNotActive, shop.RefusalFrom(err).Type)
}

// It covers the AutoRenew activity path of runs from before autoRenewChange.
func TestSubscriptionAutoRenewChargesOncePerPeriod(t *testing.T) {
	se := newSubEnv(t)
	beforeLean(se.TestWorkflowEnvironment)
	se.OnGetVersion(autoRenewChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	charges := map[time.Time]int{}
	attempts := 0
	se.OnActivity(se.a.SetAutoRenew, mock.Anything, mock.Anything).Return(nil)
	se.OnActivity(se.a.AutoRenew, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.AutoRenewInput) (activities.AutoRenewResult, error) {
		attempts++
		if attempts == 1 {
			// The first attempt's connection drops after the commit: the
			// retry must not charge again (the activity's purchase id is
			// derived from the period; here the mock plays the database).
			charges[in.PeriodEnd]++
			return activities.AutoRenewResult{}, errors.New("connection reset")
		}
		if charges[in.PeriodEnd] == 0 {
			charges[in.PeriodEnd]++
		}
		return activities.AutoRenewResult{Renewed: true, ExpiresAt: in.PeriodEnd.Add(30 * 24 * time.Hour), Price: 300, Currency: "USD"}, nil
	})
	se.extendAt(time.Second, "purchase:a", 10*24*time.Hour)
	var err error
	se.RegisterDelayedCallback(func() {
		se.UpdateWorkflow(shop.UpdateSetAutoRenew, "a1", updateResult(&err), shop.AutoRenewRequest{On: true})
	}, time.Minute)
	var st shop.SubscriptionState
	se.RegisterDelayedCallback(func() { st = se.state(t) }, 12*24*time.Hour)
	se.RegisterDelayedCallback(func() { se.CancelWorkflow() }, 13*24*time.Hour)

	se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

	require.NoError(t, err)
	require.Len(t, charges, 1)
	for _, n := range charges {
		require.Equal(t, 1, n)
	}
	require.Equal(t, shop.StatusActive, st.Status)
	require.Contains(t, se.notices, "autorenew_done")
	require.NotContains(t, se.notices, "subscription_expired")
	require.Equal(t, 0, se.removes)
}

// It covers the AutoRenew activity path of runs from before autoRenewChange.
func TestSubscriptionAutoRenewShortBalanceTellsOnceThenExpires(t *testing.T) {
	se := newSubEnv(t)
	beforeLean(se.TestWorkflowEnvironment)
	se.OnGetVersion(autoRenewChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	se.OnActivity(se.a.SetAutoRenew, mock.Anything, mock.Anything).Return(nil)
	se.OnActivity(se.a.AutoRenew, mock.Anything, mock.Anything).Return(activities.AutoRenewResult{Price: 300, Currency: "USD", Balance: 100}, nil)
	se.extendAt(time.Second, "purchase:a", 10*24*time.Hour)
	var err error
	se.RegisterDelayedCallback(func() {
		se.UpdateWorkflow(shop.UpdateSetAutoRenew, "a1", updateResult(&err), shop.AutoRenewRequest{On: true})
	}, time.Minute)
	se.RegisterDelayedCallback(func() { se.CancelWorkflow() }, 11*24*time.Hour)

	se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

	require.NoError(t, err)
	short := 0
	for _, n := range se.notices {
		if n == "autorenew_short_balance" {
			short++
		}
	}
	require.Equal(t, 1, short)
	require.Contains(t, se.notices, "subscription_expired")
	require.Equal(t, 1, se.removes)
}

// An auto-renewal that fails with an error retrying cannot fix is not
// only logged: it is counted, and the user, who counts on the renewal,
// is told to renew by hand before the period ends.
func TestSubscriptionAutoRenewFailureIsToldAndCounted(t *testing.T) {
	metrics := newMetricsRecorder()
	var suite testsuite.WorkflowTestSuite
	suite.SetMetricsHandler(metrics)
	se := newSubEnvIn(t, suite.NewTestWorkflowEnvironment())
	// The AutoRenew activity path of runs from before autoRenewChange.
	beforeLean(se.TestWorkflowEnvironment)
	se.OnGetVersion(autoRenewChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	se.OnActivity(se.a.SetAutoRenew, mock.Anything, mock.Anything).Return(nil)
	se.OnActivity(se.a.AutoRenew, mock.Anything, mock.Anything).Return(activities.AutoRenewResult{},
		temporal.NewNonRetryableApplicationError("record renewal: invalid", "Invalid", nil))
	se.extendAt(time.Second, "purchase:a", 10*24*time.Hour)
	var err error
	se.RegisterDelayedCallback(func() {
		se.UpdateWorkflow(shop.UpdateSetAutoRenew, "a1", updateResult(&err), shop.AutoRenewRequest{On: true})
	}, time.Minute)
	se.RegisterDelayedCallback(func() { se.CancelWorkflow() }, 11*24*time.Hour)

	se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

	require.NoError(t, err)
	require.Contains(t, se.notices, "autorenew_failed")
	require.Equal(t, int64(1), metrics.count(autoRenewFailedMetric+"/"))
	require.Contains(t, se.notices, "subscription_expired")
}

func TestSubscriptionReplaceShortensExpiry(t *testing.T) {
	se := newSubEnv(t)
	se.extendAt(time.Second, "purchase:a", 30*24*time.Hour)
	se.RegisterDelayedCallback(func() {
		se.SignalWorkflow(shop.SignalExtend, shop.Extension{ID: "sandbox:1", Kind: "grant", ExpiresAt: se.Now().Add(2 * time.Minute), Replace: true})
	}, time.Hour)
	var st shop.SubscriptionState
	se.RegisterDelayedCallback(func() { st = se.state(t) }, time.Hour+5*time.Minute)
	se.RegisterDelayedCallback(func() { se.CancelWorkflow() }, 2*time.Hour)

	se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

	require.Equal(t, shop.StatusExpired, st.Status)
	require.Equal(t, 1, se.removes)
}

// canInput decodes the input a run continued as new with.
func canInput(t *testing.T, err error) shop.SubscriptionInput {
	t.Helper()
	var can *workflow.ContinueAsNewError
	require.ErrorAs(t, err, &can)
	var in shop.SubscriptionInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &in))
	return in
}

// A user who renews every month for ten years: each year's run is cut by
// continue-as-new, the whole state (dedup ids, reminder marks, expiry)
// survives it, a purchase redelivered after the cut is still a no-op, and
// what is carried stays bounded.
func TestSubscriptionYearsOfRenewalsStayBounded(t *testing.T) {
	in := shop.SubscriptionInput{UserID: 42, Policy: testPolicy}
	keys, notices := 0, 0
	var clock time.Time // each year's run starts where the last one ended
	for year := range 10 {
		se := newSubEnv(t)
		if !clock.IsZero() {
			se.SetStartTime(clock)
		}
		if in.State != nil {
			// The first purchase of last year arrives again: ignored.
			se.extendAt(time.Second, fmt.Sprintf("purchase:%d-%d", year-1, 0), 31*24*time.Hour)
		}
		for month := range 12 {
			id := fmt.Sprintf("purchase:%d-%d", year, month)
			se.extendAt(time.Duration(month)*30*24*time.Hour+time.Minute, id, 31*24*time.Hour)
		}
		se.RegisterDelayedCallback(func() { se.SetContinueAsNewSuggested(true) }, 360*24*time.Hour)
		se.ExecuteWorkflow(Subscription, in)
		require.True(t, se.IsWorkflowCompleted())
		next := canInput(t, se.GetWorkflowError())
		require.NotNil(t, next.State)
		require.Equal(t, shop.StatusActive, next.State.Status, "year %d", year)
		require.LessOrEqual(t, len(next.State.Applied), shop.MaxApplied)
		require.Contains(t, next.State.Applied, fmt.Sprintf("purchase:%d-11", year))
		clock = se.Now()
		keys += se.keys
		for _, n := range se.notices {
			require.NotEqual(t, "subscription_expired", n)
			if n == "subscription_extended" {
				notices++
			}
		}
		in = next
	}
	require.Equal(t, 1, keys, "one key message for ten years of renewals")
	require.Equal(t, 10*12-1, notices, "one 'extended' message per renewal but the first")
}
