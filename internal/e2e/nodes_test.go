package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"vpnflow/internal/dev/devstack"
	"vpnflow/internal/dev/testenv"
	"vpnflow/internal/schedules"
	"vpnflow/internal/store"
	"vpnflow/internal/xray"
	"vpnflow/workflows"
)

// twoNodes is a shop whose stack runs a second Xray node (as `make dev`
// does): the environment's node "default" in region eu-1 and eu-2.
type twoNodes struct {
	*shopEnv
	nodes map[int16]*xray.Client // each node's Xray, by node id
	names map[int16]string
}

func startTwoNodes(t *testing.T, extra map[string]string) *twoNodes {
	t.Helper()
	s := startShopWith(t, extra, devstack.Options{SecondNode: true})
	tn := &twoNodes{shopEnv: s, nodes: map[int16]*xray.Client{}, names: map[int16]string{}}
	ctx := context.Background()
	second, err := s.store.NodeByName(ctx, devstack.SecondNodeName)
	if err != nil {
		t.Fatalf("the second node is not registered: %v", err)
	}
	x2, err := xray.Dial(s.stack.Xray2.APIAddr, s.stack.Xray2.InboundTag, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x2.Close() })
	first := s.nodeID()
	tn.nodes[first], tn.names[first] = s.xray, "default"
	tn.nodes[second.ID], tn.names[second.ID] = x2, second.Name
	return tn
}

// keysOn is the emails a node's Xray serves, with their UUIDs.
func (tn *twoNodes) keysOn(node int16) (map[string]string, error) {
	users, err := tn.nodes[node].ListUsers(context.Background())
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(users))
	for _, u := range users {
		out[u.Email] = u.UUID
	}
	return out, nil
}

// exactlyOnTheirNodes checks that each live subscription's key is in its
// node's Xray with its UUID and in no other node's, and that no node holds
// a key of ours no live subscription accounts for.
func (tn *twoNodes) exactlyOnTheirNodes(ids []int64) error {
	ctx := context.Background()
	want := map[int16]map[string]string{}
	for node := range tn.nodes {
		want[node] = map[string]string{}
	}
	for _, id := range ids {
		sub, err := tn.store.GetSubscription(ctx, id)
		if err != nil {
			return err
		}
		if sub.LiveAt(time.Now()) {
			want[sub.NodeID][sub.XrayEmail] = sub.VLESSUUID.String()
		}
	}
	for node := range tn.nodes {
		have, err := tn.keysOn(node)
		if err != nil {
			return err
		}
		for email, u := range want[node] {
			if have[email] != u {
				return fmt.Errorf("node %s lacks %s (or holds another uuid)", tn.names[node], email)
			}
		}
		for email := range have {
			if _, ok := want[node][email]; !ok {
				return fmt.Errorf("node %s holds %s, which no live subscription of it accounts for", tn.names[node], email)
			}
		}
	}
	return nil
}

// TestTwoNodesPlaceUsersAndKeepEachKeyOnItsNode: with two nodes in two
// regions a new user is asked where; "Any" puts the first two users on
// different nodes (the least loaded), a chosen region is honoured, each
// key is in exactly its node's Xray, and each user's link points at their
// node. A ban removes the key from its node.
func TestTwoNodesPlaceUsersAndKeepEachKeyOnItsNode(t *testing.T) {
	tn := startTwoNodes(t, nil)
	tn.runInProcess()
	ctx := context.Background()

	trial := func(name, choice string) (int64, store.Subscription) {
		t.Helper()
		u := tn.register(name)
		tn.press(u, "Free trial")
		tn.waitText(u, 0, "Where would you like your server")
		tn.press(u, choice)
		return u, tn.assertLiveSomewhere(u)
	}
	ann, annSub := trial("Ann", "Any")
	bob, bobSub := trial("Bob", "Any")
	if annSub.NodeID == bobSub.NodeID {
		t.Fatalf("Ann and Bob both on node %d: the second should go to the emptier node", annSub.NodeID)
	}
	// Cat chooses the region of the newer node: with one user on each,
	// "Any" would put her on the older one (the tie goes to the lower id).
	newer, err := tn.store.GetNode(ctx, max(annSub.NodeID, bobSub.NodeID))
	if err != nil {
		t.Fatal(err)
	}
	cat, catSub := trial("Cat", newer.Region)
	if catSub.NodeID != newer.ID {
		t.Errorf("Cat chose %s but is on node %d, not %s", newer.Region, catSub.NodeID, newer.Name)
	}
	users := []int64{ann, bob, cat}
	tn.eventually("each key on exactly its node", func() error { return tn.exactlyOnTheirNodes(users) })

	// Each user's link goes to their node's VLESS port with its REALITY key.
	for _, u := range users {
		sub, _ := tn.store.GetSubscription(ctx, u)
		node, err := tn.store.GetNode(ctx, sub.NodeID)
		if err != nil {
			t.Fatal(err)
		}
		key := tn.waitFor(u, 0, "the key message", isKey)
		at := fmt.Sprintf("vless://%s@%s:%d?", sub.VLESSUUID, node.Host, node.Port)
		if !strings.Contains(key.Caption, at) || !strings.Contains(key.Caption, "pbk="+node.PublicKey) {
			t.Errorf("user %d's key does not point at node %s (%s, pbk %s):\n%s", u, node.Name, at, node.PublicKey, key.Caption)
		}
	}

	// A ban takes the key out of its own node (Ann, the stack's first
	// user, is its admin).
	tn.adminSays(ann, fmt.Sprintf("/ban %d", bob), "Bob")
	tn.eventually("Bob's key out of his node after the ban", func() error {
		have, err := tn.keysOn(bobSub.NodeID)
		if err != nil {
			return err
		}
		if _, ok := have[bobSub.XrayEmail]; ok {
			return fmt.Errorf("%s still on node %s", bobSub.XrayEmail, tn.names[bobSub.NodeID])
		}
		return nil
	})
	tn.eventually("the others' keys stay on their nodes", func() error { return tn.exactlyOnTheirNodes([]int64{ann, cat}) })
}

// assertLiveSomewhere waits for the user's key message and returns their
// live subscription.
func (tn *twoNodes) assertLiveSomewhere(u int64) store.Subscription {
	tn.t.Helper()
	tn.waitFor(u, 0, "the key message", isKey)
	sub, err := tn.store.GetSubscription(context.Background(), u)
	if err != nil || !sub.Live() {
		tn.t.Fatalf("user %d: %v, %v", u, sub, err)
	}
	return sub
}

// driftBothNodes takes a key out of each node, puts a stray key of ours
// into each, and puts one node's user's key on the other node too: every
// kind of drift reconciliation repairs, on both nodes.
func (tn *twoNodes) driftBothNodes(ids []int64) {
	tn.t.Helper()
	ctx := context.Background()
	removedOn := map[int16]bool{}
	var crossed bool
	for _, id := range ids {
		sub, err := tn.store.GetSubscription(ctx, id)
		if err != nil {
			tn.t.Fatal(err)
		}
		switch {
		case !removedOn[sub.NodeID]:
			if err := tn.nodes[sub.NodeID].RemoveUser(ctx, sub.XrayEmail); err != nil {
				tn.t.Fatal(err)
			}
			removedOn[sub.NodeID] = true
		case !crossed:
			for other, xc := range tn.nodes {
				if other != sub.NodeID {
					u := xray.User{Email: sub.XrayEmail, UUID: sub.VLESSUUID.String(), Flow: tn.cfg.VLESSFlow}
					if err := xc.AddUser(ctx, u); err != nil {
						tn.t.Fatal(err)
					}
				}
			}
			crossed = true
		}
	}
	if len(removedOn) != 2 || !crossed {
		tn.t.Fatalf("users not spread over both nodes: removed on %v, crossed %t", removedOn, crossed)
	}
	for node, xc := range tn.nodes {
		stray := xray.User{Email: fmt.Sprintf("tg%d@%s", 900_000+int(node), tn.cfg.XrayEmailDomain), UUID: uuid.NewString(), Flow: tn.cfg.VLESSFlow}
		if err := xc.AddUser(ctx, stray); err != nil {
			tn.t.Fatal(err)
		}
	}
}

// TestReconcileRepairsEachNode: drift on both nodes (a key missing, a
// stray key, a key on the wrong node) is repaired by one reconciliation,
// each node by its own child workflow.
func TestReconcileRepairsEachNode(t *testing.T) {
	t.Parallel() // waits on the shop's clocks most of its time (harness: parallel)
	tn := startTwoNodes(t, reconcileConfig)
	tn.startWorkerOnly()
	tn.waitWatchSettled()
	ids := tn.liveUsers(700_001, 6)
	res, _, _ := tn.reconcileOnce(schedules.ReconcileInput{})
	if err := tn.exactlyOnTheirNodes(ids); err != nil {
		t.Fatalf("after the first reconcile: %v", err)
	}
	if len(res.Nodes) != 2 || res.Checked != 6 {
		t.Fatalf("first reconcile: %+v", res)
	}

	tn.driftBothNodes(ids)
	res, _, _ = tn.reconcileOnce(schedules.ReconcileInput{})
	if err := tn.exactlyOnTheirNodes(ids); err != nil {
		t.Fatalf("after reconciling the drift: %v", err)
	}
	for _, n := range res.Nodes {
		if n.Failed != "" || n.Readded != 1 || n.Removed < 1 {
			t.Errorf("node %s: %+v; want one key re-added and the strays removed", n.Node, n)
		}
	}
	if res.Removed != 3 || res.NodesFailed != 0 {
		t.Errorf("reconcile: %+v; want 3 removed (a stray on each node, the crossed key)", res)
	}
}

// TestHungNodeDoesNotHoldUpTheOthers: with one node's Xray frozen
// (SIGSTOP: it accepts and never answers), a reconciliation repairs the
// other node while the frozen node's child is still waiting on it; once
// the node thaws, its own child repairs it too.
func TestHungNodeDoesNotHoldUpTheOthers(t *testing.T) {
	t.Parallel() // waits on the shop's clocks most of its time (harness: parallel)
	tn := startTwoNodes(t, reconcileConfig)
	tn.startWorkerOnly()
	tn.waitWatchSettled()
	ids := tn.liveUsers(710_001, 6)
	tn.reconcileOnce(schedules.ReconcileInput{})
	tn.driftBothNodes(ids)

	second, err := tn.store.NodeByName(context.Background(), devstack.SecondNodeName)
	if err != nil {
		t.Fatal(err)
	}
	healthy := tn.nodeID()
	thaw := testenv.FreezeXray(t, tn.stack.Xray2)
	ctx := context.Background()
	id := "test-reconcile-" + uuid.NewString()
	start := time.Now()
	run, err := tn.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: tn.cfg.TaskQueue},
		schedules.ReconcileWorkflowType, schedules.ReconcileInput{})
	if err != nil {
		t.Fatal(err)
	}
	healthyChild, frozenChild := tn.childFor(id, healthy), tn.childFor(id, second.ID)
	tn.eventually("the healthy node's reconciliation finished", func() error {
		return tn.closed(healthyChild, enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED)
	})
	took := time.Since(start)
	// The healthy node is repaired: only the frozen node's drift is left.
	have, err := tn.keysOn(healthy)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		sub, _ := tn.store.GetSubscription(ctx, id)
		if sub.NodeID == healthy && have[sub.XrayEmail] != sub.VLESSUUID.String() {
			t.Errorf("healthy node lacks %s after its reconciliation", sub.XrayEmail)
		}
	}
	for email := range have {
		if !slices.ContainsFunc(ids, func(id int64) bool {
			sub, _ := tn.store.GetSubscription(ctx, id)
			return sub.NodeID == healthy && sub.XrayEmail == email
		}) {
			t.Errorf("healthy node still holds %s", email)
		}
	}
	if err := tn.closed(frozenChild, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING); err != nil {
		t.Fatalf("the frozen node's reconciliation: %v (it cannot have finished against a frozen xray)", err)
	}
	t.Logf("healthy node reconciled %s after the start, the frozen node's child still running", took.Round(time.Millisecond))
	// The frozen node's page meets the hang: its calls time out (5 s each)
	// and the attempt fails, to be retried; only then does the node thaw.
	tn.eventually("the frozen node's page failed against the hang", func() error {
		d, err := tn.temporal.DescribeWorkflowExecution(ctx, frozenChild, "")
		if err != nil {
			return err
		}
		for _, a := range d.GetPendingActivities() {
			if a.GetActivityType().GetName() == "ReconcilePage" && a.GetAttempt() >= 2 {
				t.Logf("frozen node's page: attempt %d, last failure %q, %s after the start",
					a.GetAttempt(), a.GetLastFailure().GetMessage(), time.Since(start).Round(time.Millisecond))
				return nil
			}
		}
		return fmt.Errorf("no retried page yet: %d pending activities", len(d.GetPendingActivities()))
	})
	if err := tn.closed(frozenChild, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING); err != nil {
		t.Fatal(err)
	}

	thaw()
	thawed := time.Since(start)
	wctx, cancel := context.WithTimeout(ctx, workflows.NodeGiveUp+waitLimit)
	defer cancel()
	var res workflows.ReconcileResult
	if err := run.Get(wctx, &res); err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	t.Logf("the whole reconciliation ended %s after the start (node %s thawed %s after it)",
		time.Since(start).Round(time.Millisecond), second.Name, thawed.Round(time.Millisecond))
	if res.NodesFailed != 0 {
		t.Fatalf("a node gave up: %+v", res)
	}
	if err := tn.exactlyOnTheirNodes(ids); err != nil {
		t.Fatalf("after the thaw: %v", err)
	}
}

// closed checks that the workflow's latest run has the status want.
func (s *shopEnv) closed(workflowID string, want enumspb.WorkflowExecutionStatus) error {
	d, err := s.temporal.DescribeWorkflowExecution(context.Background(), workflowID, "")
	if err != nil {
		return err
	}
	if got := d.GetWorkflowExecutionInfo().GetStatus(); got != want {
		return fmt.Errorf("%s is %s, want %s", workflowID, got, want)
	}
	return nil
}

// childFor is the ID of the reconcile run's child for node, as the run's
// history records it.
func (s *shopEnv) childFor(parentID string, node int16) string {
	s.t.Helper()
	var id string
	s.eventually(fmt.Sprintf("%s started a child for node %d", parentID, node), func() error {
		it := s.temporal.GetWorkflowHistory(context.Background(), parentID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			e, err := it.Next()
			if err != nil {
				return err
			}
			if a := e.GetStartChildWorkflowExecutionInitiatedEventAttributes(); a != nil &&
				strings.HasPrefix(a.GetWorkflowId(), schedules.ReconcileNodeIDPrefix(node)) {
				id = a.GetWorkflowId()
				return nil
			}
		}
		return fmt.Errorf("no child for node %d yet", node)
	})
	return id
}
