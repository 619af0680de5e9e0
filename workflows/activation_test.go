package workflows

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"vpnflow/activities"
	"vpnflow/internal/shop"
)

// The user hears "activation in progress" only when the key is not in
// Xray within activationNotice, in lean runs (no timer) as before them.
func TestActivationNoticeOnlyWhenSlow(t *testing.T) {
	for _, tc := range []struct {
		name     string
		failures int // Xray refuses this many calls first (retries after 1, 2, 4, 8 s)
		notices  []string
	}{
		{"at once", 0, nil},
		{"after two quick retries", 2, nil},
		{"after 15 s", 4, []string{"activation_in_progress"}},
		{"after a minute", 6, []string{"activation_in_progress"}},
	} {
		for _, lean := range []bool{true, false} {
			name := tc.name
			if !lean {
				name += ", run before lean"
			}
			t.Run(name, func(t *testing.T) {
				se := newSubEnv(t)
				if !lean {
					beforeLean(se.TestWorkflowEnvironment)
				}
				// A lean run tries once locally first (xrayStep): that
				// try fails too, and the queue sees the same refusals.
				refusals := tc.failures
				if lean && tc.failures > 0 {
					refusals++
				}
				failures := 0
				se.ensure = func() error {
					if failures < refusals {
						failures++
						return errors.New("xray unavailable")
					}
					return nil
				}
				se.extendAt(time.Second, "purchase:a", 30*24*time.Hour)
				se.RegisterDelayedCallback(func() { se.CancelWorkflow() }, time.Hour)

				se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

				require.Equal(t, refusals, failures)
				require.Equal(t, 1, se.keys)
				require.Equal(t, tc.notices, se.notices)
			})
		}
	}
}

// A configuration error (a wrong inbound tag) is not news for the user:
// no "in progress" notice, the step is retried after configRetry, and
// the key follows once the operator has fixed it.
func TestActivationConfigErrorRetriedQuietly(t *testing.T) {
	se := newSubEnv(t)
	var calls []time.Time
	se.ensure = func() error {
		calls = append(calls, se.Now())
		if len(calls) == 1 {
			return temporal.NewNonRetryableApplicationError("inbound not found", activities.ErrConfiguration, errors.New("no inbound"))
		}
		return nil
	}
	se.extendAt(time.Second, "purchase:a", 30*24*time.Hour)
	var st shop.SubscriptionState
	se.RegisterDelayedCallback(func() { st = se.state(t) }, time.Hour)
	se.RegisterDelayedCallback(func() { se.CancelWorkflow() }, 2*time.Hour)

	se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

	require.Len(t, calls, 2)
	require.GreaterOrEqual(t, calls[1].Sub(calls[0]), configRetry)
	require.Empty(t, se.notices)
	require.Equal(t, 1, se.keys)
	require.True(t, st.InXray)
	require.Empty(t, st.Stuck)
}
