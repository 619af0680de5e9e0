package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"

	"vpnflow/activities"
	"vpnflow/internal/botapp"
	"vpnflow/internal/config"
	"vpnflow/internal/dev/testenv"
	"vpnflow/internal/schedules"
	"vpnflow/internal/shop"
	"vpnflow/internal/store"
	"vpnflow/internal/telemetry"
	"vpnflow/internal/workerapp"
	"vpnflow/internal/xray"
	"vpnflow/workflows"
)

// reconcileConfig keeps the reconcile schedule from firing by itself during
// a test, so whatever reconciles Xray is either the test or the watch.
var reconcileConfig = map[string]string{"RECONCILE_INTERVAL": "24h"}

// startWorkerOnly runs the worker in-process (no bot: these tests talk to
// the store, Xray and Temporal directly) and waits until it has put its
// schedules in place.
func (s *shopEnv) startWorkerOnly() {
	s.t.Helper()
	s.startComponent("worker", func(ctx context.Context, cfg config.Config, tel *telemetry.Telemetry) error {
		return workerapp.Run(ctx, cfg, tel)
	})
	for _, id := range []string{schedules.ReconcileID, schedules.XrayWatchID, schedules.HealthCheckID} {
		s.eventually("schedule "+id+" exists after worker start", func() error {
			_, err := s.temporal.ScheduleClient().GetHandle(context.Background(), id).Describe(context.Background())
			return err
		})
	}
}

// waitWatchSettled waits until the watch's first look at Xray has
// triggered its reconciliation and that has finished, and then pauses the
// reconcile schedule, so no run but the test's own touches Xray (a paused
// schedule still takes the watch's triggers).
func (s *shopEnv) waitWatchSettled() {
	s.t.Helper()
	s.eventually("the watch's first reconciliation is done", func() error {
		var in schedules.XrayWatchInput
		if err := s.scheduleInput(schedules.XrayWatchID, &in); err != nil {
			return err
		}
		if in.Seen(s.nodeID()).IsZero() {
			return errors.New("the watch has not looked at xray yet")
		}
		d, err := s.temporal.ScheduleClient().GetHandle(context.Background(), schedules.ReconcileID).Describe(context.Background())
		if err != nil {
			return err
		}
		if info := d.Info; info.NumActions == 0 || len(info.RunningWorkflows) > 0 {
			return fmt.Errorf("reconcile schedule: %d actions, %d running", d.Info.NumActions, len(d.Info.RunningWorkflows))
		}
		// RunningWorkflows can lag behind an action just taken: ask each
		// action's workflow itself whether it has closed.
		for _, a := range d.Info.RecentActions {
			if a.StartWorkflowResult == nil {
				continue
			}
			if err := s.closed(a.StartWorkflowResult.WorkflowID, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED); err != nil {
				return err
			}
		}
		return nil
	})
	h := s.temporal.ScheduleClient().GetHandle(context.Background(), schedules.ReconcileID)
	if err := h.Pause(context.Background(), client.SchedulePauseOptions{Note: "test"}); err != nil {
		s.t.Fatal(err)
	}
}

// nodeID is the worker's node, the one its environment describes.
func (s *shopEnv) nodeID() int16 {
	s.t.Helper()
	id, err := s.store.UpsertNode(context.Background(), workerapp.EnvNode(s.cfg))
	if err != nil {
		s.t.Fatal(err)
	}
	return id
}

// liveUsers creates n users with live subscriptions in the database only;
// none is in Xray yet.
func (s *shopEnv) liveUsers(firstID int64, n int) []int64 {
	s.t.Helper()
	ctx := context.Background()
	ids := make([]int64, n)
	for i := range ids {
		id := firstID + int64(i)
		ids[i] = id
		if _, _, err := s.store.UpsertUser(ctx, store.UpsertUserParams{TelegramID: id, FirstName: "R" + strconv.Itoa(i)}); err != nil {
			s.t.Fatal(err)
		}
		_, err := s.store.GrantTime(ctx, store.GrantParams{
			UserID: id, Duration: 30 * 24 * time.Hour, Kind: "admin", Reference: "reconcile-test",
			EmailDomain: s.cfg.XrayEmailDomain,
		})
		if err != nil {
			s.t.Fatal(err)
		}
	}
	return ids
}

// xrayUsers is Xray's inbound by email.
func (s *shopEnv) xrayUsers() (map[string]xray.User, error) {
	users, err := s.xray.ListUsers(context.Background())
	if err != nil {
		return nil, err
	}
	m := make(map[string]xray.User, len(users))
	for _, u := range users {
		m[u.Email] = u
	}
	return m, nil
}

// missingFromXray lists the users whose stored key Xray does not serve.
func (s *shopEnv) missingFromXray(ids []int64) ([]string, error) {
	have, err := s.xrayUsers()
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, id := range ids {
		sub, err := s.store.GetSubscription(context.Background(), id)
		if err != nil {
			return nil, err
		}
		if u, ok := have[sub.XrayEmail]; !ok || u.UUID != sub.VLESSUUID.String() {
			missing = append(missing, sub.XrayEmail)
		}
	}
	return missing, nil
}

// reconcileOnce runs a Reconcile workflow to its end (across
// continue-as-new) and returns its result, its id and its first run.
func (s *shopEnv) reconcileOnce(in schedules.ReconcileInput) (res workflows.ReconcileResult, id, firstRun string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	id = "test-reconcile-" + uuid.NewString()
	run, err := s.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: s.cfg.TaskQueue},
		schedules.ReconcileWorkflowType, in)
	if err != nil {
		s.t.Fatal(err)
	}
	firstRun = run.GetRunID() // Get follows continue-as-new and moves the run id on
	if err := run.Get(ctx, &res); err != nil {
		s.t.Fatalf("reconcile: %v", err)
	}
	return res, id, firstRun
}

// firstRunOf is the first run of a workflow's chain of runs.
func (s *shopEnv) firstRunOf(id string) string {
	s.t.Helper()
	it := s.temporal.GetWorkflowHistory(context.Background(), id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	e, err := it.Next()
	if err != nil {
		s.t.Fatalf("history of %s: %v", id, err)
	}
	first := e.GetWorkflowExecutionStartedEventAttributes().GetFirstExecutionRunId()
	if first == "" {
		s.t.Fatalf("%s: no first run id in %s", id, e.GetEventType())
	}
	return first
}

// assertKeysNotInHistory checks that no event of any run of the workflow
// carries one of the users' keys, in text or binary form.
func (s *shopEnv) assertKeysNotInHistory(id, firstRun string, users []int64) {
	s.t.Helper()
	ctx := context.Background()
	var needles [][]byte
	for _, u := range users {
		sub, err := s.store.GetSubscription(ctx, u)
		if err != nil {
			s.t.Fatal(err)
		}
		k := sub.VLESSUUID
		needles = append(needles, []byte(k.String()), []byte(strings.ReplaceAll(k.String(), "-", "")), k[:])
	}
	runs := 0
	for runID := firstRun; runID != ""; runs++ {
		it := s.temporal.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		runID = ""
		for it.HasNext() {
			e, err := it.Next()
			if err != nil {
				s.t.Fatal(err)
			}
			bin, err := proto.Marshal(e)
			if err != nil {
				s.t.Fatal(err)
			}
			for _, n := range needles {
				if bytes.Contains(bin, n) {
					s.t.Fatalf("event %d (%s) of %s carries a key", e.GetEventId(), e.GetEventType(), id)
				}
			}
			if a := e.GetWorkflowExecutionContinuedAsNewEventAttributes(); a != nil {
				runID = a.GetNewExecutionRunId()
			}
		}
	}
	if runs == 0 {
		s.t.Fatalf("no history for %s", id)
	}
}

func (s *shopEnv) describeSchedule(id string) *client.ScheduleDescription {
	s.t.Helper()
	var d *client.ScheduleDescription
	s.eventually("describe schedule "+id, func() (err error) {
		d, err = s.temporal.ScheduleClient().GetHandle(context.Background(), id).Describe(context.Background())
		return err
	})
	return d
}

// scheduleInput reads the input a schedule passes its workflow: where
// XrayWatch keeps its state. Describing a schedule queries its scheduler,
// which can time out while the scheduler is busy, so errors are returned
// for the caller's retry loop.
func (s *shopEnv) scheduleInput(id string, v any) error {
	d, err := s.temporal.ScheduleClient().GetHandle(context.Background(), id).Describe(context.Background())
	if err != nil {
		return err
	}
	a, ok := d.Schedule.Action.(*client.ScheduleWorkflowAction)
	if !ok || len(a.Args) != 1 {
		return fmt.Errorf("schedule action %T has no single input", d.Schedule.Action)
	}
	p, ok := a.Args[0].(*commonpb.Payload)
	if !ok {
		return fmt.Errorf("schedule input is %T", a.Args[0])
	}
	return converter.GetDefaultDataConverter().FromPayload(p, v)
}

// TestXrayRestartHealsWithoutAnyone: Xray restarts and forgets the 50 keys
// added through its API; the watch schedule notices the new process and
// triggers a reconciliation, which puts every key back.
func TestXrayRestartHealsWithoutAnyone(t *testing.T) {
	t.Parallel() // waits on the shop's clocks most of its time (harness: parallel)
	s := startShop(t, reconcileConfig)
	s.startWorkerOnly()
	ctx := context.Background()

	// The schedules are as configured.
	for id, every := range map[string]time.Duration{
		schedules.ReconcileID: 24 * time.Hour, schedules.XrayWatchID: 30 * time.Second, schedules.HealthCheckID: time.Minute,
	} {
		d := s.describeSchedule(id)
		if got := d.Schedule.Spec.Intervals; len(got) != 1 || got[0].Every != every {
			t.Errorf("schedule %s runs every %v, want %s", id, got, every)
		}
		if d.Schedule.Policy.Overlap != enumspb.SCHEDULE_OVERLAP_POLICY_SKIP {
			t.Errorf("schedule %s overlap policy %s, want SKIP", id, d.Schedule.Policy.Overlap)
		}
	}

	ids := s.liveUsers(880_000_001, 50)
	// Small pages and runs, so the real server sees paging and
	// continue-as-new: 50 users are 3 pages, 2 runs of the node's child.
	res, runID, firstRun := s.reconcileOnce(schedules.ReconcileInput{PageSize: 20, PagesPerRun: 2})
	if res.Checked != 50 || res.Pages != 3 || len(res.Nodes) != 1 || res.Nodes[0].Runs != 2 || res.Errors != 0 {
		t.Fatalf("first reconcile: %+v, want 50 checked over 3 pages in 2 runs of one node", res)
	}
	// The keys stay out of the node's child's histories too.
	child := res.Nodes[0].WorkflowID
	s.assertKeysNotInHistory(child, s.firstRunOf(child), ids)
	s.assertKeysNotInHistory(runID, firstRun, ids)
	if missing, err := s.missingFromXray(ids); err != nil || len(missing) > 0 {
		t.Fatalf("after reconcile, xray lacks %v (%v)", missing, err)
	}

	// The watch has seen this Xray process, and the process is old enough
	// for its successor's start to be told apart from it.
	s.eventually("the watch has seen xray", func() error {
		var in schedules.XrayWatchInput
		if err := s.scheduleInput(schedules.XrayWatchID, &in); err != nil {
			return err
		}
		if in.Seen(s.nodeID()).IsZero() {
			return errors.New("no xray start time saved yet")
		}
		return nil
	})
	s.eventually("xray has run for a while", func() error {
		up, err := s.xray.Uptime(ctx)
		if err != nil {
			return err
		}
		if up <= workflows.XrayRestartSlack+time.Second {
			return fmt.Errorf("uptime %s", up)
		}
		return nil
	})
	// The reconcile the watch's first look triggered has finished: one
	// still running when Xray restarts would heal it itself, and the
	// schedule (overlap SKIP) would skip the restart's trigger.
	var actionsBefore int
	s.eventually("the watch's reconcile has finished", func() error {
		d, err := s.temporal.ScheduleClient().GetHandle(ctx, schedules.ReconcileID).Describe(ctx)
		if err != nil {
			return err
		}
		if n := len(d.Info.RunningWorkflows); n > 0 {
			return fmt.Errorf("%d reconcile runs still running", n)
		}
		// RunningWorkflows can lag behind an action just taken: ask each
		// recent action's workflow itself whether it has closed.
		for _, a := range d.Info.RecentActions {
			if a.StartWorkflowResult == nil {
				continue
			}
			desc, err := s.temporal.DescribeWorkflowExecution(ctx, a.StartWorkflowResult.WorkflowID, "")
			if err != nil {
				return err
			}
			if st := desc.GetWorkflowExecutionInfo().GetStatus(); st == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				return fmt.Errorf("reconcile %s still running", a.StartWorkflowResult.WorkflowID)
			}
		}
		actionsBefore = d.Info.NumActions
		return nil
	})

	restarted := time.Now()
	if err := s.stack.Xray.Restart(ctx); err != nil {
		t.Fatal(err)
	}

	s.eventually("every key back in xray after the restart", func() error {
		missing, err := s.missingFromXray(ids)
		if err != nil {
			return err
		}
		if len(missing) > 0 {
			return fmt.Errorf("%d keys missing, e.g. %s", len(missing), missing[0])
		}
		return nil
	})
	t.Logf("xray healed %s after the restart", time.Since(restarted).Round(time.Second))

	// It was the schedule that did it: the reconcile schedule (which would
	// not fire by itself for a day) took an action, triggered by the watch.
	if got := s.describeSchedule(schedules.ReconcileID).Info.NumActions; got <= actionsBefore {
		t.Errorf("reconcile schedule took no action after the restart (%d before, %d after)", actionsBefore, got)
	}
	s.eventually("the watch saved the new xray start", func() error {
		var in schedules.XrayWatchInput
		if err := s.scheduleInput(schedules.XrayWatchID, &in); err != nil {
			return err
		}
		if seen := in.Seen(s.nodeID()); !seen.After(restarted.Add(-2 * time.Second)) {
			return fmt.Errorf("saved start %s is before the restart at %s", seen, restarted)
		}
		return nil
	})
}

// TestReconcileRemovesOnlyOurOrphans: reconciliation removes keys under our
// email domain that no live subscription accounts for, repairs a key with
// the wrong UUID, leaves another domain's users and a reissue's pending key
// alone.
func TestReconcileRemovesOnlyOurOrphans(t *testing.T) {
	t.Parallel() // waits on the shop's clocks most of its time (harness: parallel)
	s := startShop(t, reconcileConfig)
	s.startWorkerOnly()
	s.waitWatchSettled()
	ctx := context.Background()
	domain := s.cfg.XrayEmailDomain

	ids := s.liveUsers(890_000_001, 4)
	live, wrongUUID, reissuing, expired := ids[0], ids[1], ids[2], ids[3]
	s.reconcileOnce(schedules.ReconcileInput{})

	// A key whose subscription expired but which stayed in Xray.
	if _, err := s.store.SetSubscriptionStatus(ctx, expired, shop.StatusExpired); err != nil {
		t.Fatal(err)
	}
	// A key Xray holds with another UUID than the stored one.
	wrong, err := s.store.GetSubscription(ctx, wrongUUID)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.xray.RemoveUser(ctx, wrong.XrayEmail); err != nil {
		t.Fatal(err)
	}
	if err := s.xray.AddUser(ctx, xray.User{Email: wrong.XrayEmail, UUID: uuid.NewString(), Flow: s.cfg.VLESSFlow}); err != nil {
		t.Fatal(err)
	}
	// A reissue half-way: the pending key is in Xray under the next email.
	pending, err := s.store.BeginReissue(ctx, reissuing)
	if err != nil {
		t.Fatal(err)
	}
	cur, err := s.store.GetSubscription(ctx, reissuing)
	if err != nil {
		t.Fatal(err)
	}
	nextEmail, ok := xray.NextKeyEmail(cur.XrayEmail, domain)
	if !ok {
		t.Fatalf("no next email for %s", cur.XrayEmail)
	}
	// Hand-made users: an orphan under our domain, and another tool's.
	orphan := xray.UserEmail(899_999_999, domain)
	foreign := "someone@other.example"
	for _, u := range []xray.User{
		{Email: nextEmail, UUID: pending.String(), Flow: s.cfg.VLESSFlow},
		{Email: orphan, UUID: uuid.NewString(), Flow: s.cfg.VLESSFlow},
		{Email: foreign, UUID: uuid.NewString()},
	} {
		if err := s.xray.AddUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}

	res, _, _ := s.reconcileOnce(schedules.ReconcileInput{})
	if res.Removed != 2 || res.Readded != 1 || res.Foreign != 1 || res.Errors != 0 {
		t.Errorf("reconcile: %+v, want 2 removed (orphan, expired), 1 re-added (wrong uuid), 1 foreign", res)
	}
	have, err := s.xrayUsers()
	if err != nil {
		t.Fatal(err)
	}
	expiredSub, err := s.store.GetSubscription(ctx, expired)
	if err != nil {
		t.Fatal(err)
	}
	for email, want := range map[string]bool{
		orphan: false, expiredSub.XrayEmail: false, foreign: true, nextEmail: true, cur.XrayEmail: true,
	} {
		if _, got := have[email]; got != want {
			t.Errorf("%s in xray: %v, want %v", email, got, want)
		}
	}
	if u := have[nextEmail]; u.UUID != pending.String() {
		t.Errorf("the reissue's pending key was changed")
	}
	if missing, err := s.missingFromXray([]int64{live, wrongUUID, reissuing}); err != nil || len(missing) > 0 {
		t.Errorf("live keys not served: %v (%v)", missing, err)
	}
}

// TestHealthCheckTellsAdminsOfChangesOnly: Xray goes down and the admin is
// told once, however many health checks run meanwhile; it comes back and
// the admin is told that too.
func TestHealthCheckTellsAdminsOfChangesOnly(t *testing.T) {
	t.Parallel() // waits on the shop's clocks most of its time (harness: parallel)
	s := startShop(t, map[string]string{"HEALTH_CHECK_INTERVAL": "10s", "RECONCILE_INTERVAL": "24h"})
	admin := s.newUser("Admin")
	if !s.cfg.IsAdmin(admin) {
		t.Fatalf("the stand-in's first user %d is not in ADMIN_IDS %v", admin, s.cfg.AdminIDs)
	}
	s.say(admin, "/start") // a bot may only write to users who wrote to it
	// The bot runs too: the health check watches its heartbeat.
	s.startComponent("bot", func(ctx context.Context, cfg config.Config, tel *telemetry.Telemetry) error {
		return botapp.Run(ctx, cfg, tel)
	})
	s.startWorkerOnly()
	ctx := context.Background()

	s.stack.Xray.Stop()
	down := s.waitText(admin, 0, "Xray default is down")
	s.eventually("the health check remembers xray is down", func() error {
		var in schedules.HealthCheckInput
		if err := s.scheduleInput(schedules.HealthCheckID, &in); err != nil {
			return err
		}
		if fmt.Sprint(in.Down) != "["+workflows.ComponentXrayNode("default")+"]" {
			return fmt.Errorf("saved state %v", in.Down)
		}
		return nil
	})
	// Three more checks see Xray down and say nothing.
	seen := s.describeSchedule(schedules.HealthCheckID).Info.NumActions
	s.eventually("three more health checks", func() error {
		d, err := s.temporal.ScheduleClient().GetHandle(ctx, schedules.HealthCheckID).Describe(ctx)
		if err != nil {
			return err
		}
		if d.Info.NumActions < seen+3 || len(d.Info.RunningWorkflows) > 0 {
			return fmt.Errorf("%d checks since, %d running", d.Info.NumActions-seen, len(d.Info.RunningWorkflows))
		}
		return nil
	})
	if n := s.alertsSeen(admin, "Xray default is down"); n != 1 {
		t.Fatalf("the admin was told %d times that xray is down, want once\n%s", n, s.conversation(admin))
	}

	if err := s.stack.Xray.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	s.waitText(admin, down.ID, "Xray default is back up")
	if n := s.alertsSeen(admin, "Xray default is down"); n != 1 {
		t.Fatalf("the admin was told %d times that xray is down, want once", n)
	}
	for _, other := range []string{"PostgreSQL", "Crypto Pay", "Temporal", "Telegram", "Bot", "Worker"} {
		if n := s.alertsSeen(admin, other+" is down") + s.alertsSeen(admin, other+" is back"); n != 0 {
			t.Errorf("the admin heard about %s, which never changed:\n%s", other, s.conversation(admin))
		}
	}
}

// alertsSeen counts the bot's messages to userID that contain substr.
func (s *shopEnv) alertsSeen(userID int64, substr string) int {
	n := 0
	for _, m := range s.tg.Messages(userID) {
		if strings.Contains(m.Text, substr) {
			n++
		}
	}
	return n
}

// BenchmarkReconcile measures a reconciliation of an Xray that has just
// restarted (every key missing) and of one that is whole, against real
// PostgreSQL, Temporal and Xray, and prints users/s, pages, runs and
// history length. VPNFLOW_BENCH_USERS sets the number of users (default
// 2,000; 100,000 is the size it is built for):
//
//	VPNFLOW_BENCH_USERS=100000 go test -bench Reconcile -run '^$' -benchtime 1x ./internal/e2e/
func BenchmarkReconcile(b *testing.B) {
	n := 2000
	if v := os.Getenv("VPNFLOW_BENCH_USERS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("VPNFLOW_BENCH_USERS=%q is not a positive number", v)
		}
	}
	ctx := context.Background()
	pool := testenv.Database(b)
	st := store.New(pool)
	xs := testenv.NewXray(b)
	xc, err := xray.Dial(xs.APIAddr, xs.InboundTag, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { xc.Close() })
	tc := testenv.TemporalClient(b)
	cfg, err := config.LoadFrom(map[string]string{})
	if err != nil {
		b.Fatal(err)
	}
	cfg.TaskQueue = testenv.TaskQueue(b)
	node, err := st.UpsertNode(ctx, store.Node{Name: "bench", APIAddr: xs.APIAddr, InboundTag: xs.InboundTag, Host: "127.0.0.1", Port: 443})
	if err != nil {
		b.Fatal(err)
	}
	const firstID = 1_000_000
	_, err = pool.Exec(ctx, `INSERT INTO users (telegram_id, ref_code)
		SELECT g, 'b' || g::text FROM generate_series($1::bigint, $2::bigint) g`, firstID, firstID+n-1)
	if err == nil {
		_, err = pool.Exec(ctx, `INSERT INTO subscriptions (user_id, node_id, vless_uuid, xray_email, status, expires_at)
			SELECT g, $3, gen_random_uuid(), 'tg' || g::text || '@' || $4, 'active', now() + interval '30 days'
			FROM generate_series($1::bigint, $2::bigint) g`, firstID, firstID+n-1, node, cfg.XrayEmailDomain)
	}
	if err != nil {
		b.Fatalf("create %d users: %v", n, err)
	}

	nodes := xray.NewRegistry(activities.NodeEndpoints(st), nil)
	b.Cleanup(nodes.Close)
	acts := &activities.Activities{Store: st, Nodes: nodes, Temporal: tc, Config: cfg, NodeID: node, Database: pool}
	for _, w := range workerapp.NewWorkers(tc, cfg, acts, pool.Config().MaxConns) {
		if err := w.Start(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(w.Stop)
	}

	run := func(label string) workflows.ReconcileResult {
		id := "bench-reconcile-" + uuid.NewString()
		start := time.Now()
		wr, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: cfg.TaskQueue},
			schedules.ReconcileWorkflowType, schedules.ReconcileInput{})
		if err != nil {
			b.Fatal(err)
		}
		firstRun := wr.GetRunID() // Get follows continue-as-new and moves the run id on
		var res workflows.ReconcileResult
		if err := wr.Get(ctx, &res); err != nil {
			b.Fatalf("reconcile: %v", err)
		}
		took := time.Since(start)
		if res.Checked != n {
			b.Fatalf("reconcile checked %d of %d users: %+v", res.Checked, n, res)
		}
		events, longest := historyLength(b, tc, id, firstRun)
		b.Logf("%s: %d users in %s = %.0f users/s; re-added %d, removed %d; %d pages in %d runs; history %d events (longest run %d)",
			label, n, took.Round(time.Millisecond), float64(n)/took.Seconds(), res.Readded, res.Removed, res.Pages, res.Runs, events, longest)
		b.ReportMetric(float64(n)/took.Seconds(), "users/s")
		b.ReportMetric(float64(res.Pages), "pages")
		b.ReportMetric(float64(longest), "events/run")
		return res
	}

	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		if err := xs.Restart(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if res := run("after xray restart"); res.Readded != n {
			b.Fatalf("re-added %d of %d", res.Readded, n)
		}
	}
	b.StopTimer()
	if res := run("xray whole"); res.Readded != 0 || res.Removed != 0 {
		b.Fatalf("a whole xray changed: %+v", res)
	}
}

// historyLength counts the events of a workflow's runs, following
// continue-as-new from firstRun: the total and the longest single run.
func historyLength(b *testing.B, c client.Client, id, firstRun string) (total, longest int) {
	ctx := context.Background()
	for runID := firstRun; runID != ""; {
		it := c.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		n, next := 0, ""
		for it.HasNext() {
			e, err := it.Next()
			if err != nil {
				b.Fatal(err)
			}
			n++
			if a := e.GetWorkflowExecutionContinuedAsNewEventAttributes(); a != nil {
				next = a.GetNewExecutionRunId()
			}
		}
		total += n
		longest = max(longest, n)
		runID = next
	}
	return total, longest
}
