package workflows

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/schedules"
)

// healthEnv runs HealthCheck with probes that fail for the components in
// down, and records alerts and saved states.
type healthEnv struct {
	*testsuite.TestWorkflowEnvironment
	alerts     []activities.AdminAlert
	saved      []schedules.HealthCheckInput
	recorded   []activities.NodeHealthInput
	failovers  []activities.FailoverInput
	failedOver []activities.XrayNode // what FailOverNodes answers
	alertFail  error
}

// xrayDefault is the component of the one node the tests' health checks
// find, "default"; a test may give more (healthEnv.nodes).
var xrayDefault = ComponentXrayNode("default")

func newHealthEnv(down map[string]string) *healthEnv {
	return newHealthEnvIn(newTestEnv(), down)
}

func newHealthEnvIn(env *testsuite.TestWorkflowEnvironment, down map[string]string, nodes ...activities.XrayNode) *healthEnv {
	if len(nodes) == 0 {
		nodes = []activities.XrayNode{{ID: 1, Name: "default"}}
	}
	a := &activities.Activities{}
	env.RegisterActivity(a)
	he := &healthEnv{TestWorkflowEnvironment: env}
	probe := func(id string) func(context.Context, activities.HealthProbe) (activities.HealthProbeResult, error) {
		return func(context.Context, activities.HealthProbe) (activities.HealthProbeResult, error) {
			if msg, ok := down[id]; ok {
				return activities.HealthProbeResult{}, errors.New(msg)
			}
			return activities.HealthProbeResult{Detail: "fine"}, nil
		}
	}
	env.OnActivity(a.CheckPostgres, mock.Anything, mock.Anything).Return(probe(ComponentPostgres))
	env.OnActivity(a.CheckXray, mock.Anything, mock.Anything).Return(probe(ComponentXray))
	env.OnActivity(a.ListXrayNodes, mock.Anything, mock.Anything).Return(activities.XrayNodes{Nodes: nodes}, nil)
	env.OnActivity(a.CheckXrayNode, mock.Anything, mock.Anything).Return(func(ctx context.Context, in activities.NodeRef) (activities.HealthProbeResult, error) {
		for _, n := range nodes {
			if n.ID == in.NodeID {
				return probe(ComponentXrayNode(n.Name))(ctx, activities.HealthProbe{})
			}
		}
		return activities.HealthProbeResult{}, errors.New("no such node")
	})
	env.OnActivity(a.RecordNodeHealth, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.NodeHealthInput) error {
		he.recorded = append(he.recorded, in)
		return nil
	})
	env.OnActivity(a.FailOverNodes, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.FailoverInput) (activities.FailoverResult, error) {
		he.failovers = append(he.failovers, in)
		return activities.FailoverResult{Nodes: he.failedOver}, nil
	})
	env.OnActivity(a.CheckCryptoPay, mock.Anything, mock.Anything).Return(probe(ComponentCryptoPay))
	env.OnActivity(a.CheckTemporal, mock.Anything, mock.Anything).Return(probe(ComponentTemporal))
	env.OnActivity(a.CheckStuckSubscriptions, mock.Anything, mock.Anything).Return(probe(ComponentSubscriptions))
	env.OnActivity(a.CheckTelegram, mock.Anything, mock.Anything).Return(probe(ComponentTelegram))
	env.OnActivity(a.CheckBot, mock.Anything, mock.Anything).Return(probe(ComponentBot))
	env.OnActivity(a.CheckRevocation, mock.Anything, mock.Anything).Return(probe(ComponentRevocation))
	env.OnActivity(a.AlertAdmins, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.AdminAlert) (activities.AdminAlertResult, error) {
		if he.alertFail != nil {
			return activities.AdminAlertResult{Failed: 1}, he.alertFail
		}
		he.alerts = append(he.alerts, in)
		return activities.AdminAlertResult{Sent: 1}, nil
	})
	env.OnActivity(a.SaveHealthState, mock.Anything, mock.Anything).Return(func(_ context.Context, in schedules.HealthCheckInput) error {
		he.saved = append(he.saved, in)
		return nil
	})
	return he
}

func (he *healthEnv) run(t *testing.T, wasDown ...string) HealthReport {
	t.Helper()
	he.ExecuteWorkflow(HealthCheck, schedules.HealthCheckInput{Down: wasDown})
	require.True(t, he.IsWorkflowCompleted())
	require.NoError(t, he.GetWorkflowError())
	var r HealthReport
	require.NoError(t, he.GetWorkflowResult(&r))
	return r
}

func TestHealthCheckAllUpSaysNothing(t *testing.T) {
	he := newHealthEnv(nil)
	r := he.run(t)
	require.Empty(t, r.Down)
	require.Len(t, r.Components, 8)
	for _, c := range r.Components {
		require.True(t, c.Up, c.Component)
		require.Equal(t, "fine", c.Detail)
	}
	require.Empty(t, he.alerts)
	require.Empty(t, he.saved, "nothing changed, nothing to save")
}

func TestHealthCheckAlertsOnceWhenAComponentGoesDown(t *testing.T) {
	he := newHealthEnv(map[string]string{ComponentPostgres: "dial tcp 127.0.0.1:5432: connection refused"})
	r := he.run(t)
	require.Equal(t, []string{ComponentPostgres}, r.Down)
	require.Equal(t, 1, r.Alerts)
	require.Equal(t, []activities.AdminAlert{{
		Message: activities.AlertHealthDown, Component: "PostgreSQL", Error: "dial tcp 127.0.0.1:5432: connection refused",
	}}, he.alerts)
	require.Equal(t, []schedules.HealthCheckInput{{Down: []string{ComponentPostgres}}}, he.saved)

	// The next run starts from the saved state: still down, nothing said.
	he2 := newHealthEnv(map[string]string{ComponentPostgres: "still refused"})
	r = he2.run(t, he.saved[0].Down...)
	require.Equal(t, []string{ComponentPostgres}, r.Down)
	require.Zero(t, r.Alerts)
	require.Empty(t, he2.alerts)
	require.Empty(t, he2.saved)
}

func TestHealthCheckAlertsRecovery(t *testing.T) {
	he := newHealthEnv(map[string]string{ComponentCryptoPay: "503"})
	r := he.run(t, ComponentCryptoPay, xrayDefault)
	require.Equal(t, []string{ComponentCryptoPay}, r.Down)
	require.Equal(t, []activities.AdminAlert{{Message: activities.AlertHealthUp, Component: "Xray default"}}, he.alerts)
	require.Equal(t, []schedules.HealthCheckInput{{Down: []string{ComponentCryptoPay}}}, he.saved)
}

func TestHealthCheckSeveralChangesAtOnce(t *testing.T) {
	he := newHealthEnv(map[string]string{xrayDefault: "unavailable", ComponentTemporal: "no pollers"})
	r := he.run(t, ComponentPostgres)
	require.Equal(t, []string{ComponentTemporal, xrayDefault}, r.Down)
	require.Equal(t, 3, r.Alerts)
	require.ElementsMatch(t, []activities.AdminAlert{
		{Message: activities.AlertHealthUp, Component: "PostgreSQL"},
		{Message: activities.AlertHealthDown, Component: "Xray default", Error: "unavailable"},
		{Message: activities.AlertHealthDown, Component: "Temporal", Error: "no pollers"},
	}, he.alerts)
	require.Equal(t, []schedules.HealthCheckInput{{Down: []string{ComponentTemporal, xrayDefault}}}, he.saved)
}

// An alert nobody received is not recorded as told, so the next run
// tries again instead of staying silent.
func TestHealthCheckKeepsStateWhenTheAlertFails(t *testing.T) {
	he := newHealthEnv(map[string]string{xrayDefault: "unavailable"})
	he.alertFail = temporal.NewNonRetryableApplicationError("chat not found", "Telegram", nil)
	r := he.run(t)
	require.Empty(t, r.Down)
	require.Equal(t, 1, r.AlertsFailed)
	require.Zero(t, r.Alerts)
	require.Empty(t, he.saved)
	c := component(r, xrayDefault)
	require.False(t, c.Up)
	require.Equal(t, "unavailable", c.Error)
}

// When Telegram is what is down, the alert about it cannot travel through
// Telegram: the run says it failed to tell anyone, keeps the state so the
// next run tries again, and the component's gauge carries the news to
// Prometheus. A silent bot is reported like any component.
func TestHealthCheckTelegramDownReachesTheMetric(t *testing.T) {
	metrics := newMetricsRecorder()
	var suite testsuite.WorkflowTestSuite
	suite.SetMetricsHandler(metrics)
	he := newHealthEnvIn(suite.NewTestWorkflowEnvironment(), map[string]string{
		ComponentTelegram: "telegram getMe: connection refused",
		ComponentBot:      "no heartbeat since 2026-12-04 12:00:00 UTC (2m0s ago)",
	})
	he.alertFail = errors.New("send health alert to admin 1: connection refused")
	r := he.run(t)
	require.Equal(t, 2, r.AlertsFailed)
	require.Empty(t, r.Down, "not told, so not saved as told")
	for component, want := range map[string]float64{ComponentTelegram: 0, ComponentBot: 0, ComponentPostgres: 1, xrayDefault: 1} {
		got, ok := metrics.gauge(healthUpMetric + "/" + component)
		require.True(t, ok, component)
		require.Equal(t, want, got, component)
	}
}

// Runs recorded before the Telegram and bot probes keep their five.
func TestHealthCheckBeforeThePeerProbes(t *testing.T) {
	he := newHealthEnv(nil)
	he.OnGetVersion(healthPeersChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	he.OnGetVersion(healthRevocationChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	r := he.run(t)
	require.Len(t, r.Components, 5)
}

// Runs recorded before the revocation probe keep their seven.
func TestHealthCheckBeforeTheRevocationProbe(t *testing.T) {
	he := newHealthEnv(nil)
	he.OnGetVersion(healthRevocationChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	r := he.run(t)
	require.Len(t, r.Components, 7)
}

// Revocation that does not hold (sessions that cannot be ended, revoked
// keys moving traffic) reaches the admins like a component that is down.
func TestHealthCheckAlertsRevocation(t *testing.T) {
	he := newHealthEnv(map[string]string{ComponentRevocation: "revoked keys moved traffic after their revocation: user 7"})
	r := he.run(t)
	require.Len(t, r.Components, 8)
	require.Equal(t, []string{ComponentRevocation}, r.Down)
	require.Equal(t, []activities.AdminAlert{{
		Message: activities.AlertHealthDown, Component: "Revocation", Error: "revoked keys moved traffic after their revocation: user 7",
	}}, he.alerts)
	// Still down on the next run: nothing more is said.
	he2 := newHealthEnv(map[string]string{ComponentRevocation: "revoked keys moved traffic after their revocation: user 7"})
	r = he2.run(t, ComponentRevocation)
	require.Equal(t, []string{ComponentRevocation}, r.Down)
	require.Empty(t, he2.alerts)
}

// Runs recorded before nodes probe the one Xray as "xray".
func TestHealthCheckBeforeNodes(t *testing.T) {
	he := newHealthEnv(map[string]string{ComponentXray: "unavailable"})
	he.OnGetVersion(healthPerNodeChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	r := he.run(t)
	require.Equal(t, []string{ComponentXray}, r.Down)
	require.Len(t, r.Components, 8) // the seven, and the revocation probe
	require.Empty(t, he.recorded)
}

// Each node is a component of its own: one node down is told by name, the
// others stay quiet, and every node's probe is stored in its row.
func TestHealthCheckProbesEachNode(t *testing.T) {
	nodes := []activities.XrayNode{{ID: 1, Name: "default"}, {ID: 2, Name: "eu-2"}, {ID: 3, Name: "us-1"}}
	he := newHealthEnvIn(newTestEnv(), map[string]string{ComponentXrayNode("eu-2"): "context deadline exceeded"}, nodes...)
	r := he.run(t)
	require.Equal(t, []string{ComponentXrayNode("eu-2")}, r.Down)
	require.Len(t, r.Components, 10) // six, one per node, and the revocation probe
	require.Equal(t, []activities.AdminAlert{{
		Message: activities.AlertHealthDown, Component: "Xray eu-2", Error: "context deadline exceeded",
	}}, he.alerts)
	require.Len(t, he.recorded, 1)
	require.False(t, he.recorded[0].At.IsZero())
	require.Equal(t, []activities.NodeProbeOutcome{
		{NodeID: 1}, {NodeID: 2, Error: "context deadline exceeded"}, {NodeID: 3},
	}, he.recorded[0].Probes)
}

// A node probe that fails asks for the failover rule at the run's time
// (the database decides whether the node is due); a run whose node
// probes all answer does not ask.
func TestHealthCheckFailsOverADownNode(t *testing.T) {
	nodes := []activities.XrayNode{{ID: 1, Name: "default"}, {ID: 2, Name: "eu-2"}}
	he := newHealthEnvIn(newTestEnv(), map[string]string{ComponentXrayNode("eu-2"): "connection refused"}, nodes...)
	he.failedOver = []activities.XrayNode{{ID: 2, Name: "eu-2"}}
	r := he.run(t, ComponentXrayNode("eu-2"))
	require.Len(t, he.failovers, 1)
	require.Equal(t, he.recorded[0].At, he.failovers[0].At)
	require.Equal(t, []string{"eu-2"}, r.FailedOver)

	up := newHealthEnvIn(newTestEnv(), nil, nodes...)
	r = up.run(t)
	require.Empty(t, up.failovers)
	require.Empty(t, r.FailedOver)
	// Another component down is no reason to look.
	pg := newHealthEnvIn(newTestEnv(), map[string]string{ComponentPostgres: "down"}, nodes...)
	pg.run(t)
	require.Empty(t, pg.failovers)
}

func component(r HealthReport, id string) ComponentHealth {
	for _, c := range r.Components {
		if c.Component == id {
			return c
		}
	}
	return ComponentHealth{}
}

func TestProbeErrorIsShort(t *testing.T) {
	long := make([]byte, 1000)
	for i := range long {
		long[i] = 'x'
	}
	msg := probeError(temporal.NewApplicationError(string(long), "X"))
	require.Equal(t, 301, len([]rune(msg)))
}

// A Subscription workflow stuck in retry reaches the admins through the
// health check, like a component that is down.
func TestHealthCheckAlertsStuckSubscriptions(t *testing.T) {
	he := newHealthEnv(map[string]string{ComponentSubscriptions: "2 subscription workflows stuck retrying a step"})
	r := he.run(t)
	require.Equal(t, []string{ComponentSubscriptions}, r.Down)
	require.Equal(t, []activities.AdminAlert{{
		Message: activities.AlertHealthDown, Component: "Subscriptions", Error: "2 subscription workflows stuck retrying a step",
	}}, he.alerts)
}
