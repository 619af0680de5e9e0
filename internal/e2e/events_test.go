package e2e

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	historypb "go.temporal.io/api/history/v1"

	"vpnflow/internal/shop"
)

// TestPurchaseHistories buys once with each way to pay (Crypto Pay, Stars,
// the balance) and takes a trial, each as a new user, on the real stack;
// it replays every Purchase and Subscription history against the current
// code and logs what each purchase cost in history events (the dev
// server's work per purchase). With VPNFLOW_RECORD_HISTORIES set the
// histories are saved as replay fixtures named for the way of paying
// (VPNFLOW_RECORD_HISTORIES=$PWD/workflows/testdata/histories go test
// -run TestPurchaseHistories ./internal/e2e/).
func TestPurchaseHistories(t *testing.T) {
	t.Parallel() // waits on the shop's clocks most of its time (harness: parallel)
	s := startShop(t, nil)
	s.runInProcess()
	ctx := context.Background()
	ids := map[string]string{}

	trial := s.register("Trial")
	s.press(trial, "trial")
	s.assertActive(trial, 2)
	s.waitSubscriptionIdle(trial)
	ids["subscription-trial"] = shop.SubscriptionWorkflowID(trial)

	crypto := s.register("Crypto")
	inv := s.buyWithCryptoPay(crypto, "30 days")
	// Paid once the purchase waits, as most are (and as in make bench).
	s.waitIdle(shop.PurchaseWorkflowID(s.latestPurchase(crypto).ID.String()))
	if err := s.cp.Pay(inv.InvoiceID); err != nil {
		t.Fatal(err)
	}
	s.assertActive(crypto, 30)
	s.settleLatest(crypto)
	ids["purchase-cryptopay"] = shop.PurchaseWorkflowID(s.latestPurchase(crypto).ID.String())
	ids["subscription-cryptopay"] = shop.SubscriptionWorkflowID(crypto)

	stars := s.register("Stars")
	msg := s.starsInvoice(stars)
	s.waitIdle(shop.PurchaseWorkflowID(s.latestPurchase(stars).ID.String()))
	if _, err := s.tg.PayStarsInvoice(ctx, stars, msg.ID); err != nil {
		t.Fatalf("pay stars invoice: %v\n%s", err, s.conversation(stars))
	}
	s.assertActive(stars, 30)
	s.settleLatest(stars)
	ids["purchase-stars"] = shop.PurchaseWorkflowID(s.latestPurchase(stars).ID.String())
	ids["subscription-stars"] = shop.SubscriptionWorkflowID(stars)

	balance := s.register("Balance")
	if _, err := s.pool.Exec(ctx, `UPDATE users SET balance = 1000 WHERE telegram_id = $1`, balance); err != nil {
		t.Fatal(err)
	}
	s.press(balance, "Buy")
	s.press(balance, "30 days")
	s.press(balance, "From balance")
	s.assertActive(balance, 30)
	s.settleLatest(balance)
	ids["purchase-balance"] = shop.PurchaseWorkflowID(s.latestPurchase(balance).ID.String())
	ids["subscription-balance"] = shop.SubscriptionWorkflowID(balance)

	// Timers a purchase leaves behind cost events when they fire: the
	// 10 s activation notice's fires whether the key came or not. Counted
	// once they have.
	time.Sleep(settleTimers)
	for _, kind := range []string{"trial", "cryptopay", "stars", "balance"} {
		sub := s.history(ids["subscription-"+kind])
		total := len(sub.Events)
		line := fmt.Sprintf("%-9s subscription %3d [%s]", kind, len(sub.Events), eventSummary(sub))
		if id, ok := ids["purchase-"+kind]; ok {
			p := s.history(id)
			total += len(p.Events)
			line += fmt.Sprintf("  purchase %3d [%s]", len(p.Events), eventSummary(p))
		}
		t.Logf("events per purchase: %-9s %3d = %s", kind, total, line)
	}
	s.replayHistories(ids)
}

// settleTimers is how long TestPurchaseHistories waits before counting:
// longer than the timers a purchase starts for seconds (the activation
// notice's 10 s).
const settleTimers = 12 * time.Second

// settleLatest waits until the user's newest purchase and their
// subscription have nothing left to do.
func (s *shopEnv) settleLatest(userID int64) {
	s.t.Helper()
	s.settle(userID, s.latestPurchase(userID).ID.String())
}

// eventSummary counts a history's events by kind, most first, as
// "workflowtask 15, activitytask 12, ...": where the dev server's work
// goes.
func eventSummary(h *historypb.History) string {
	counts := map[string]int{}
	for _, e := range h.Events {
		name := strings.ToLower(e.GetEventType().String())
		for _, group := range []string{"workflowtask", "activitytask", "timer", "marker", "upsert", "signaled", "update", "childworkflow"} {
			if strings.Contains(name, group) {
				name = group
				break
			}
		}
		counts[name]++
	}
	names := make([]string, 0, len(counts))
	for n := range counts {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		return counts[names[i]] > counts[names[j]] || counts[names[i]] == counts[names[j]] && names[i] < names[j]
	})
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %d", n, counts[n])
	}
	return strings.Join(parts, ", ")
}
