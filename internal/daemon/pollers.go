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
	tagTaskQueue               = "task_queue"
	workerTypeWorkflow         = "WorkflowWorker"
	workerTypeActivity         = "ActivityWorker"
)

// WorkerLoops are a worker's loops as Liveness sees them. A poller type
// makes progress when a poll returns, with a task or without. Its slots
// make progress when a task finishes, and are idle while one is free: all
// slots taken and none finishing within the bound means the tasks are
// stuck.
//
// A process that runs several activity workers (one per bulkhead task
// queue) names their queues to WatchWorker: each gets loops of its own, so
// one bulkhead whose slots are all stuck shows while the others turn.
type WorkerLoops struct {
	WorkflowPolls, ActivityPolls *Loop
	WorkflowSlots, ActivitySlots *Loop

	// The last reported free workflow slots; -1 before the first report.
	workflowFree atomic.Int64
	activity     *activityLoops            // the workflows' own queue
	queues       map[string]*activityLoops // the named activity queues
}

type activityLoops struct {
	polls, slots *Loop
	free         atomic.Int64 // -1 before the first report
}

func newActivityLoops(l *Liveness, suffix string, bound time.Duration) *activityLoops {
	a := &activityLoops{polls: l.Loop("temporal-activity-polls"+suffix, bound), slots: l.Loop("activity-slots"+suffix, bound)}
	a.free.Store(-1)
	a.slots.IdleWhen(func() bool { return a.free.Load() != 0 })
	return a
}

// WatchWorker registers the worker's loops with l under bound, and those
// of the activity workers on activityQueues ("activity-slots:<queue>").
func (l *Liveness) WatchWorker(bound time.Duration, activityQueues ...string) *WorkerLoops {
	w := &WorkerLoops{
		WorkflowPolls: l.Loop("temporal-workflow-polls", bound),
		WorkflowSlots: l.Loop("workflow-task-slots", bound),
		activity:      newActivityLoops(l, "", bound),
		queues:        map[string]*activityLoops{},
	}
	w.ActivityPolls, w.ActivitySlots = w.activity.polls, w.activity.slots
	for _, q := range activityQueues {
		w.queues[q] = newActivityLoops(l, ":"+q, bound)
	}
	w.workflowFree.Store(-1)
	w.WorkflowSlots.IdleWhen(func() bool { return w.workflowFree.Load() != 0 })
	return w
}

// FreeSlots is the last reported number of free workflow and activity task
// slots of the workflows' own queue (-1 before the worker reported any).
func (w *WorkerLoops) FreeSlots() (workflow, activity int64) {
	return w.workflowFree.Load(), w.activity.free.Load()
}

// QueueFreeSlots is the last reported number of free activity slots of a
// named activity queue (-1 before any report, or for an unknown queue).
func (w *WorkerLoops) QueueFreeSlots(queue string) int64 {
	if a, ok := w.queues[queue]; ok {
		return a.free.Load()
	}
	return -1
}

// QueueLoops is the poll and slot loops of a named activity queue (nil for
// an unknown queue).
func (w *WorkerLoops) QueueLoops(queue string) (polls, slots *Loop) {
	if a, ok := w.queues[queue]; ok {
		return a.polls, a.slots
	}
	return nil, nil
}

// activityFor is the loops a metric tagged with queue reports to.
func (w *WorkerLoops) activityFor(queue string) *activityLoops {
	if a, ok := w.queues[queue]; ok {
		return a
	}
	return w.activity
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
	taskQueue  string
}

func (m loopMetrics) WithTags(tags map[string]string) client.MetricsHandler {
	out := m
	out.next = m.next.WithTags(tags)
	if t, ok := tags[tagWorkerType]; ok {
		out.workerType = t
	}
	if q, ok := tags[tagTaskQueue]; ok {
		out.taskQueue = q
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
		loop = m.loops.activityFor(m.taskQueue).polls
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
		loop = m.loops.activityFor(m.taskQueue).polls
	case metricActivityExecuted:
		loop = m.loops.activityFor(m.taskQueue).slots
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
		free = &m.loops.activityFor(m.taskQueue).free
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
