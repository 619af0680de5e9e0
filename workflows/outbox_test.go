package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"vpnflow/internal/notice"
	"vpnflow/internal/shop"
)

// While Telegram is down, the subscription's own work goes on: a ban takes
// the key out of Xray at once, instead of after the key message has given
// up (withTelegram retries for ten minutes). Fails before the outbox.
func TestSubscriptionBanIsNotHeldUpByTelegram(t *testing.T) {
	se := newSubEnv(t)
	se.telegramDown = true
	se.extendAt(time.Second, "purchase:a", 30*24*time.Hour)
	banAt := 2 * time.Minute
	start := se.Now()
	se.RegisterDelayedCallback(func() {
		se.SignalWorkflow(shop.SignalBan, shop.Ban{Banned: true, By: 1})
	}, banAt)
	var st shop.SubscriptionState
	se.RegisterDelayedCallback(func() { st = se.state(t); se.CancelWorkflow() }, 5*time.Minute)
	se.SetTestTimeout(time.Minute)

	se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

	require.Equal(t, shop.StatusBanned, st.Status)
	require.NotEmpty(t, se.removedAt, "the banned key was never removed")
	require.Less(t, se.removedAt[0].Sub(start), banAt+time.Minute, "the ban waited for Telegram")
}

// Messages queued when a run continues as new are sent by the next run.
func TestSubscriptionCarriesUndeliveredMessagesOverContinueAsNew(t *testing.T) {
	se := newSubEnv(t)
	carried := []shop.Outgoing{{KeyReason: "activated"}, noticeOf(notice.Expired("1m"))}
	se.RegisterDelayedCallback(func() { se.CancelWorkflow() }, time.Minute)
	se.SetTestTimeout(time.Minute)
	se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy, Outbox: carried})
	require.Equal(t, 1, se.keys)
	require.Equal(t, []string{"subscription_expired"}, se.notices)
}
