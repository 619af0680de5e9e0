package workflows

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/shop"
)

// endSessionsLog makes EndSessions record each call into steps, with the
// removals (RemoveVLESSUser) done before it, and answer with outcome.
func endSessionsLog(se *subEnv, steps *[]string, outcome func() (activities.EndSessionsResult, error)) {
	se.OnActivity(se.a.EndSessions, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.EndSessionsInput) (activities.EndSessionsResult, error) {
		key := in.Email
		if key == "" {
			key = "current key"
		}
		*steps = append(*steps, fmt.Sprintf("end sessions of %s after %d removals", key, se.removes))
		return outcome()
	})
}

// Every revocation ends the key's sessions right after the key leaves
// Xray: a ban, the old key of a reissue, and the expiry.
func TestRevocationsEndSessionsAfterTheRemoval(t *testing.T) {
	se, steps := reissueEnv(t, false)
	endSessionsLog(se, steps, func() (activities.EndSessionsResult, error) {
		return activities.EndSessionsResult{Connections: 1}, nil
	})
	se.extendAt(time.Second, "purchase:a", 10*24*time.Hour)
	se.RegisterDelayedCallback(func() { se.SignalWorkflow(shop.SignalBan, shop.Ban{Banned: true, By: 1}) }, time.Hour)
	se.RegisterDelayedCallback(func() { se.SignalWorkflow(shop.SignalBan, shop.Ban{Banned: false, By: 1}) }, 2*time.Hour)
	var reissued error
	se.RegisterDelayedCallback(func() { se.UpdateWorkflow(shop.UpdateReissue, "r1", updateResult(&reissued), shop.ReissueRequest{}) }, 3*time.Hour)
	se.RegisterDelayedCallback(func() { se.CancelWorkflow() }, 11*24*time.Hour)

	se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

	require.NoError(t, reissued)
	require.Equal(t, []string{
		"end sessions of current key after 1 removals", // the ban
		"begin", "add tg42.k1@vpnflow", "commit tg42.k1@vpnflow", "remove tg42@vpnflow",
		"end sessions of tg42@vpnflow after 1 removals", // the reissue's old key
		"end sessions of current key after 2 removals",  // the expiry
	}, *steps)
}

// A worker that cannot end sessions, or an Xray that does not answer in
// time, holds up nothing: the user is expired and told, and the workflow
// goes on.
func TestRevocationGoesOnWhenSessionsCannotBeEnded(t *testing.T) {
	for name, outcome := range map[string]func() (activities.EndSessionsResult, error){
		"unable": func() (activities.EndSessionsResult, error) {
			return activities.EndSessionsResult{Unable: "cannot end xray's connections from here"}, nil
		},
		"failed": func() (activities.EndSessionsResult, error) {
			return activities.EndSessionsResult{}, temporal.NewNonRetryableApplicationError("xray refused", "Xray", nil)
		},
		"timed out": func() (activities.EndSessionsResult, error) {
			return activities.EndSessionsResult{}, fmt.Errorf("xray unavailable")
		},
	} {
		t.Run(name, func(t *testing.T) {
			se := newSubEnv(t)
			var steps []string
			endSessionsLog(se, &steps, outcome)
			se.extendAt(time.Second, "purchase:a", 24*time.Hour)
			var st shop.SubscriptionState
			se.RegisterDelayedCallback(func() { st = se.state(t) }, 25*time.Hour)
			se.RegisterDelayedCallback(func() { se.CancelWorkflow() }, 26*time.Hour)

			se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

			require.NotEmpty(t, steps)
			require.Equal(t, shop.StatusExpired, st.Status)
			require.False(t, st.InXray)
			require.Empty(t, st.Stuck, "not ending sessions is no stuck step")
			require.Contains(t, se.notices, "subscription_expired")
		})
	}
}

// Runs recorded before endSessionsChange never end sessions, so their
// histories replay.
func TestRevocationBeforeEndSessionsChange(t *testing.T) {
	se := newSubEnv(t)
	var steps []string
	endSessionsLog(se, &steps, func() (activities.EndSessionsResult, error) { return activities.EndSessionsResult{}, nil })
	se.OnGetVersion(endSessionsChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	se.extendAt(time.Second, "purchase:a", 24*time.Hour)
	se.RegisterDelayedCallback(func() { se.CancelWorkflow() }, 26*time.Hour)

	se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

	require.Equal(t, 1, se.removes)
	require.Empty(t, steps)
}
