package workflows

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/workflow"

	"vpnflow/internal/shop"
)

var xrayQueue = shop.BulkheadQueue("default-test-taskqueue", shop.BulkheadXray)

// From leanXray a user's Xray calls run in the workflow task that decided
// them, and go to the Xray bulkhead only when the local try is refused
// (slots busy, the node's breaker open) or fails; a run from before keeps
// them on the bulkhead.
func TestXrayCallsTryLocallyFirst(t *testing.T) {
	for _, tc := range []struct {
		name    string
		before  bool
		refused int // local and queued adds refused first
		want    []string
	}{
		{"lean", false, 0, []string{"add@local", "remove@local"}},
		{"lean, local try refused", false, 1, []string{"add@local", "add@" + xrayQueue, "remove@local"}},
		{"before leanXray", true, 0, []string{"add@" + xrayQueue, "remove@" + xrayQueue}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestEnv()
			if tc.before {
				env.OnGetVersion(leanChange, workflow.DefaultVersion, leanVersion).Return(leanXray - 1)
			}
			se := newSubEnvIn(t, env)
			refusals := tc.refused
			se.ensure = func() error {
				if refusals > 0 {
					refusals--
					return errors.New("xray call not run locally")
				}
				return nil
			}
			se.extendAt(time.Second, "purchase:a", 24*time.Hour)
			var end shop.SubscriptionState
			se.RegisterDelayedCallback(func() { end = se.state(t) }, 2*24*time.Hour)
			se.RegisterDelayedCallback(func() { se.CancelWorkflow() }, 3*24*time.Hour)

			se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

			require.Equal(t, tc.want, se.xrayOn)
			require.Equal(t, shop.StatusExpired, end.Status)
			require.False(t, end.InXray)
			require.Equal(t, []string{"reminder", "subscription_expired"}, se.notices)
		})
	}
}

var telegramQueue = shop.BulkheadQueue("default-test-taskqueue", shop.BulkheadTelegram)

// From leanNotice a notice with nothing queued before it is sent from the
// workflow task that decided it; one whose local try is refused (no slot,
// no turn in the pace soon) goes through the outbox and is sent once. A
// run from before sends every notice through the outbox. From leanOutbox
// the expiry notice is written by the expiry's transaction to the notice
// outbox, which the NoticeOutbox workflow drains; from leanReminder the
// reminder is written there too, and sent from the workflow only if the
// outbox refuses it.
func TestNoticeSentFromItsTaskWhenNothingIsQueued(t *testing.T) {
	for _, tc := range []struct {
		name          string
		version       workflow.Version
		refuse        int
		outboxRefuses bool
		want          []string
	}{
		{"lean", leanVersion, 0, false, []string{"outbox", "outbox"}},
		{"lean, the outbox refuses the reminder", leanVersion, 0, true, []string{"local", "outbox"}},
		{"leanOutbox", leanOutbox, 0, false, []string{"local", "outbox"}},
		{"leanOutbox, first local try refused", leanOutbox, 1, false, []string{telegramQueue, "outbox"}},
		{"leanNotice", leanNotice, 0, false, []string{"local", "local"}},
		{"leanNotice, first local try refused", leanNotice, 1, false, []string{telegramQueue, "local"}},
		{"before leanNotice", leanNotice - 1, 0, false, []string{telegramQueue, telegramQueue}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestEnv()
			env.OnGetVersion(leanChange, workflow.DefaultVersion, leanVersion).Return(tc.version)
			se := newSubEnvIn(t, env)
			se.refuseLocal = tc.refuse
			se.outboxRefuses = tc.outboxRefuses
			se.extendAt(time.Second, "purchase:a", 24*time.Hour)
			se.RegisterDelayedCallback(func() { se.CancelWorkflow() }, 3*24*time.Hour)

			se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

			require.Equal(t, []string{"reminder", "subscription_expired"}, se.notices, "each notice once, in order")
			require.Equal(t, tc.want, se.noticeOn)
			require.Zero(t, se.refuseLocal)
		})
	}
}
