package e2e

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"vpnflow/internal/shop"
)

// TestVLESSUUIDNeverInHistory: the VLESS UUID is a bearer secret (whoever
// has it has the VPN), and workflow histories are readable by every operator
// with Temporal access and kept after the workflow ends. Activities read it
// from the database by reference; it must never be an input, result,
// failure, signal, query answer or search attribute.
func TestVLESSUUIDNeverInHistory(t *testing.T) {
	s := startShop(t, nil)
	s.runInProcess()

	ivy := s.register("Ivy")
	inv := s.buyWithCryptoPay(ivy, "30 days")
	if err := s.cp.Pay(inv.InvoiceID); err != nil {
		t.Fatal(err)
	}
	sub := s.assertActive(ivy, 30)
	p := s.latestPurchase(ivy)
	s.settle(ivy, p.ID.String())
	// The user opens "My subscription" too: a query or update behind that
	// screen must not carry the key either.
	after := s.lastID(ivy)
	s.press(ivy, "Back")
	s.press(ivy, "My subscription")
	s.waitText(ivy, after, sub.VLESSUUID.String())
	s.assertSecretAbsent(sub.VLESSUUID.String(), shop.PurchaseWorkflowID(p.ID.String()), shop.SubscriptionWorkflowID(ivy))
}

// assertSecretAbsent fails if the UUID appears, in any spelling, in any
// event of any run of the workflows.
func (s *shopEnv) assertSecretAbsent(secret string, workflowIDs ...string) {
	s.t.Helper()
	id, err := uuid.Parse(secret)
	if err != nil {
		s.t.Fatal(err)
	}
	needles := [][]byte{
		[]byte(strings.ToLower(id.String())),
		[]byte(strings.ReplaceAll(strings.ToLower(id.String()), "-", "")),
	}
	raw := id[:]
	ctx := context.Background()
	for _, wid := range workflowIDs {
		events := 0
		for _, runID := range s.runs(wid) {
			hist := s.temporal.GetWorkflowHistory(ctx, wid, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
			for hist.HasNext() {
				ev, err := hist.Next()
				if err != nil {
					s.t.Fatalf("history of %s: %v", wid, err)
				}
				events++
				bin, err := proto.Marshal(ev)
				if err != nil {
					s.t.Fatal(err)
				}
				js, err := protojson.Marshal(ev)
				if err != nil {
					s.t.Fatal(err)
				}
				// Payload data is raw bytes in the binary form (base64 in
				// JSON); the JSON form shows everything else as text.
				for _, text := range [][]byte{bytes.ToLower(bin), bytes.ToLower(js)} {
					for _, n := range needles {
						if bytes.Contains(text, n) {
							s.t.Fatalf("the VLESS UUID is in event %d (%s) of %s run %s:\n%s", ev.GetEventId(), ev.GetEventType(), wid, runID, js)
						}
					}
				}
				if bytes.Contains(bin, raw) {
					s.t.Fatalf("the VLESS UUID's bytes are in event %d (%s) of %s run %s", ev.GetEventId(), ev.GetEventType(), wid, runID)
				}
			}
		}
		if events == 0 {
			s.t.Fatalf("no history for %s: the check would prove nothing", wid)
		}
	}
}

// runs lists every run of a workflow id: the current one ("") and any
// older ones visibility knows (continue-as-new, a finished earlier run).
func (s *shopEnv) runs(workflowID string) []string {
	s.t.Helper()
	out := []string{""}
	resp, err := s.temporal.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
		Query: fmt.Sprintf("WorkflowId = %q", workflowID),
	})
	if err != nil {
		s.t.Fatalf("list runs of %s: %v", workflowID, err)
	}
	for _, e := range resp.GetExecutions() {
		out = append(out, e.GetExecution().GetRunId())
	}
	return out
}
