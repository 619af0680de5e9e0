package daemon_test

import (
	"context"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"vpnflow/internal/daemon"
	"vpnflow/internal/dev/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func ping(context.Context) (string, error) { return "pong", nil }

func pingWorkflow(ctx workflow.Context) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	var out string
	err := workflow.ExecuteActivity(ctx, ping).Get(ctx, &out)
	return out, err
}

// TestWorkerLoopsSeeARealWorker runs a real worker against the Temporal dev
// server with the liveness metrics handler, and checks that a workflow with
// one activity moves every loop: the SDK's metric names and tags are what
// WorkerLoops listens for (a renamed metric would leave a live worker
// looking stalled).
func TestWorkerLoopsSeeARealWorker(t *testing.T) {
	srv := testenv.Temporal(t)
	live := daemon.NewLiveness()
	loops := live.WatchWorker(time.Hour)
	before := time.Now()
	time.Sleep(5 * time.Millisecond)

	c, err := client.Dial(client.Options{HostPort: srv.Address, Namespace: srv.Namespace,
		MetricsHandler: loops.MetricsHandler(client.MetricsNopHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	queue := testenv.TaskQueue(t)
	w := worker.New(c, queue, worker.Options{})
	w.RegisterWorkflow(pingWorkflow)
	w.RegisterActivity(ping)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: queue}, pingWorkflow)
	if err != nil {
		t.Fatal(err)
	}
	var out string
	if err := run.Get(ctx, &out); err != nil || out != "pong" {
		t.Fatalf("workflow: %q, %v", out, err)
	}
	for name, loop := range map[string]*daemon.Loop{
		"workflow polls": loops.WorkflowPolls, "activity polls": loops.ActivityPolls,
		"workflow task slots": loops.WorkflowSlots, "activity slots": loops.ActivitySlots,
	} {
		if !loop.Last().After(before) {
			t.Errorf("%s: no progress seen while the worker ran a workflow and an activity", name)
		}
	}
	wf, act := loops.FreeSlots()
	if wf <= 0 || act <= 0 {
		t.Errorf("free slots after the run: workflow %d, activity %d; want the SDK's reports (> 0)", wf, act)
	}
	if s := live.Stalls(); len(s) != 0 {
		t.Errorf("stalls on a live worker: %v", s)
	}
}

func bulkheadWorkflow(ctx workflow.Context, queue string) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second, TaskQueue: queue})
	var out string
	err := workflow.ExecuteActivity(ctx, ping).Get(ctx, &out)
	return out, err
}

// TestWorkerLoopsPerActivityQueue: an activity worker on a bulkhead queue
// reports to that queue's loops, not to the workflows' queue, so a
// bulkhead whose slots are all stuck is seen on its own.
func TestWorkerLoopsPerActivityQueue(t *testing.T) {
	srv := testenv.Temporal(t)
	queue := testenv.TaskQueue(t)
	bulkhead := queue + "-xray"
	live := daemon.NewLiveness()
	loops := live.WatchWorker(time.Hour, bulkhead)
	before := time.Now()
	time.Sleep(5 * time.Millisecond)

	c, err := client.Dial(client.Options{HostPort: srv.Address, Namespace: srv.Namespace,
		MetricsHandler: loops.MetricsHandler(client.MetricsNopHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w := worker.New(c, queue, worker.Options{})
	w.RegisterWorkflow(bulkheadWorkflow)
	bw := worker.New(c, bulkhead, worker.Options{DisableWorkflowWorker: true, MaxConcurrentActivityExecutionSize: 3})
	bw.RegisterActivity(ping)
	for _, w := range []worker.Worker{w, bw} {
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: queue}, bulkheadWorkflow, bulkhead)
	if err != nil {
		t.Fatal(err)
	}
	var out string
	if err := run.Get(ctx, &out); err != nil || out != "pong" {
		t.Fatalf("workflow: %q, %v", out, err)
	}
	polls, slots := loops.QueueLoops(bulkhead)
	if polls == nil || !slots.Last().After(before) {
		t.Errorf("the bulkhead queue's slots saw no progress while its worker ran the activity")
	}
	if free := loops.QueueFreeSlots(bulkhead); free != 3 {
		t.Errorf("bulkhead free slots after the run: %d, want its limit 3", free)
	}
	if loops.ActivitySlots.Last().After(before) {
		t.Errorf("the workflows' queue's activity slots moved, but no activity ran there")
	}
}
