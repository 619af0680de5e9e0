package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"vpnflow/internal/dev/devstack"
	faketg "vpnflow/internal/dev/fake/telegram"
	"vpnflow/internal/dev/vlessclient"
	"vpnflow/internal/shop"
	"vpnflow/internal/store"
	"vpnflow/internal/vless"
)

// failoverConfig fails a node over 30 s after its last answered probe
// (the shortest NODE_FAILOVER_AFTER allows), probing every 10 s.
var failoverConfig = map[string]string{
	"NODE_FAILOVER_AFTER":   "30s",
	"HEALTH_CHECK_INTERVAL": "10s",
}

// failoverLimit bounds the wait for the moves: the failover's own delay,
// a health check's interval, and the moves.
const failoverLimit = 30*time.Second + 10*time.Second + waitLimit

// movedText is what the "moved" key message says (key_moved, English).
const movedText = "You are on a new server"

// TestFailoverMovesUsersOffAStoppedNode is the "done when": users
// on the second node, each with a VLESS client set up from the link their
// subscription URL serves, send traffic through it; the node is stopped;
// the health check fails it over and each user is moved to the other
// node — their row names it, its Xray serves their key, the subscription
// URL serves its link — and told once; a client set up from the
// refreshed subscription sends traffic again. The admins are told when
// the failover starts and ends, and the node no longer takes users.
func TestFailoverMovesUsersOffAStoppedNode(t *testing.T) {
	t.Parallel() // waits on the shop's clocks most of its time (harness: parallel)
	s := startShopWith(t, failoverConfig, devstack.Options{
		SecondNode: true, XrayTarget: vlessclient.LocalTLSTarget(t), XrayAllowPrivate: true,
	})
	s.runInProcess()
	ctx := context.Background()
	second, err := s.store.NodeByName(ctx, devstack.SecondNodeName)
	if err != nil {
		t.Fatal(err)
	}
	first := s.nodeID()
	target := vlessclient.NewTarget(t)

	users := map[int64]string{} // user -> subscription URL
	for _, name := range []string{"Ann", "Bob", "Cat"} {
		u := s.register(name)
		s.press(u, "Free trial")
		s.waitText(u, 0, "Where would you like your server")
		s.press(u, devstack.SecondNodeRegion)
		key := s.waitFor(u, 0, "the key message", isKey)
		if node, _ := s.store.UserNode(ctx, u); node != second.ID {
			t.Fatalf("%s chose %s but is on node %d", name, devstack.SecondNodeRegion, node)
		}
		users[u] = subURL.FindString(key.Caption)
	}

	// Before: the subscription URL serves the second node's link, and
	// traffic flows through it.
	var someone int64
	for u := range users {
		someone = u
		break
	}
	before := s.feedLink(users[someone])
	if before.Host != s.stack.Xray2.VLESSHost || before.Port != s.stack.Xray2.VLESSPort {
		t.Fatalf("the URL serves %s:%d, want the second node %s:%d", before.Host, before.Port,
			s.stack.Xray2.VLESSHost, s.stack.Xray2.VLESSPort)
	}
	viaSecond := vlessclient.HTTP(vlessclient.Start(t, before.String(), "127.0.0.2"), target.Roots())
	if err := vlessclient.NewStream(viaSecond, target); err != nil {
		t.Fatalf("no traffic through the second node before the stop: %v", err)
	}

	stopped := time.Now()
	s.stack.Xray2.Stop()

	// The moves: every row on the first node and its key in that Xray.
	deadline := time.Now().Add(failoverLimit)
	var failedOver time.Time
	for {
		err := s.allMoved(users, first)
		if n, nerr := s.store.GetNode(ctx, second.ID); nerr == nil && n.FailedOverAt != nil && failedOver.IsZero() {
			failedOver = time.Now()
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s after the stop: %v", time.Since(stopped).Round(time.Second), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	moved := time.Since(stopped)
	node, err := s.store.GetNode(ctx, second.ID)
	if err != nil || node.State != store.NodeDraining || node.FailedOverAt == nil {
		t.Fatalf("the failed-over node: %+v, %v; want draining with its failover time", node, err)
	}
	t.Logf("stopped → failed over (seen): %s; stopped → all %d moved: %s; failover recorded at %s",
		failedOver.Sub(stopped).Round(100*time.Millisecond), len(users), moved.Round(100*time.Millisecond),
		node.FailedOverAt.Format(time.RFC3339))

	// Each user is told once, with the new link.
	for u := range users {
		msg := s.waitFor(u, 0, "the moved key message", isMoved)
		sub, err := s.store.GetSubscription(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("vless://%s@%s:%d?", sub.VLESSUUID, s.cfg.VLESSHost, s.cfg.VLESSPort); !strings.Contains(msg.Caption, want) {
			t.Errorf("user %d's moved message lacks the new link %s:\n%s", u, want, msg.Caption)
		}
	}

	// After: the same URL serves the first node's link, with the same key,
	// and a client set up from it moves traffic again.
	after := s.feedLink(users[someone])
	if after.Host != s.cfg.VLESSHost || after.Port != s.cfg.VLESSPort || after.PublicKey != s.cfg.VLESSRealityPubKey {
		t.Fatalf("after the move the URL serves %s:%d, want the first node %s:%d", after.Host, after.Port, s.cfg.VLESSHost, s.cfg.VLESSPort)
	}
	if after.UUID != before.UUID {
		t.Errorf("the move changed the key: %s → %s", before.UUID, after.UUID)
	}
	viaFirst := vlessclient.HTTP(vlessclient.Start(t, after.String(), "127.0.0.3"), target.Roots())
	if err := vlessclient.NewStream(viaFirst, target); err != nil {
		t.Fatalf("no traffic through the first node after the move: %v", err)
	}

	// The evacuation ends with the node empty and tells the admins.
	var st shop.EvacuationState
	s.eventually("the evacuation ended", func() error {
		v, err := s.temporal.QueryWorkflow(ctx, shop.EvacuationWorkflowID(second.ID), "", shop.QueryEvacuation)
		if err != nil {
			return err
		}
		if err := v.Get(&st); err != nil {
			return err
		}
		if !st.Done {
			return fmt.Errorf("still going: %+v", st)
		}
		return nil
	})
	if st.Outcome != shop.EvacuationEmpty || st.Moved() != len(users) || st.Mode != shop.EvacuateFailover {
		t.Errorf("evacuation: %+v; want a failover that moved all %d", st, len(users))
	}
	admin := int64(devstack.SandboxAdminID)
	s.waitText(admin, 0, "failover started")
	s.waitText(admin, 0, fmt.Sprintf("Moved: %d of %d", len(users), len(users)))

	// Told once: nothing more comes, however often the evacuation asked.
	time.Sleep(2 * time.Second)
	for u := range users {
		if n := s.count(u, isMoved); n != 1 {
			t.Errorf("user %d got %d moved messages, want 1:\n%s", u, n, s.conversation(u))
		}
	}

	// The histories replay against the code (and are the replay fixtures
	// with VPNFLOW_RECORD_HISTORIES set): a moved user's Subscription, the
	// evacuation, and the health check that failed the node over.
	s.replayHistories(map[string]string{
		"subscription-node-move":   shop.SubscriptionWorkflowID(someone),
		"node-evacuation-failover": shop.EvacuationWorkflowID(second.ID),
		"healthcheck-failover":     s.runWith("HealthCheck", "FailOverNodes"),
	})
}

// runWith finds a completed run of a workflow type whose history
// scheduled the activity, and returns its workflow ID.
func (s *shopEnv) runWith(wfType, activity string) string {
	s.t.Helper()
	ctx := context.Background()
	resp, err := s.temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Query: fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Completed'", wfType),
	})
	if err != nil {
		s.t.Fatal(err)
	}
	for _, e := range resp.Executions {
		for _, ev := range s.history(e.Execution.WorkflowId).Events {
			if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil && a.GetActivityType().GetName() == activity {
				return e.Execution.WorkflowId
			}
		}
	}
	s.t.Fatalf("no completed %s ran %s", wfType, activity)
	return ""
}

func isMoved(m faketg.Message) bool { return isKey(m) && strings.Contains(m.Caption, movedText) }

// count counts the user's messages the predicate accepts.
func (s *shopEnv) count(userID int64, match func(faketg.Message) bool) int {
	n := 0
	for _, m := range s.tg.Messages(userID) {
		if match(m) {
			n++
		}
	}
	return n
}

// allMoved checks that each user's row names node to and its Xray (the
// stack's first) serves their key.
func (s *shopEnv) allMoved(users map[int64]string, to int16) error {
	for u := range users {
		sub, err := s.store.GetSubscription(context.Background(), u)
		if err != nil {
			return err
		}
		if sub.NodeID != to {
			return fmt.Errorf("user %d still on node %d", u, sub.NodeID)
		}
		if err := s.xrayServes(sub.XrayEmail, sub.VLESSUUID.String()); err != nil {
			return err
		}
	}
	return nil
}

// feedLink GETs a subscription URL as an app does and returns its one
// link.
func (s *shopEnv) feedLink(url string) vless.Link {
	s.t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		s.t.Fatalf("GET %s: %d %s %v", url, resp.StatusCode, body, err)
	}
	raw, err := base64.StdEncoding.DecodeString(string(body))
	if err != nil {
		s.t.Fatalf("GET %s: body is not base64: %v", url, err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) != 1 {
		s.t.Fatalf("GET %s: %d links, want one", url, len(lines))
	}
	l, err := vless.Parse(lines[0])
	if err != nil {
		s.t.Fatal(err)
	}
	return l
}

// TestDrainMovesUsersGradually: an admin drains the second node; its
// users move to the first node at the drain rate, each told once, and
// each key is then on exactly its new node: the drained node, still up,
// no longer holds any.
func TestDrainMovesUsersGradually(t *testing.T) {
	t.Parallel() // waits on the shop's clocks most of its time (harness: parallel)
	tn := startTwoNodes(t, map[string]string{"NODE_DRAIN_RATE": "120"})
	tn.runInProcess()
	ctx := context.Background()
	second, err := tn.store.NodeByName(ctx, devstack.SecondNodeName)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, name := range []string{"Ann", "Bob", "Cat", "Dan"} {
		u := tn.register(name)
		tn.press(u, "Free trial")
		tn.waitText(u, 0, "Where would you like your server")
		tn.press(u, devstack.SecondNodeRegion)
		tn.waitFor(u, 0, "the key message", isKey)
		ids = append(ids, u)
	}
	tn.eventually("each key on its node", func() error { return tn.exactlyOnTheirNodes(ids) })

	start := time.Now()
	tn.adminSays(ids[0], "/node drain "+devstack.SecondNodeName, "move to other nodes, 120 a minute")
	tn.eventually("everyone moved off the drained node", func() error {
		for _, u := range ids {
			if node, err := tn.store.UserNode(ctx, u); err != nil || node == second.ID {
				return fmt.Errorf("user %d on node %d (%v)", u, node, err)
			}
		}
		return tn.exactlyOnTheirNodes(ids)
	})
	t.Logf("drain of %d users at 120/min: all moved %s after the command", len(ids), time.Since(start).Round(100*time.Millisecond))
	for _, u := range ids {
		tn.waitFor(u, 0, "the moved key message", isMoved)
	}
	tn.eventually("the drain ended", func() error {
		v, err := tn.temporal.QueryWorkflow(ctx, shop.EvacuationWorkflowID(second.ID), "", shop.QueryEvacuation)
		if err != nil {
			return err
		}
		var st shop.EvacuationState
		if err := v.Get(&st); err != nil {
			return err
		}
		if !st.Done || st.Outcome != shop.EvacuationEmpty || st.Mode != shop.EvacuateDrain {
			return fmt.Errorf("evacuation: %+v", st)
		}
		return nil
	})
	time.Sleep(2 * time.Second)
	for _, u := range ids {
		if n := tn.count(u, isMoved); n != 1 {
			t.Errorf("user %d got %d moved messages, want 1", u, n)
		}
	}
}
