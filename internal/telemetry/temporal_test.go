package telemetry

import (
	"context"
	"regexp"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

type otherInterceptor struct{ interceptor.InterceptorBase }

func TestApplyTemporal(t *testing.T) {
	tel, buf := start(t, Options{Service: "worker"})
	existing := &otherInterceptor{}
	opts := client.Options{Interceptors: []interceptor.ClientInterceptor{existing}}
	if err := tel.ApplyTemporal(&opts); err != nil {
		t.Fatal(err)
	}
	if len(opts.Interceptors) != 2 || opts.Interceptors[0] != existing || opts.Interceptors[1] == nil {
		t.Fatalf("Interceptors = %v, want the existing one followed by the tracing one", opts.Interceptors)
	}
	if opts.MetricsHandler == nil || opts.Logger == nil {
		t.Fatalf("MetricsHandler=%v Logger=%v, want both set", opts.MetricsHandler, opts.Logger)
	}

	// The handler and logger lead to /metrics and the JSON log.
	opts.MetricsHandler.WithTags(map[string]string{"namespace": "default"}).Counter("temporal_probe").Inc(2)
	if body := scrape(t, tel.MetricsHandler()); !regexp.MustCompile(`(?m)^temporal_probe_total\{[^}]*namespace="default"[^}]*\} 2$`).MatchString(body) {
		t.Errorf("SDK counter not on /metrics as a counter:\n%s", body)
	}
	opts.Logger.Info("from the sdk", "Namespace", "default")
	if r := byMsg(t, buf.records(t), "from the sdk"); r["Namespace"] != "default" || r["service"] != "worker" {
		t.Errorf("SDK log record = %v", r)
	}
}

func TestApplyTemporalRejectsNil(t *testing.T) {
	tel, _ := start(t, Options{})
	if err := tel.ApplyTemporal(nil); err == nil {
		t.Fatal("ApplyTemporal(nil) returned no error")
	}
}

// The tracing interceptor reports workflow and activity spans through this
// provider, and an activity's logs carry the workflow's trace id.
func TestTemporalInterceptorTracesWorkflow(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tel, buf := start(t, Options{}, rec)

	greet := func(ctx context.Context, name string) (string, error) {
		tel.Logger().InfoContext(ctx, "greeting", "name", name)
		return "hello " + name, nil
	}
	hello := func(ctx workflow.Context, name string) (string, error) {
		ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
		var out string
		err := workflow.ExecuteActivity(ctx, "Greet", name).Get(ctx, &out)
		return out, err
	}

	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{tel.TemporalInterceptor()}})
	env.RegisterWorkflowWithOptions(hello, workflow.RegisterOptions{Name: "Hello"})
	env.RegisterActivityWithOptions(greet, activity.RegisterOptions{Name: "Greet"})
	env.ExecuteWorkflow("Hello", "ann")
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}

	names := map[string]string{} // span name -> trace id
	for _, s := range rec.Ended() {
		names[s.Name()] = s.SpanContext().TraceID().String()
	}
	for _, want := range []string{"RunWorkflow:Hello", "StartActivity:Greet", "RunActivity:Greet"} {
		if _, ok := names[want]; !ok {
			t.Errorf("no %q span; got %v", want, names)
		}
	}
	trace := names["RunWorkflow:Hello"]
	if names["RunActivity:Greet"] != trace {
		t.Errorf("activity span in trace %s, workflow in %s", names["RunActivity:Greet"], trace)
	}
	if r := byMsg(t, buf.records(t), "greeting"); r["trace_id"] != trace {
		t.Errorf("activity log trace_id = %v, want the workflow's %s", r["trace_id"], trace)
	}
}
