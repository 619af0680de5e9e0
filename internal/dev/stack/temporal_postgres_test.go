package stack

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"vpnflow/internal/shop"
)

// sumWorkflow adds up the numbers signalled to it until a 0 arrives, and
// marks itself with one of vpnflow's search attributes, so both databases
// (history and visibility) hold something of it.
func sumWorkflow(ctx workflow.Context) (int, error) {
	total := 0
	if err := workflow.SetQueryHandler(ctx, "total", func() (int, error) { return total, nil }); err != nil {
		return 0, err
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, shop.AttrPurchaseStatus.ValueSet("counting")); err != nil {
		return 0, err
	}
	ch := workflow.GetSignalChannel(ctx, "add")
	for {
		var n int
		ch.Receive(ctx, &n)
		if n == 0 {
			return total, nil
		}
		total += n
	}
}

// TestTemporalPostgresKeepsWorkflowsAcrossRestarts: the production profile
// runs a workflow, is stopped, started anew on the same databases (schema
// and namespace steps finding everything in place), then killed and
// restarted, and the workflow carries on from where it was.
func TestTemporalPostgresKeepsWorkflowsAcrossRestarts(t *testing.T) {
	if os.Getenv("VPNFLOW_TEST_TEMPORAL") != "postgres" {
		// make test does not build the server (four and a half minutes on
		// a fresh machine); make test-temporal-postgres runs this.
		t.Skip("the production profile's test: VPNFLOW_TEST_TEMPORAL=postgres (make test-temporal-postgres)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pg, err := StartPostgres(ctx, PostgresOptions{Dir: pgDir(t), Fast: true})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Stop()
	dir := t.TempDir()
	logFile, err := os.Create(filepath.Join(dir, "temporal.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	defer func() {
		if t.Failed() {
			b, _ := os.ReadFile(logFile.Name())
			if len(b) > 8<<10 {
				b = b[len(b)-8<<10:]
			}
			t.Logf("server log (tail):\n%s", b)
		}
	}()
	opts := TemporalPostgresOptions{Postgres: pg, Dir: dir, Log: logFile}

	began := time.Now()
	srv, err := StartTemporalPostgres(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Stop() }()
	t.Logf("first start (databases, schema, server, namespace, search attributes): %s", time.Since(began).Round(time.Millisecond))

	const id, taskQueue = "sum", "sum-queue"
	c, w := sumWorker(t, srv, taskQueue)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: taskQueue}, "Sum")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{2, 3} {
		if err := c.SignalWorkflow(ctx, id, "", "add", n); err != nil {
			t.Fatal(err)
		}
	}
	waitTotal(ctx, t, c, id, 5)
	w.Stop()
	c.Close()

	began = time.Now()
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("stop: %s", time.Since(began).Round(time.Millisecond))
	began = time.Now()
	srv, err = StartTemporalPostgres(ctx, opts)
	if err != nil {
		t.Fatalf("second start on the same databases: %v", err)
	}
	t.Logf("second start on the same databases: %s", time.Since(began).Round(time.Millisecond))

	// Killed as a crash would, then restarted with the same config.
	srv.Kill()
	began = time.Now()
	if err := srv.Restart(ctx); err != nil {
		t.Fatalf("restart after kill: %v", err)
	}
	t.Logf("restart after SIGKILL: %s", time.Since(began).Round(time.Millisecond))

	c, w = sumWorker(t, srv, taskQueue)
	defer c.Close()
	defer w.Stop()
	waitTotal(ctx, t, c, id, 5)
	// Visibility kept the workflow and its search attribute too.
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: "PurchaseStatus = 'counting'"})
		if err == nil && len(resp.GetExecutions()) == 1 && resp.GetExecutions()[0].GetExecution().GetWorkflowId() == id {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("workflow not found by its search attribute after the restarts: %v, %v", resp.GetExecutions(), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := c.SignalWorkflow(ctx, id, "", "add", 0); err != nil {
		t.Fatal(err)
	}
	var total int
	if err := c.GetWorkflow(ctx, id, run.GetRunID()).Get(ctx, &total); err != nil {
		t.Fatal(err)
	}
	if total != 5 {
		t.Fatalf("workflow result %d after the restarts, want 5", total)
	}
}

func sumWorker(t *testing.T, srv *TemporalServer, taskQueue string) (client.Client, worker.Worker) {
	t.Helper()
	c, err := client.Dial(client.Options{HostPort: srv.Address, Namespace: srv.Namespace, Logger: sdklog.NewStructuredLogger(discardLogger())})
	if err != nil {
		t.Fatal(err)
	}
	w := worker.New(c, taskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(sumWorkflow, workflow.RegisterOptions{Name: "Sum"})
	if err := w.Start(); err != nil {
		c.Close()
		t.Fatal(err)
	}
	return c, w
}

// waitTotal polls the workflow's query until it reports want: the signals
// are acknowledged before the worker has applied them.
func waitTotal(ctx context.Context, t *testing.T, c client.Client, id string, want int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var got int
		v, err := c.QueryWorkflow(ctx, id, "", "total")
		if err == nil {
			err = v.Get(&got)
		}
		if err == nil && got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("total = %d (%v), want %d", got, err, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
