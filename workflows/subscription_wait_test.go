package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"vpnflow/internal/shop"
)

// A purchase during a shorter period moves the next reminder. A lean run
// cancels the timer it had armed for the old moment; a run from before
// left it to fire for nothing, and armed a second timer for the new
// moment when it did. The user hears the same either way.
func TestLeanSubscriptionKeepsOneTimer(t *testing.T) {
	type outcome struct {
		fired, canceled int
		notices         []string
		keys            int
	}
	run := func(lean bool) outcome {
		se := newSubEnv(t)
		if !lean {
			beforeLean(se.TestWorkflowEnvironment)
		}
		// The main loop's timers; the short ones are activation notices.
		long := map[string]bool{}
		var o outcome
		se.SetOnTimerScheduledListener(func(id string, d time.Duration) {
			if d > time.Hour {
				long[id] = true
			}
		})
		se.SetOnTimerFiredListener(func(id string) {
			if long[id] {
				o.fired++
			}
		})
		se.SetOnTimerCanceledListener(func(id string) {
			if long[id] {
				o.canceled++
			}
		})
		se.extendAt(time.Second, "purchase:a", 3*24*time.Hour)   // reminder due at day 2
		se.extendAt(24*time.Hour, "purchase:b", 30*24*time.Hour) // now day 28, then day 30
		se.RegisterDelayedCallback(func() { se.CancelWorkflow() }, 28*24*time.Hour+time.Hour)

		se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

		o.notices, o.keys = se.notices, se.keys
		return o
	}
	lean, before := run(true), run(false)

	require.Equal(t, 1, lean.fired, "only the reminder's timer fires")
	require.Equal(t, 1, lean.canceled, "the day-2 timer is cancelled")
	require.Greater(t, before.fired, lean.fired)
	require.Equal(t, before.notices, lean.notices)
	require.Equal(t, 1, count(lean.notices, "reminder"))
	require.Equal(t, before.keys, lean.keys)
	t.Logf("main-loop timers fired: %d lean, %d before", lean.fired, before.fired)
}
