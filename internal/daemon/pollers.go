package daemon

import (
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/client"
)

// Names of the Temporal SDK metrics that show a worker's loops turning
// (go.temporal.io/sdk/internal/common/metrics). A long poll returns at
// least once a minute or so, with a task or empty, so each poller type
// records one of these on every round.
const (
	metricWorkflowPollEmpty    = "temporal_workflow_task_queue_poll_empty"
	metricWorkflowPollSucceed  = "temporal_workflow_task_queue_poll_succeed"
	metricActivityPollNoTask   = "temporal_activity_poll_no_task"
	metricActivityTaskReceived = "temporal_activity_schedule_to_start_latency"
	metricActivityExecuted     = "temporal_activity_execution_latency"
	metricWorkflowTaskExecuted = "temporal_workflow_task_execution_latency"
	metricSlotsAvailable       = "temporal_worker_task_slots_available"
	tagWorkerType              = "worker_type"
	workerTypeWorkflow         = "WorkflowWorker"
	workerTypeActivity         = "ActivityWorker"
)

// WorkerLoops are a worker's loops as Liveness sees them. A poller type
// makes progress when a poll returns, with a task or without. Its slots
// make progress when a task finishes, and are idle while one is free: all
// slots taken and none finishing within the bound means the tasks are
// stuck.
type WorkerLoops struct {
	WorkflowPolls, ActivityPolls *Loop
	WorkflowSlots, ActivitySlots *Loop

	// The last reported free slots of each kind; -1 before the first report.
	workflowFree, activityFree atomic.Int64
}

// WatchWorker registers the worker's loops with l under bound.
func (l *Liveness) WatchWorker(bound time.Duration) *WorkerLoops {
	w := &WorkerLoops{
		WorkflowPolls: l.Loop("temporal-workflow-polls", bound),
		ActivityPolls: l.Loop("temporal-activity-polls", bound),
		WorkflowSlots: l.Loop("workflow-task-slots", bound),
		ActivitySlots: l.Loop("activity-slots", bound),
	}
	w.workflowFree.Store(-1)
	w.activityFree.Store(-1)
	w.WorkflowSlots.IdleWhen(func() bool { return w.workflowFree.Load() != 0 })
	w.ActivitySlots.IdleWhen(func() bool { return w.activityFree.Load() != 0 })
	return w
}

// FreeSlots is the last reported number of free workflow and activity task
// slots (-1 before the worker reported any).
func (w *WorkerLoops) FreeSlots() (workflow, activity int64) {
	return w.workflowFree.Load(), w.activityFree.Load()
}

// MetricsHandler wraps the SDK's metrics handler: every metric still goes
// to next, and the ones above also report progress. Set it as the
// client's MetricsHandler; the worker inherits it.
func (w *WorkerLoops) MetricsHandler(next client.MetricsHandler) client.MetricsHandler {
	return loopMetrics{next: next, loops: w}
}

type loopMetrics struct {
	next       client.MetricsHandler
	loops      *WorkerLoops
	workerType string
}

func (m loopMetrics) WithTags(tags map[string]string) client.MetricsHandler {
	out := loopMetrics{next: m.next.WithTags(tags), loops: m.loops, workerType: m.workerType}
	if t, ok := tags[tagWorkerType]; ok {
		out.workerType = t
	}
	return out
}

func (m loopMetrics) Counter(name string) client.MetricsCounter {
	c := m.next.Counter(name)
	var loop *Loop
	switch name {
	case metricWorkflowPollEmpty, metricWorkflowPollSucceed:
		loop = m.loops.WorkflowPolls
	case metricActivityPollNoTask:
		loop = m.loops.ActivityPolls
	default:
		return c
	}
	return counterFunc(func(d int64) { c.Inc(d); loop.Progress() })
}

func (m loopMetrics) Timer(name string) client.MetricsTimer {
	t := m.next.Timer(name)
	var loop *Loop
	switch name {
	case metricActivityTaskReceived:
		loop = m.loops.ActivityPolls
	case metricActivityExecuted:
		loop = m.loops.ActivitySlots
	case metricWorkflowTaskExecuted:
		loop = m.loops.WorkflowSlots
	default:
		return t
	}
	return timerFunc(func(d time.Duration) { t.Record(d); loop.Progress() })
}

func (m loopMetrics) Gauge(name string) client.MetricsGauge {
	g := m.next.Gauge(name)
	if name != metricSlotsAvailable {
		return g
	}
	var free *atomic.Int64
	switch m.workerType {
	case workerTypeWorkflow:
		free = &m.loops.workflowFree
	case workerTypeActivity:
		free = &m.loops.activityFree
	default:
		return g
	}
	return gaugeFunc(func(v float64) {
		g.Update(v)
		free.Store(int64(v))
	})
}

type counterFunc func(int64)

func (f counterFunc) Inc(d int64) { f(d) }

type timerFunc func(time.Duration)

func (f timerFunc) Record(d time.Duration) { f(d) }

type gaugeFunc func(float64)

func (f gaugeFunc) Update(v float64) { f(v) }
