package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	faketg "vpnflow/internal/dev/fake/telegram"
	"vpnflow/internal/shop"
	"vpnflow/workflows"
)

// recordDir, when set, receives the histories as replay fixtures
// (make record-histories points it at workflows/testdata/histories).
const recordDir = "VPNFLOW_RECORD_HISTORIES"

// TestHistoriesReplay runs a trial, a key reissue and a Crypto Pay purchase
// on the real stack, then replays their histories against the current code;
// with VPNFLOW_RECORD_HISTORIES set it also saves them as the fixtures
// workflows/replay_test.go replays in every CI run.
func TestHistoriesReplay(t *testing.T) {
	t.Parallel() // waits on the shop's clocks most of its time (harness: parallel)
	s := startShop(t, map[string]string{"HEALTH_CHECK_INTERVAL": "10s", "XRAY_WATCH_INTERVAL": "10s"})
	s.runInProcess()
	ctx := context.Background()

	u := s.newUser("Replay")
	s.say(u, "/start")
	s.press(u, "trial")
	s.waitFor(u, 0, "the trial key", isKey)
	s.say(u, "/sub")
	s.press(u, "New key")
	s.waitFor(u, 0, "a second key", func(faketg.Message) bool { return s.keyMessages(u) >= 2 })
	s.press(u, "Back")
	s.press(u, "Buy")
	s.press(u, "30 days")
	s.press(u, "Crypto")
	inv := s.invoiceFor(u)
	if err := s.cp.Pay(inv.InvoiceID); err != nil {
		t.Fatal(err)
	}
	s.waitText(u, 0, "extended")
	ps, err := s.store.RecentPurchases(ctx, u, 1)
	if err != nil || len(ps) != 1 {
		t.Fatalf("purchases: %v %v", ps, err)
	}
	purchaseID := shop.PurchaseWorkflowID(ps[0].ID.String())
	if err := s.temporal.GetWorkflow(ctx, purchaseID, "").Get(ctx, nil); err != nil {
		t.Fatalf("purchase workflow: %v", err)
	}

	ids := map[string]string{
		"purchase-cryptopay-webhook":          purchaseID,
		"subscription-trial-reissue-purchase": shop.SubscriptionWorkflowID(u),
	}
	// The scheduled workflows have run by now or soon will: the watch
	// reconciles on its first look.
	for _, wfType := range []string{"Reconcile", "XrayWatch", "HealthCheck", "RevokeExpired"} {
		ids[strings.ToLower(wfType)] = s.completedRun(wfType)
	}
	s.replayHistories(ids)
}

// replayHistories replays each named workflow's history against the
// current code and, with VPNFLOW_RECORD_HISTORIES set, saves it there as
// <name>.json.
func (s *shopEnv) replayHistories(ids map[string]string) {
	t := s.t
	t.Helper()
	for name, id := range ids {
		hist := s.history(id)
		r := worker.NewWorkflowReplayer()
		workflows.Register(r)
		// The replayer merges each upsert into the started event's search
		// attributes in place; the fixture must be the history as the
		// server keeps it, so a copy is replayed.
		replayed := proto.Clone(hist).(*historypb.History)
		if err := r.ReplayWorkflowHistory(sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler)), replayed); err != nil {
			t.Errorf("replay %s: %v", id, err)
		}
		if dir := os.Getenv(recordDir); dir != "" {
			b, err := protojson.MarshalOptions{Indent: "  "}.Marshal(hist)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name+".json"), b, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("recorded %s (%d events)", name, len(hist.Events))
		}
	}
}

// completedRun waits for a completed run of a workflow type and returns
// its workflow ID.
func (s *shopEnv) completedRun(wfType string) string {
	return s.runIn(wfType, "Completed")
}

// runningRun is a running run of a workflow type: its history so far.
func (s *shopEnv) runningRun(wfType string) string {
	return s.runIn(wfType, "Running")
}

func (s *shopEnv) runIn(wfType, status string) string {
	s.t.Helper()
	var id string
	s.eventually("a "+strings.ToLower(status)+" "+wfType, func() error {
		resp, err := s.temporal.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
			Query: fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = '%s'", wfType, status),
		})
		if err != nil {
			return err
		}
		if len(resp.Executions) == 0 {
			return fmt.Errorf("none yet")
		}
		id = resp.Executions[0].Execution.WorkflowId
		return nil
	})
	return id
}

func (s *shopEnv) history(workflowID string) *historypb.History {
	s.t.Helper()
	it := s.temporal.GetWorkflowHistory(context.Background(), workflowID, "", false, 0)
	h := &historypb.History{}
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			s.t.Fatalf("history of %s: %v", workflowID, err)
		}
		h.Events = append(h.Events, e)
	}
	return h
}
