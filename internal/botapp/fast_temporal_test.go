package botapp

// fakeTemporal: the Temporal client the fast handler tests give the bot.

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
)

// tcall is one call the bot made to Temporal.
type tcall struct {
	Kind       string // "start", "update", "update-with-start", "signal-with-start"
	WorkflowID string
	Workflow   string // workflow type name, for starts
	Name       string // update or signal name
	UpdateID   string // an update's request ID, as the bot set it
	Args       []any  // workflow arguments; for an update or signal, its argument(s)
	Options    client.StartWorkflowOptions
	// StartArgs are the start half's arguments of an update-with-start or
	// a signal-with-start.
	StartArgs []any
}

// tresult is a canned answer: a value for the caller's result pointer, or
// an error from the result (Err: the run or update failed) or from the call
// itself (CallErr: Temporal did not take it).
type tresult struct {
	Value   any
	Err     error
	CallErr error
}

// fakeTemporal is the client.Client the bot sees. Only the methods the bot
// calls are implemented; any other panics (nil embedded interface), which
// shows at once in a test that reaches one.
type fakeTemporal struct {
	client.Client

	mu    sync.Mutex
	down  bool // CheckHealth fails
	calls []tcall
	// answer gives the outcome of a call, by call; nil means success with
	// a zero value.
	answer func(c tcall) tresult
	// onCall runs inside each call before it is answered (say, to look at
	// the database at that moment).
	onCall func(c tcall)
}

func (f *fakeTemporal) record(c tcall) tresult {
	f.mu.Lock()
	f.calls = append(f.calls, c)
	answer, onCall := f.answer, f.onCall
	f.mu.Unlock()
	if onCall != nil {
		onCall(c)
	}
	if answer == nil {
		return tresult{}
	}
	return answer(c)
}

// Calls returns the calls recorded so far, of the given kind ("" for all).
func (f *fakeTemporal) Calls(kind string) []tcall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []tcall
	for _, c := range f.calls {
		if kind == "" || c.Kind == kind {
			out = append(out, c)
		}
	}
	return out
}

// waitCalls waits until at least n calls of kind "update" or
// "update-with-start" were made and returns them.
func (f *fastBot) waitCalls(n int) []tcall {
	f.t.Helper()
	deadline := time.Now().Add(fastWait)
	for {
		var out []tcall
		for _, c := range f.temporal.Calls("") {
			if c.Kind == "update" || c.Kind == "update-with-start" {
				out = append(out, c)
			}
		}
		if len(out) >= n {
			return out
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("%d updates reached Temporal, want %d", len(out), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (f *fakeTemporal) setAnswer(fn func(c tcall) tresult) {
	f.mu.Lock()
	f.answer = fn
	f.mu.Unlock()
}

func (f *fakeTemporal) ExecuteWorkflow(_ context.Context, opts client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	r := f.record(tcall{Kind: "start", WorkflowID: opts.ID, Workflow: workflowName(wf), Args: args, Options: opts})
	if r.CallErr != nil {
		return nil, r.CallErr
	}
	return fakeRun{id: opts.ID, res: r}, nil
}

func (f *fakeTemporal) UpdateWorkflow(_ context.Context, opts client.UpdateWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	r := f.record(tcall{Kind: "update", WorkflowID: opts.WorkflowID, Name: opts.UpdateName, UpdateID: opts.UpdateID, Args: opts.Args})
	if r.CallErr != nil {
		return nil, r.CallErr
	}
	return fakeUpdate{id: opts.WorkflowID, res: r}, nil
}

// withStart is the start half of an update-with-start, as the bot built it.
type withStart struct {
	opts client.StartWorkflowOptions
	wf   string
	args []any
}

func (w *withStart) Get(context.Context) (client.WorkflowRun, error) {
	return fakeRun{id: w.opts.ID}, nil
}

func (f *fakeTemporal) NewWithStartWorkflowOperation(opts client.StartWorkflowOptions, wf any, args ...any) client.WithStartWorkflowOperation {
	return &withStart{opts: opts, wf: workflowName(wf), args: args}
}

func (f *fakeTemporal) UpdateWithStartWorkflow(_ context.Context, opts client.UpdateWithStartWorkflowOptions) (client.WorkflowUpdateHandle, error) {
	op, ok := opts.StartWorkflowOperation.(*withStart)
	if !ok {
		return nil, errors.New("fakeTemporal: start operation not built by NewWithStartWorkflowOperation")
	}
	r := f.record(tcall{Kind: "update-with-start", WorkflowID: op.opts.ID, Workflow: op.wf, Name: opts.UpdateOptions.UpdateName,
		UpdateID: opts.UpdateOptions.UpdateID, Args: opts.UpdateOptions.Args, Options: op.opts, StartArgs: op.args})
	if r.CallErr != nil {
		return nil, r.CallErr
	}
	return fakeUpdate{id: op.opts.ID, res: r}, nil
}

func (f *fakeTemporal) SignalWithStartWorkflow(_ context.Context, workflowID, signalName string, signalArg any,
	opts client.StartWorkflowOptions, wf any, args ...any) (client.WorkflowRun, error) {
	r := f.record(tcall{Kind: "signal-with-start", WorkflowID: workflowID, Workflow: workflowName(wf), Name: signalName,
		Args: []any{signalArg}, Options: opts, StartArgs: args})
	if r.CallErr != nil {
		return nil, r.CallErr
	}
	return fakeRun{id: workflowID}, nil
}

func (f *fakeTemporal) CheckHealth(context.Context, *client.CheckHealthRequest) (*client.CheckHealthResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, errors.New("connection refused")
	}
	return &client.CheckHealthResponse{}, nil
}

// setDown makes the health check fail, as a Temporal that is down does.
func (f *fakeTemporal) setDown(down bool) {
	f.mu.Lock()
	f.down = down
	f.mu.Unlock()
}

// fakeRun and fakeUpdate hand the canned value over through Temporal's own
// data converter, as the real client would.
type fakeRun struct {
	id  string
	res tresult
}

func (r fakeRun) GetID() string                  { return r.id }
func (r fakeRun) GetRunID() string               { return "run-" + r.id }
func (r fakeRun) GetFirstExecutionRunID() string { return "run-" + r.id }
func (r fakeRun) Get(_ context.Context, out any) error {
	return deliver(r.res, out)
}
func (r fakeRun) GetWithOptions(ctx context.Context, out any, _ client.WorkflowRunGetOptions) error {
	return r.Get(ctx, out)
}

type fakeUpdate struct {
	id  string
	res tresult
}

func (u fakeUpdate) WorkflowID() string { return u.id }
func (u fakeUpdate) RunID() string      { return "run-" + u.id }
func (u fakeUpdate) UpdateID() string   { return "update" }
func (u fakeUpdate) Get(_ context.Context, out any) error {
	return deliver(u.res, out)
}

func deliver(res tresult, out any) error {
	if res.Err != nil {
		return res.Err
	}
	if res.Value == nil || out == nil {
		return nil
	}
	p, err := converter.GetDefaultDataConverter().ToPayload(res.Value)
	if err != nil {
		return err
	}
	return converter.GetDefaultDataConverter().FromPayload(p, out)
}

// decode reads a recorded argument into out (any struct with the fields
// of interest) through the data converter, as a worker would.
func decode(t *testing.T, arg, out any) {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayload(arg)
	if err != nil {
		t.Fatal(err)
	}
	if err := converter.GetDefaultDataConverter().FromPayload(p, out); err != nil {
		t.Fatal(err)
	}
}

// workflowName is the type name a workflow is started by. The contracts
// start every workflow by its registered name, never by a function value,
// so anything else is recorded as "" and fails the test's expectations.
func workflowName(wf any) string {
	s, _ := wf.(string)
	return s
}
