// Package schedules defines vpnflow's Temporal Schedules — Xray
// reconciliation, the Xray restart watch and the health check — and keeps
// them in place: Ensure creates or updates them idempotently, and the worker
// calls it at start as `starter schedules apply` does.
//
// The legacy bot ran these jobs as in-process tickers that all woke at the
// same moment and held database connections across HTTP calls. Here each
// run is a short workflow started by the Temporal server, at a phase offset
// that keeps it at least MinGap from any other schedule's run (phase.go),
// with overlap policy SKIP so a slow run is never doubled, and
// a catch-up window of about one interval so an outage does not end in a
// burst of stale runs.
//
// The package is a leaf: workflows and activities import it for the
// schedule IDs and the scheduled workflows' inputs, so it imports neither.
package schedules

import (
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"vpnflow/internal/config"
)

// Schedule IDs. They are stable: Ensure finds existing schedules by them.
const (
	ReconcileID   = "vpnflow-reconcile"
	XrayWatchID   = "vpnflow-xray-watch"
	HealthCheckID = "vpnflow-health-check"
)

// Workflow type names of the scheduled workflows, as registered by the
// worker (workflows.Register). They are in histories and in the schedules.
const (
	ReconcileWorkflowType   = "Reconcile"
	XrayWatchWorkflowType   = "XrayWatch"
	HealthCheckWorkflowType = "HealthCheck"
)

// Reconcile page sizes. A page is one short query and one activity; a run
// continues as new after PagesPerRun pages, so 100,000 users take two runs
// of 50 pages and no history grows with the number of users.
const (
	DefaultPageSize    = 1000
	MaxPageSize        = 10000 // store.MaxPage
	DefaultPagesPerRun = 50
)

// ReconcileInput starts a Reconcile run. The schedule passes PageSize and
// PagesPerRun; Progress is nil then and carries the totals over
// continue-as-new.
type ReconcileInput struct {
	PageSize    int
	PagesPerRun int
	Progress    *ReconcileProgress
}

// WithDefaults fills in zero or out-of-range sizes.
func (in ReconcileInput) WithDefaults() ReconcileInput {
	if in.PageSize <= 0 {
		in.PageSize = DefaultPageSize
	}
	if in.PageSize > MaxPageSize {
		in.PageSize = MaxPageSize
	}
	if in.PagesPerRun <= 0 {
		in.PagesPerRun = DefaultPagesPerRun
	}
	return in
}

// ReconcileProgress is where a reconciliation is and what it did so far.
// It holds user ids and counts only, never a key.
type ReconcileProgress struct {
	AfterUserID int64 // the next page starts after this user id
	Pages       int
	Checked     int
	Readded     int
	Errors      int
	Runs        int // workflow runs so far, this one included

	// The overdue sweep, the first phase (workflows.Reconcile): live rows
	// past their expiry, handed to their Subscription workflows.
	OverdueDone   bool
	OverdueAfter  int64   // the sweep's next page starts after this user id
	OverduePages  int     // pages of the sweep so far
	Overdue       int     // rows found overdue
	OverdueSample []int64 // a few of their user ids, for the admin alert
	OverdueFailed bool    // the sweep gave up (the next run sweeps again)
}

// XrayWatchInput is what the last XrayWatch run saw: when the Xray process
// it found had started (its wall clock minus Xray's uptime). Zero before the
// first look. XrayWatch writes it back into its own schedule when it changes,
// so the next run starts from it.
type XrayWatchInput struct {
	XrayStartedAt time.Time // runs from before nodes: the one Xray
	// Nodes is each node's Xray as last seen, by node id (runs with
	// nodes: workflows.XrayWatch).
	Nodes []XrayNodeSeen `json:",omitempty"`
}

// Seen is when node's Xray, as last seen, started (zero: never seen).
func (in XrayWatchInput) Seen(node int16) time.Time {
	for _, n := range in.Nodes {
		if n.NodeID == node {
			return n.StartedAt
		}
	}
	return time.Time{}
}

// HealthCheckInput is what the admins were last told: the components then
// down. HealthCheck writes it back into its own schedule when it changes, so
// admins hear of a change once. It lives in Temporal, not in PostgreSQL,
// because PostgreSQL being down is one of the changes to tell.
type HealthCheckInput struct {
	Down []string // component ids, sorted
}

// Definition is one schedule as vpnflow wants it. Offset is set by
// Definitions; the others by each schedule's definition.
type Definition struct {
	ID       string
	Workflow string        // workflow type name
	Every    time.Duration // interval
	Offset   time.Duration // phase within the interval (from the epoch), so schedules never fire together
	Jitter   time.Duration // random delay added to each run, at most maxJitter
	Catchup  time.Duration // how late a missed run may still start
	Timeout  time.Duration // workflow execution timeout: a stuck run never blocks the schedule for good
	Args     any           // the workflow's input
	// KeepsState marks a schedule whose workflow stores its state in the
	// schedule's input: Ensure sets the input when it creates the schedule
	// and never overwrites it afterwards.
	KeepsState bool
	// Continuous marks a workflow that runs back to back: each run lasts
	// about Every, and the schedule buffers the next one while it goes
	// (overlap BUFFER_ONE) instead of skipping it, so one always runs.
	// Ensure starts the first run when it creates the schedule, and it has
	// no phase to keep apart from the others.
	Continuous bool
}

// overlap is d's overlap policy: SKIP, so a slow run is never doubled, or
// BUFFER_ONE for a continuous workflow.
func (d Definition) overlap() enumspb.ScheduleOverlapPolicy {
	if d.Continuous {
		return enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE
	}
	return enumspb.SCHEDULE_OVERLAP_POLICY_SKIP
}

// Definitions are the schedules for cfg, each with its phase offset (see
// MinGap). The error says which intervals leave no room between runs.
func Definitions(cfg config.Config) ([]Definition, error) {
	defs, err := place([]Definition{
		{
			ID:       ReconcileID,
			Workflow: ReconcileWorkflowType,
			Every:    cfg.ReconcileInterval,
			Jitter:   jitter(cfg.ReconcileInterval),
			Catchup:  catchup(cfg.ReconcileInterval),
			Timeout:  time.Hour,
			Args:     ReconcileInput{PageSize: DefaultPageSize, PagesPerRun: DefaultPagesPerRun},
		},
		{
			ID:         XrayWatchID,
			Workflow:   XrayWatchWorkflowType,
			Every:      cfg.XrayWatchInterval,
			Jitter:     jitter(cfg.XrayWatchInterval),
			Catchup:    catchup(cfg.XrayWatchInterval),
			Timeout:    5 * time.Minute,
			Args:       XrayWatchInput{},
			KeepsState: true,
		},
		{
			ID:         HealthCheckID,
			Workflow:   HealthCheckWorkflowType,
			Every:      cfg.HealthCheckInterval,
			Jitter:     jitter(cfg.HealthCheckInterval),
			Catchup:    catchup(cfg.HealthCheckInterval),
			Timeout:    5 * time.Minute,
			Args:       HealthCheckInput{},
			KeepsState: true,
		},
		trafficDefinition(),
		paymentsSweepDefinition(),
		revokeDefinition(),
	})
	if err != nil {
		return nil, err
	}
	// The notice drain runs back to back (BUFFER_ONE), so it has no phase
	// to place.
	return append(defs, noticeOutboxDefinition()), nil
}

// catchup is about one interval, and at least the server's minimum of ten
// seconds.
func catchup(every time.Duration) time.Duration {
	return max(every, 10*time.Second)
}
