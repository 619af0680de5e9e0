package schedules

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"vpnflow/internal/config"
	"vpnflow/internal/shop"
)

// What Ensure did to a schedule.
const (
	Created   = "created"
	Updated   = "updated"
	Unchanged = "unchanged"
)

// Outcome is what Ensure did to one schedule.
type Outcome struct {
	ID     string
	Did    string // Created, Updated or Unchanged
	Paused bool   // an operator paused it; Ensure leaves that alone
}

// Ensure makes the schedules for cfg exist as defined: it creates missing
// ones and updates those whose timing, policy or workflow differ. Running it
// again changes nothing, so every worker calls it at start and several may
// do so at once. A paused schedule stays paused, and a schedule that keeps
// its workflow's state in its input keeps that input.
func Ensure(ctx context.Context, c client.Client, cfg config.Config) ([]Outcome, error) {
	defs, err := Definitions(cfg)
	if err != nil {
		return nil, err
	}
	var out []Outcome
	for _, d := range defs {
		o, err := ensure(ctx, c.ScheduleClient(), shop.OpsQueue(cfg.TaskQueue), d)
		if err != nil {
			return out, fmt.Errorf("ensure schedule %s: %w", d.ID, err)
		}
		out = append(out, o)
	}
	return out, nil
}

func ensure(ctx context.Context, sc client.ScheduleClient, taskQueue string, d Definition) (Outcome, error) {
	o := Outcome{ID: d.ID}
	_, err := sc.Create(ctx, client.ScheduleOptions{
		ID:            d.ID,
		Spec:          spec(d),
		Action:        action(d, taskQueue, []any{d.Args}),
		Overlap:       d.overlap(),
		CatchupWindow: d.Catchup,
	})
	if err == nil {
		o.Did = Created
		if d.Continuous {
			if err := sc.GetHandle(ctx, d.ID).Trigger(ctx, client.ScheduleTriggerOptions{Overlap: d.overlap()}); err != nil {
				return o, fmt.Errorf("start the first run: %w", err)
			}
		}
		return o, nil
	}
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return o, fmt.Errorf("create: %w", err)
	}
	o.Did = Unchanged
	err = sc.GetHandle(ctx, d.ID).Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			cur := in.Description.Schedule
			o.Paused = cur.State != nil && cur.State.Paused
			have, _ := cur.Action.(*client.ScheduleWorkflowAction)
			args := []any{d.Args}
			if d.KeepsState && have != nil && len(have.Args) == 1 {
				args = have.Args // the workflow's saved state
			}
			if have != nil && matches(cur, d, taskQueue, args) {
				return nil, temporal.ErrSkipScheduleUpdate
			}
			o.Did = Updated
			s := spec(d)
			cur.Spec = &s
			cur.Action = action(d, taskQueue, args)
			cur.Policy = &client.SchedulePolicies{
				Overlap:       d.overlap(),
				CatchupWindow: d.Catchup,
			}
			return &client.ScheduleUpdate{Schedule: &cur}, nil
		},
	})
	if err != nil {
		return o, fmt.Errorf("update: %w", err)
	}
	return o, nil
}

func spec(d Definition) client.ScheduleSpec {
	return client.ScheduleSpec{
		Intervals: []client.ScheduleIntervalSpec{{Every: d.Every, Offset: d.Offset}},
		Jitter:    d.Jitter,
	}
}

// actionID is the prefix of the scheduled runs' workflow IDs; the server
// appends the scheduled time.
func action(d Definition, taskQueue string, args []any) *client.ScheduleWorkflowAction {
	return &client.ScheduleWorkflowAction{
		ID:                       d.ID,
		Workflow:                 d.Workflow,
		Args:                     args,
		TaskQueue:                taskQueue,
		WorkflowExecutionTimeout: d.Timeout,
	}
}

// matches reports whether the schedule as described is d already.
func matches(cur client.Schedule, d Definition, taskQueue string, args []any) bool {
	a, ok := cur.Action.(*client.ScheduleWorkflowAction)
	if !ok || a.ID != d.ID || a.Workflow != d.Workflow || a.TaskQueue != taskQueue ||
		a.WorkflowExecutionTimeout != d.Timeout || !sameArgs(a.Args, args) {
		return false
	}
	if cur.Spec == nil || cur.Spec.Jitter != d.Jitter || len(cur.Spec.Calendars) > 0 || len(cur.Spec.CronExpressions) > 0 ||
		!slices.Equal(cur.Spec.Intervals, []client.ScheduleIntervalSpec{{Every: d.Every, Offset: d.Offset}}) {
		return false
	}
	return cur.Policy != nil && cur.Policy.Overlap == d.overlap() && cur.Policy.CatchupWindow == d.Catchup
}

// sameArgs compares the encoded arguments the server holds with want, which
// may hold values or (kept state) the server's payloads themselves.
func sameArgs(have, want []any) bool {
	if len(have) != len(want) {
		return false
	}
	dc := converter.GetDefaultDataConverter()
	for i := range have {
		h, ok := have[i].(*commonpb.Payload)
		if !ok {
			return false
		}
		w, ok := want[i].(*commonpb.Payload)
		if !ok {
			var err error
			if w, err = dc.ToPayload(want[i]); err != nil {
				return false
			}
		}
		if !bytes.Equal(h.GetData(), w.GetData()) || !bytes.Equal(h.GetMetadata()["encoding"], w.GetMetadata()["encoding"]) {
			return false
		}
	}
	return true
}

// SaveState makes state the input of the schedule's next runs: the way
// XrayWatch and HealthCheck remember what they saw between runs.
func SaveState(ctx context.Context, c client.Client, scheduleID string, state any) error {
	err := c.ScheduleClient().GetHandle(ctx, scheduleID).Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			s := in.Description.Schedule
			a, ok := s.Action.(*client.ScheduleWorkflowAction)
			if !ok {
				return nil, fmt.Errorf("schedule %s does not start a workflow", scheduleID)
			}
			a.Args = []any{state}
			return &client.ScheduleUpdate{Schedule: &s}, nil
		},
	})
	if err != nil {
		return fmt.Errorf("save state in schedule %s: %w", scheduleID, err)
	}
	return nil
}

// TriggerNow starts one run of the schedule at once, alongside any run in
// progress (ALLOW_ALL): a run already past some users would not come back
// for them, and every scheduled workflow here is safe to run twice.
func TriggerNow(ctx context.Context, c client.Client, scheduleID string) error {
	err := c.ScheduleClient().GetHandle(ctx, scheduleID).Trigger(ctx, client.ScheduleTriggerOptions{
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL,
	})
	if err != nil {
		return fmt.Errorf("trigger schedule %s: %w", scheduleID, err)
	}
	return nil
}

// IsNotFound reports whether err says the schedule does not exist.
func IsNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}
