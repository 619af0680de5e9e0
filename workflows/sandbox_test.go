package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"vpnflow/activities"
	"vpnflow/internal/shop"
)

// sandboxEnv runs SandboxExpire with the database step answering live (or
// not) and records the extension it delivers.
func sandboxEnv(t *testing.T, live, trial bool) (run func(shop.SandboxExpireInput) (shop.SandboxExpireResult, error), delivered *[]activities.DeliverExtensionInput, asked *[]activities.SandboxExpiryInput) {
	env := newTestEnv()
	a := &activities.Activities{}
	env.RegisterActivity(a)
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: shop.SandboxExpireWorkflowID(42, 7)})
	delivered = &[]activities.DeliverExtensionInput{}
	asked = &[]activities.SandboxExpiryInput{}
	env.OnActivity(a.SetSandboxExpiry, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.SandboxExpiryInput) (activities.SandboxExpiryResult, error) {
			*asked = append(*asked, in)
			if !live {
				return activities.SandboxExpiryResult{}, nil
			}
			return activities.SandboxExpiryResult{Live: true, Trial: trial, ExpiresAt: in.ExpiresAt}, nil
		})
	env.OnActivity(a.DeliverExtension, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.DeliverExtensionInput) error {
			*delivered = append(*delivered, in)
			return nil
		})
	run = func(in shop.SandboxExpireInput) (shop.SandboxExpireResult, error) {
		env.ExecuteWorkflow(SandboxExpire, in)
		require.True(t, env.IsWorkflowCompleted())
		var res shop.SandboxExpireResult
		if err := env.GetWorkflowError(); err != nil {
			return res, err
		}
		require.NoError(t, env.GetWorkflowResult(&res))
		return res, nil
	}
	return run, delivered, asked
}

func TestSandboxExpireMovesExpiryThroughSubscription(t *testing.T) {
	run, delivered, asked := sandboxEnv(t, true, true)
	res, err := run(shop.SandboxExpireInput{UserID: 42, In: 2 * time.Minute})
	require.NoError(t, err)

	require.Len(t, *asked, 1)
	at := (*asked)[0].ExpiresAt
	require.Equal(t, int64(42), (*asked)[0].UserID)
	require.Equal(t, at.Truncate(time.Second), at, "expiry is whole seconds")
	require.Equal(t, shop.SandboxExpireResult{Live: true, ExpiresAt: at}, res)

	require.Len(t, *delivered, 1)
	d := (*delivered)[0]
	require.Equal(t, int64(42), d.UserID)
	require.Equal(t, shop.Extension{
		ID: "sandbox:sandbox-expire/42/7", Kind: "grant", ExpiresAt: at, Trial: true, Replace: true,
	}, d.Extension, "a trial stays a trial; the extension replaces the expiry")
}

func TestSandboxExpireWithoutLiveSubscriptionChangesNothing(t *testing.T) {
	run, delivered, asked := sandboxEnv(t, false, false)
	res, err := run(shop.SandboxExpireInput{UserID: 42, In: time.Hour})
	require.NoError(t, err)
	require.False(t, res.Live)
	require.Len(t, *asked, 1)
	require.Empty(t, *delivered)
}

func TestSandboxExpireRefusesBadInput(t *testing.T) {
	for _, in := range []shop.SandboxExpireInput{
		{UserID: 42, In: 59 * time.Second},
		{UserID: 42, In: 24*time.Hour + time.Second},
		{UserID: 42},
		{UserID: 0, In: 2 * time.Minute},
	} {
		run, delivered, asked := sandboxEnv(t, true, false)
		_, err := run(in)
		var appErr *temporal.ApplicationError
		require.ErrorAs(t, err, &appErr, "%+v", in)
		require.Equal(t, "InvalidInput", appErr.Type())
		require.Empty(t, *asked)
		require.Empty(t, *delivered)
	}
}

// What the Subscription workflow does with the sandbox's extension: a trial
// moved to expire in two minutes stays a trial until then, then expires,
// its key leaves Xray and the user is told.
func TestSubscriptionTakesSandboxExpiryOfTrial(t *testing.T) {
	se := newSubEnv(t)
	se.RegisterDelayedCallback(func() {
		se.SignalWorkflow(shop.SignalExtend, shop.Extension{ID: "trial", Kind: "trial", PlanID: "trial", ExpiresAt: se.Now().Add(72 * time.Hour), Trial: true})
	}, time.Second)
	se.RegisterDelayedCallback(func() {
		se.SignalWorkflow(shop.SignalExtend, shop.Extension{ID: "sandbox:sandbox-expire/42/1", Kind: "grant", ExpiresAt: se.Now().Add(2 * time.Minute), Trial: true, Replace: true})
	}, time.Hour)
	var before, after shop.SubscriptionState
	se.RegisterDelayedCallback(func() { before = se.state(t) }, time.Hour+time.Minute)
	se.RegisterDelayedCallback(func() { after = se.state(t) }, time.Hour+3*time.Minute)
	se.RegisterDelayedCallback(func() { se.CancelWorkflow() }, 2*time.Hour)

	se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

	require.Equal(t, shop.StatusTrial, before.Status)
	require.True(t, before.Trial)
	require.Equal(t, shop.StatusExpired, after.Status)
	require.Equal(t, 1, se.removes)
	require.Contains(t, se.notices, "subscription_expired")
	require.Equal(t, 1, se.keys, "the key is sent once, on activation")
}
