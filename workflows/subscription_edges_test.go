package workflows

import (
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/shop"
)

// nextRun is the input a run continued as new with.
func nextRun(t *testing.T, se *subEnv) shop.SubscriptionInput {
	t.Helper()
	var can *workflow.ContinueAsNewError
	require.ErrorAs(t, se.GetWorkflowError(), &can)
	var in shop.SubscriptionInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &in))
	return in
}

// A purchase's extension that arrives in the same workflow task as an
// activity result, just when the server suggests continuing as new, is
// applied before the run ends (it used to sit in the signal channel and be
// lost with the run).
func TestSubscriptionSignalWithActivityResultAtContinueAsNew(t *testing.T) {
	se := newSubEnv(t)
	later := se.Now().Add(60 * 24 * time.Hour)
	se.onKey = func() {
		se.SetContinueAsNewSuggested(true)
		se.SignalWorkflowSkippingWorkflowTask(shop.SignalExtend, shop.Extension{ID: "purchase:b", Kind: "purchase", PlanID: "1m", ExpiresAt: later})
	}
	se.extendAt(time.Second, "purchase:a", 30*24*time.Hour)
	se.SetTestTimeout(time.Minute)

	se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

	next := nextRun(t, se)
	require.NotNil(t, next.State)
	applied := next.State.HasApplied("purchase:b")
	carried := len(next.Pending) == 1 && next.Pending[0].ID == "purchase:b"
	require.True(t, applied || carried, "purchase:b lost at continue-as-new: applied %v, pending %v", next.State.Applied, next.Pending)
	if applied {
		require.True(t, next.State.ExpiresAt.Equal(later), "expiry %s, want %s", next.State.ExpiresAt, later)
	}
}

// The same for a ban: it takes effect before the run ends.
func TestSubscriptionBanWithActivityResultAtContinueAsNew(t *testing.T) {
	se := newSubEnv(t)
	se.onKey = func() {
		se.SetContinueAsNewSuggested(true)
		se.SignalWorkflowSkippingWorkflowTask(shop.SignalBan, shop.Ban{Banned: true, By: 1})
	}
	se.extendAt(time.Second, "purchase:a", 30*24*time.Hour)
	se.SetTestTimeout(time.Minute)

	se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

	next := nextRun(t, se)
	require.True(t, next.State.Status == shop.StatusBanned || len(next.Bans) == 1, "ban lost at continue-as-new: status %s", next.State.Status)
	if next.State.Status == shop.StatusBanned {
		require.Equal(t, 1, se.removes)
		require.False(t, next.State.InXray)
	}
}

// The workflow's clock decides the expiry: with the database's clock 30 s
// behind or ahead, the row is expired exactly when the key leaves Xray.
func TestSubscriptionExpiresAtWorkflowTimeWithSkew(t *testing.T) {
	for _, skew := range []time.Duration{-30 * time.Second, 30 * time.Second} {
		t.Run(skew.String(), func(t *testing.T) {
			se := newSubEnv(t)
			var mu sync.Mutex
			var rowExpiry time.Time
			rowStatus := shop.StatusActive
			se.expire = func(in activities.ExpireInput) activities.ExpireResult {
				mu.Lock()
				defer mu.Unlock()
				at := in.At
				if at.IsZero() {
					at = se.Now().Add(skew) // the database's now()
				}
				if rowStatus == shop.StatusActive && !at.Before(rowExpiry) {
					rowStatus = shop.StatusExpired
					return activities.ExpireResult{Expired: true, Status: rowStatus}
				}
				return activities.ExpireResult{ExpiresAt: rowExpiry, Status: rowStatus}
			}
			se.RegisterDelayedCallback(func() {
				mu.Lock()
				rowExpiry = se.Now().Add(24 * time.Hour)
				mu.Unlock()
				se.SignalWorkflow(shop.SignalExtend, shop.Extension{ID: "purchase:a", Kind: "purchase", PlanID: "1m", ExpiresAt: rowExpiry})
			}, time.Second)
			var st shop.SubscriptionState
			se.RegisterDelayedCallback(func() { st = se.state(t) }, 2*24*time.Hour)
			se.RegisterDelayedCallback(func() { se.CancelWorkflow() }, 3*24*time.Hour)

			se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

			require.Equal(t, shop.StatusExpired, st.Status)
			require.Equal(t, 1, se.removes)
			mu.Lock()
			defer mu.Unlock()
			require.Equal(t, shop.StatusExpired, rowStatus, "the key left Xray but the row stayed live")
			require.False(t, se.expires[0].At.IsZero(), "expiry sent without the workflow's time")
		})
	}
}

// An extension whose period is already over is recorded and changes
// nothing: no key in Xray, no "activated" message.
func TestSubscriptionPastExtensionDoesNotActivate(t *testing.T) {
	se := newSubEnv(t)
	se.RegisterDelayedCallback(func() {
		se.SignalWorkflow(shop.SignalExtend, shop.Extension{ID: "purchase:late", Kind: "purchase", PlanID: "1m", ExpiresAt: se.Now().Add(-time.Hour)})
	}, time.Second)
	var st shop.SubscriptionState
	se.RegisterDelayedCallback(func() { st = se.state(t) }, time.Hour)
	se.RegisterDelayedCallback(func() { se.CancelWorkflow() }, 2*time.Hour)

	se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

	require.True(t, st.HasApplied("purchase:late"))
	require.NotEqual(t, shop.StatusActive, st.Status)
	require.False(t, st.InXray)
	require.Equal(t, 0, se.adds, "a past extension put the key into Xray")
	require.Equal(t, 0, se.keys, "a past extension sent an activation message")
	require.Empty(t, se.notices)
}

// A correction (a refund) that moves a live period's end into the past
// ends it now: the key leaves Xray at once, not at the old expiry.
func TestSubscriptionRefundIntoPastExpiresNow(t *testing.T) {
	se := newSubEnv(t)
	se.extendAt(time.Second, "purchase:a", 30*24*time.Hour)
	se.RegisterDelayedCallback(func() {
		se.SignalWorkflow(shop.SignalExtend, shop.Extension{ID: "refund:a", Kind: "grant", ExpiresAt: se.Now().Add(-time.Minute), Replace: true})
	}, time.Hour)
	var st shop.SubscriptionState
	se.RegisterDelayedCallback(func() { st = se.state(t) }, 2*time.Hour)
	se.RegisterDelayedCallback(func() { se.CancelWorkflow() }, 3*time.Hour)

	se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

	require.Equal(t, shop.StatusExpired, st.Status)
	require.False(t, st.InXray)
	require.Equal(t, 1, se.adds, "the refunded period was put back into Xray")
	require.Equal(t, 1, se.removes)
	require.Equal(t, 1, se.keys)
	require.Equal(t, []string{"subscription_expired"}, se.notices)
}

// The reconcile sweep's expire-overdue signal starts a fresh run (the old
// one was terminated): the row is expired at the workflow's time, the key
// removed and the user told once, however often the sweep repeats it.
func TestSubscriptionExpireOverdueFreshRun(t *testing.T) {
	se := newSubEnv(t)
	overdue := shop.Overdue{ExpiresAt: se.Now().Add(-2 * time.Hour), PlanID: "1m", Status: shop.StatusActive}
	se.RegisterDelayedCallback(func() { se.SignalWorkflow(shop.SignalExpireOverdue, overdue) }, time.Second)
	se.RegisterDelayedCallback(func() { se.SignalWorkflow(shop.SignalExpireOverdue, overdue) }, time.Hour)
	var st shop.SubscriptionState
	se.RegisterDelayedCallback(func() { st = se.state(t) }, 2*time.Hour)
	se.RegisterDelayedCallback(func() { se.CancelWorkflow() }, 3*time.Hour)

	se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

	require.Equal(t, shop.StatusExpired, st.Status)
	require.False(t, st.InXray)
	require.NotEmpty(t, se.expires)
	require.False(t, se.expires[0].At.IsZero(), "expired without the workflow's time")
	require.GreaterOrEqual(t, se.removes, 1)
	require.Equal(t, []string{"subscription_expired"}, se.notices, "the user is told once")
	require.Equal(t, 0, se.adds)
}

// If the database holds a later expiry (renewed meanwhile), the overdue
// report is stale: the later expiry wins and the key is (put) in Xray.
func TestSubscriptionExpireOverdueRenewedMeanwhile(t *testing.T) {
	se := newSubEnv(t)
	renewed := se.Now().Add(30 * 24 * time.Hour)
	se.expire = func(activities.ExpireInput) activities.ExpireResult {
		return activities.ExpireResult{ExpiresAt: renewed, Status: shop.StatusActive}
	}
	se.RegisterDelayedCallback(func() {
		se.SignalWorkflow(shop.SignalExpireOverdue, shop.Overdue{ExpiresAt: se.Now().Add(-time.Hour), PlanID: "1m", Status: shop.StatusActive})
	}, time.Second)
	var st shop.SubscriptionState
	se.RegisterDelayedCallback(func() { st = se.state(t) }, time.Hour)
	se.RegisterDelayedCallback(func() { se.CancelWorkflow() }, 2*time.Hour)

	se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

	require.Equal(t, shop.StatusActive, st.Status)
	require.True(t, st.ExpiresAt.Equal(renewed))
	require.True(t, st.InXray)
	require.Equal(t, 0, se.removes)
	require.Equal(t, 1, se.adds)
	require.NotContains(t, se.notices, "subscription_expired")
}

// The reminder policy comes from the configuration as it is now, not from
// the one the workflow was first started (or continued) with.
func TestSubscriptionPolicyFollowsCurrentConfig(t *testing.T) {
	se := newSubEnv(t)
	se.policy = shop.Policy{PaidReminders: []time.Duration{24 * time.Hour}, TrialReminders: []time.Duration{time.Hour}, AutoRenewLead: time.Hour, ReissueEvery: time.Minute}
	se.extendAt(time.Second, "purchase:a", 10*24*time.Hour)
	se.RegisterDelayedCallback(func() { se.CancelWorkflow() }, 11*24*time.Hour)

	// The input carries the old configuration's three stages.
	se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

	require.Equal(t, []string{"reminder", "subscription_expired"}, se.notices)
}

// Auto-renewal of a subscription without a plan (a grant, a promo) is
// refused with a reason the bot shows, instead of never renewing.
func TestSubscriptionAutoRenewWithoutPlanRefused(t *testing.T) {
	se := newSubEnv(t)
	se.OnActivity(se.a.SetAutoRenew, mock.Anything, mock.Anything).Return(nil)
	se.RegisterDelayedCallback(func() {
		se.SignalWorkflow(shop.SignalExtend, shop.Extension{ID: "grant:g1", Kind: "grant", ExpiresAt: se.Now().Add(7 * 24 * time.Hour)})
	}, time.Second)
	var err error
	se.RegisterDelayedCallback(func() {
		se.UpdateWorkflow(shop.UpdateSetAutoRenew, "a1", updateResult(&err), shop.AutoRenewRequest{On: true})
	}, time.Hour)
	var off error
	se.RegisterDelayedCallback(func() {
		se.UpdateWorkflow(shop.UpdateSetAutoRenew, "a2", updateResult(&off), shop.AutoRenewRequest{On: false})
	}, 2*time.Hour)
	se.RegisterDelayedCallback(func() { se.CancelWorkflow() }, 3*time.Hour)

	se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

	r := shop.RefusalFrom(err)
	require.Equal(t, shop.RefusedNoPlan, r.Type, "update error: %v", err)
	require.Equal(t, "autorenew_needs_plan", r.MessageID())
	require.NoError(t, off, "turning auto-renewal off is always allowed")
}

// metricsRecorder counts counter increments by name and step tag, and
// keeps gauges' last values by name and component tag.
type metricsRecorder struct {
	client.MetricsHandler
	mu     *sync.Mutex
	tags   map[string]string
	counts map[string]int64
	gauges map[string]float64
}

func newMetricsRecorder() *metricsRecorder {
	return &metricsRecorder{MetricsHandler: client.MetricsNopHandler, mu: &sync.Mutex{}, counts: map[string]int64{}, gauges: map[string]float64{}}
}

func (m *metricsRecorder) Gauge(name string) client.MetricsGauge {
	return gaugeFunc(func(v float64) {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.gauges[name+"/"+m.tags["component"]] = v
	})
}

type gaugeFunc func(float64)

func (f gaugeFunc) Update(v float64) { f(v) }

func (m *metricsRecorder) gauge(key string) (float64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.gauges[key]
	return v, ok
}

func (m *metricsRecorder) WithTags(tags map[string]string) client.MetricsHandler {
	merged := map[string]string{}
	for k, v := range m.tags {
		merged[k] = v
	}
	for k, v := range tags {
		merged[k] = v
	}
	return &metricsRecorder{MetricsHandler: m.MetricsHandler, mu: m.mu, tags: merged, counts: m.counts, gauges: m.gauges}
}

func (m *metricsRecorder) Counter(name string) client.MetricsCounter {
	return counterFunc(func(n int64) {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.counts[name+"/"+m.tags["step"]] += n
	})
}

func (m *metricsRecorder) count(key string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.counts[key]
}

// A step stuck in retry (Xray refuses the key: a wrong inbound tag) shows
// in a metric and the state, and the run continues as new when its history
// is long, carrying the unapplied extension; the next run applies it.
func TestSubscriptionStuckRetryContinuesAsNew(t *testing.T) {
	metrics := newMetricsRecorder()
	var suite testsuite.WorkflowTestSuite
	suite.SetMetricsHandler(metrics)
	suite.SetLogger(sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	se := newSubEnvIn(t, suite.NewTestWorkflowEnvironment())
	se.ensure = func() error {
		return temporal.NewNonRetryableApplicationError("inbound not found", activities.ErrConfiguration, errors.New("no inbound"))
	}
	se.extendAt(time.Second, "purchase:a", 30*24*time.Hour)
	var stuck shop.SubscriptionState
	se.RegisterDelayedCallback(func() { stuck = se.state(t) }, time.Hour)
	se.RegisterDelayedCallback(func() { se.SetContinueAsNewSuggested(true) }, 2*time.Hour)
	se.RegisterDelayedCallback(func() { se.CancelWorkflow() }, 3*time.Hour)
	se.SetTestTimeout(time.Minute)

	se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

	require.Equal(t, "add key to xray", stuck.Stuck)
	require.Positive(t, metrics.count(stuckMetric+"/add key to xray"))
	next := nextRun(t, se)
	require.Len(t, next.Pending, 1)
	require.Equal(t, "purchase:a", next.Pending[0].ID)
	require.False(t, next.State.HasApplied("purchase:a"))

	// The operator fixes the inbound; the next run applies the extension.
	se2 := newSubEnv(t)
	var st shop.SubscriptionState
	se2.RegisterDelayedCallback(func() { st = se2.state(t) }, time.Hour)
	se2.RegisterDelayedCallback(func() { se2.CancelWorkflow() }, 2*time.Hour)
	se2.ExecuteWorkflow(Subscription, next)
	require.Equal(t, shop.StatusActive, st.Status)
	require.True(t, st.InXray)
	require.Empty(t, st.Stuck)
	require.Equal(t, 1, se2.keys)
}
