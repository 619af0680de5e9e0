package workflows

import (
	"errors"
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/schedules"
	"vpnflow/internal/shop"
)

// Components the health check probes. The ids are stored in the schedule's
// input; the names are what admins read.
const (
	ComponentPostgres  = "postgres"
	ComponentXray      = "xray"
	ComponentCryptoPay = "cryptopay"
	ComponentTemporal  = "temporal"
	// ComponentSubscriptions is "down" while a Subscription workflow is
	// stuck retrying a step (the SubscriptionStuck search attribute).
	ComponentSubscriptions = "subscriptions"
	// ComponentTelegram is the Bot API (getMe); ComponentBot the bot
	// process, by its heartbeat.
	ComponentTelegram = "telegram"
	ComponentBot      = "bot"
	// ComponentRevocation is "down" while revoked keys' sessions cannot be
	// ended, or revoked keys moved traffic after their revocation
	// (activities.CheckRevocation).
	ComponentRevocation = "revocation"
)

// healthPeersChange versions the Telegram and bot probes: recorded runs of
// the health check had five probes.
const healthPeersChange = "health-telegram-and-bot"

// healthUpMetric is 1 while a component is up, 0 while down, per run: the
// one signal that still reaches an operator when Telegram, the admins'
// channel, is what is down (deploy/prometheus/alerts.yml).
const healthUpMetric = "vpnflow_health_component_up"

// healthStuckChange versions the stuck-subscriptions probe: recorded runs
// of the health check had four probes.
const healthStuckChange = "health-stuck-subscriptions"

// healthRevocationChange versions the revocation probe: recorded runs of
// the health check had seven probes.
const healthRevocationChange = "health-revocation"

// ComponentHealth is one component's state in a health check.
type ComponentHealth struct {
	Component string
	Up        bool
	Detail    string // what the probe saw when up
	Error     string // why it is down
}

// HealthReport is what one health check found and did.
type HealthReport struct {
	Components   []ComponentHealth
	Down         []string // component ids, sorted
	Alerts       int      // changes the admins were told about
	AlertsFailed int      // changes nobody could be told about; retried next run
	FailedOver   []string `json:",omitempty"` // nodes failed over by this run
}

type healthProbe struct {
	id, name string
	check    func(ctx workflow.Context) workflow.Future
}

// probeWith runs one probe activity.
func probeWith(fn any) func(workflow.Context) workflow.Future {
	return func(ctx workflow.Context) workflow.Future {
		return workflow.ExecuteActivity(withProbe(ctx), fn, activities.HealthProbe{})
	}
}

// peerProbes watch what the admins' alerts travel through: Telegram, and
// the bot process (the worker's own liveness is the bot's to watch).
func peerProbes() []healthProbe {
	var a *activities.Activities
	return []healthProbe{
		{ComponentTelegram, "Telegram", probeWith(a.CheckTelegram)},
		{ComponentBot, "Bot", probeWith(a.CheckBot)},
	}
}

// healthProbes are the probes every health check starts with; runs with a
// probe per node (nodeProbes) leave the one Xray probe out.
func healthProbes(perNode bool) []healthProbe {
	var a *activities.Activities
	probes := []healthProbe{
		{ComponentPostgres, "PostgreSQL", probeWith(a.CheckPostgres)},
		{ComponentXray, "Xray", probeWith(a.CheckXray)},
		{ComponentCryptoPay, "Crypto Pay", probeWith(a.CheckCryptoPay)},
		{ComponentTemporal, "Temporal", probeWith(a.CheckTemporal)},
	}
	if perNode {
		probes = slices.Delete(probes, 1, 2)
	}
	return probes
}

// HealthCheck probes PostgreSQL, each Xray node, Crypto Pay and Temporal at once and
// tells the admins about each change of state — down, or recovered — not
// about every run. What they were last told is its input, saved back into
// its schedule when it changes; a change nobody could be told about is not
// saved, so the next run tells it again.
func HealthCheck(ctx workflow.Context, in schedules.HealthCheckInput) (HealthReport, error) {
	var a *activities.Activities
	log := workflow.GetLogger(ctx)
	perNode := workflow.GetVersion(ctx, healthPerNodeChange, workflow.DefaultVersion, 1) >= 1
	probes := healthProbes(perNode)
	futures := make([]workflow.Future, len(probes))
	for i, p := range probes {
		futures[i] = p.check(ctx)
	}
	var nodes []activities.XrayNode
	if perNode {
		var np []healthProbe
		np, nodes = nodeProbes(ctx)
		for _, p := range np {
			probes = append(probes, p)
			futures = append(futures, p.check(ctx))
		}
	}
	if workflow.GetVersion(ctx, healthStuckChange, workflow.DefaultVersion, 1) >= 1 {
		stuck := healthProbe{ComponentSubscriptions, "Subscriptions", probeWith(a.CheckStuckSubscriptions)}
		probes = append(probes, stuck)
		futures = append(futures, stuck.check(ctx))
	}
	if workflow.GetVersion(ctx, healthPeersChange, workflow.DefaultVersion, 1) >= 1 {
		for _, p := range peerProbes() {
			probes = append(probes, p)
			futures = append(futures, p.check(ctx))
		}
	}
	if workflow.GetVersion(ctx, healthRevocationChange, workflow.DefaultVersion, 1) >= 1 {
		p := healthProbe{ComponentRevocation, "Revocation", probeWith(a.CheckRevocation)}
		probes = append(probes, p)
		futures = append(futures, p.check(ctx))
	}
	var report HealthReport
	for i, p := range probes {
		var res activities.HealthProbeResult
		err := futures[i].Get(ctx, &res)
		c := ComponentHealth{Component: p.id, Up: err == nil, Detail: res.Detail}
		if err != nil {
			c.Error = probeError(err)
		}
		report.Components = append(report.Components, c)
		up := 0.0
		if c.Up {
			up = 1
		}
		workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"component": p.id}).Gauge(healthUpMetric).Update(up)

		wasDown := slices.Contains(in.Down, p.id)
		down := !c.Up
		if down != wasDown {
			alert := activities.AdminAlert{Message: activities.AlertHealthUp, Component: p.name}
			if down {
				alert = activities.AdminAlert{Message: activities.AlertHealthDown, Component: p.name, Error: c.Error}
			}
			log.Warn("health: component changed state", "component", p.id, "up", c.Up, "error", c.Error)
			if err := workflow.ExecuteActivity(withAlert(ctx), a.AlertAdmins, alert).Get(ctx, nil); err != nil {
				log.Error("health: admins could not be told; retrying next run", "component", p.id, "error", err)
				report.AlertsFailed++
				down = wasDown
			} else {
				report.Alerts++
			}
		}
		if down {
			report.Down = append(report.Down, p.id)
		}
	}
	if perNode {
		recordNodeHealth(ctx, nodes, report.Components)
		report.FailedOver = failOver(ctx, nodes, report.Components)
	}
	slices.Sort(report.Down)
	if !sameSet(report.Down, in.Down) {
		err := workflow.ExecuteActivity(withSchedules(ctx), a.SaveHealthState, schedules.HealthCheckInput{Down: report.Down}).Get(ctx, nil)
		if err != nil {
			// The next run sees the old state and tells the admins again:
			// a repeated alert rather than a lost one.
			log.Warn("health: state not saved", "error", err)
		}
	}
	if report.Alerts+report.AlertsFailed > 0 {
		log.Info("health check: state changed", "down", report.Down, "alerts", report.Alerts, "alerts_failed", report.AlertsFailed)
	} else {
		log.Debug("health check", "down", report.Down)
	}
	return report, nil
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// probeError is the reason a probe gives, without the activity plumbing
// around it, short enough for a Telegram message.
func probeError(err error) string {
	msg := err.Error()
	var appErr *temporal.ApplicationError
	var timeoutErr *temporal.TimeoutError
	switch {
	case errors.As(err, &timeoutErr):
		msg = "no answer in time"
	case errors.As(err, &appErr):
		msg = appErr.Message()
	}
	const limit = 300
	if r := []rune(msg); len(r) > limit {
		msg = string(r[:limit]) + "…"
	}
	return msg
}

// alertHeartbeat is above one Telegram call's own timeout (15 s).
const alertHeartbeat = 20 * time.Second

// withAlert is for telling the admins: bounded well inside the health
// check's own interval. An attempt sends one message per admin and
// heartbeats after each, so one stuck on a hung Telegram is abandoned
// after a send's own timeout, and the next resumes where it stopped.
func withAlert(ctx workflow.Context) workflow.Context {
	return on(ctx, shop.BulkheadTelegram, workflow.ActivityOptions{
		StartToCloseTimeout:    time.Minute,
		HeartbeatTimeout:       alertHeartbeat,
		ScheduleToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    2 * time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    15 * time.Second,
		},
	})
}
