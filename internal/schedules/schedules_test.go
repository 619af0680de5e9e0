package schedules_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"vpnflow/internal/config"
	"vpnflow/internal/dev/testenv"
	"vpnflow/internal/schedules"
	"vpnflow/internal/shop"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func testConfig(t *testing.T) config.Config {
	t.Helper()
	cfg, err := config.LoadFrom(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	// No worker polls this queue: runs the test triggers just wait there.
	cfg.TaskQueue = testenv.TaskQueue(t)
	return cfg
}

func ensure(t *testing.T, c client.Client, cfg config.Config) map[string]schedules.Outcome {
	t.Helper()
	outs, err := schedules.Ensure(context.Background(), c, cfg)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	m := map[string]schedules.Outcome{}
	for _, o := range outs {
		m[o.ID] = o
	}
	for _, id := range []string{schedules.ReconcileID, schedules.XrayWatchID, schedules.HealthCheckID} {
		if _, ok := m[id]; !ok {
			t.Fatalf("Ensure did not report %s: %+v", id, outs)
		}
	}
	return m
}

// offset is the phase offset Definitions gives schedule id under cfg.
func offset(t *testing.T, cfg config.Config, id string) time.Duration {
	t.Helper()
	defs, err := schedules.Definitions(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range defs {
		if d.ID == id {
			return d.Offset
		}
	}
	t.Fatalf("no schedule %s", id)
	return 0
}

func describe(t *testing.T, c client.Client, id string) *client.ScheduleDescription {
	t.Helper()
	d, err := c.ScheduleClient().GetHandle(context.Background(), id).Describe(context.Background())
	if err != nil {
		t.Fatalf("describe %s: %v", id, err)
	}
	return d
}

func args[T any](t *testing.T, d *client.ScheduleDescription) T {
	t.Helper()
	a, ok := d.Schedule.Action.(*client.ScheduleWorkflowAction)
	if !ok || len(a.Args) != 1 {
		t.Fatalf("action is %T with args %v", d.Schedule.Action, a)
	}
	var v T
	if err := converter.GetDefaultDataConverter().FromPayload(a.Args[0].(*commonpb.Payload), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func wantDid(t *testing.T, got map[string]schedules.Outcome, want map[string]string) {
	t.Helper()
	for id, did := range want {
		if got[id].Did != did {
			t.Errorf("%s: %s, want %s", id, got[id].Did, did)
		}
	}
}

// The schedule IDs are fixed, so this is one test that walks through the
// life of the schedules on one server.
func TestEnsureCreatesUpdatesAndKeepsState(t *testing.T) {
	c := testenv.TemporalClient(t)
	ctx := context.Background()
	cfg := testConfig(t)
	t.Cleanup(func() {
		defs, _ := schedules.Definitions(cfg)
		for _, d := range defs {
			_ = c.ScheduleClient().GetHandle(ctx, d.ID).Delete(ctx)
		}
	})

	// Created as defined.
	wantDid(t, ensure(t, c, cfg), map[string]string{
		schedules.ReconcileID: schedules.Created, schedules.XrayWatchID: schedules.Created, schedules.HealthCheckID: schedules.Created,
	})
	rec := describe(t, c, schedules.ReconcileID)
	if got := rec.Schedule.Spec.Intervals; len(got) != 1 || got[0].Every != 10*time.Minute || got[0].Offset != offset(t, cfg, schedules.ReconcileID) {
		t.Errorf("reconcile intervals %+v, want every 10m at offset %s", got, offset(t, cfg, schedules.ReconcileID))
	}
	if rec.Schedule.Spec.Jitter != 5*time.Second {
		t.Errorf("reconcile jitter %s, want 5s", rec.Schedule.Spec.Jitter)
	}
	if rec.Schedule.Policy.Overlap != enumspb.SCHEDULE_OVERLAP_POLICY_SKIP || rec.Schedule.Policy.CatchupWindow != 10*time.Minute {
		t.Errorf("reconcile policy %+v, want SKIP with a 10m catch-up window", rec.Schedule.Policy)
	}
	action := rec.Schedule.Action.(*client.ScheduleWorkflowAction)
	if action.Workflow != schedules.ReconcileWorkflowType || action.TaskQueue != shop.OpsQueue(cfg.TaskQueue) {
		t.Errorf("reconcile action starts %v on %s", action.Workflow, action.TaskQueue)
	}
	if in := args[schedules.ReconcileInput](t, rec); in.PageSize != schedules.DefaultPageSize || in.Progress != nil {
		t.Errorf("reconcile input %+v", in)
	}
	if got := describe(t, c, schedules.XrayWatchID).Schedule.Spec.Intervals[0].Every; got != 30*time.Second {
		t.Errorf("xray watch every %s, want 30s", got)
	}
	// The notice drain is continuous: the next run is buffered, not
	// skipped, and the first started when the schedule was created.
	drain := describe(t, c, schedules.NoticeOutboxID)
	if drain.Schedule.Policy.Overlap != enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE {
		t.Errorf("notice outbox overlap %s, want BUFFER_ONE", drain.Schedule.Policy.Overlap)
	}
	if drain.Info.NumActions < 1 {
		t.Errorf("notice outbox took %d actions, want its first run started at once", drain.Info.NumActions)
	}

	// Again: nothing to do.
	wantDid(t, ensure(t, c, cfg), map[string]string{
		schedules.ReconcileID: schedules.Unchanged, schedules.XrayWatchID: schedules.Unchanged, schedules.HealthCheckID: schedules.Unchanged,
	})

	// A workflow saves its state in its schedule; Ensure leaves it there.
	state := schedules.HealthCheckInput{Down: []string{"xray"}}
	if err := schedules.SaveState(ctx, c, schedules.HealthCheckID, state); err != nil {
		t.Fatal(err)
	}
	wantDid(t, ensure(t, c, cfg), map[string]string{schedules.HealthCheckID: schedules.Unchanged})

	// New intervals update what changed, and still keep the state.
	cfg.ReconcileInterval = 20 * time.Minute
	cfg.HealthCheckInterval = 2 * time.Minute
	wantDid(t, ensure(t, c, cfg), map[string]string{
		schedules.ReconcileID: schedules.Updated, schedules.XrayWatchID: schedules.Unchanged, schedules.HealthCheckID: schedules.Updated,
	})
	health := describe(t, c, schedules.HealthCheckID)
	if got := health.Schedule.Spec.Intervals[0].Every; got != 2*time.Minute {
		t.Errorf("health every %s after update, want 2m", got)
	}
	if got := args[schedules.HealthCheckInput](t, health); fmt.Sprint(got.Down) != "[xray]" {
		t.Errorf("health state after update = %+v, want the saved one", got)
	}
	if got := describe(t, c, schedules.ReconcileID).Schedule.Spec.Intervals; len(got) != 1 || got[0].Every != 20*time.Minute || got[0].Offset != offset(t, cfg, schedules.ReconcileID) {
		t.Errorf("reconcile intervals %+v after update, want every 20m at offset %s", got, offset(t, cfg, schedules.ReconcileID))
	}

	// An operator's pause survives Ensure.
	h := c.ScheduleClient().GetHandle(ctx, schedules.ReconcileID)
	if err := h.Pause(ctx, client.SchedulePauseOptions{Note: "test"}); err != nil {
		t.Fatal(err)
	}
	cfg.ReconcileInterval = 15 * time.Minute
	outs := ensure(t, c, cfg)
	if !outs[schedules.ReconcileID].Paused || outs[schedules.ReconcileID].Did != schedules.Updated {
		t.Errorf("paused reconcile: %+v", outs[schedules.ReconcileID])
	}
	if d := describe(t, c, schedules.ReconcileID); !d.Schedule.State.Paused {
		t.Error("Ensure unpaused the reconcile schedule")
	}

	// TriggerNow starts a run even while paused.
	before := describe(t, c, schedules.ReconcileID).Info.NumActions
	if err := schedules.TriggerNow(ctx, c, schedules.ReconcileID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for describe(t, c, schedules.ReconcileID).Info.NumActions == before {
		if time.Now().After(deadline) {
			t.Fatal("the triggered run never started")
		}
		time.Sleep(100 * time.Millisecond)
	}

	if err := schedules.TriggerNow(ctx, c, "no-such-schedule"); !schedules.IsNotFound(err) {
		t.Errorf("trigger of a missing schedule: %v, want not found", err)
	}
}
