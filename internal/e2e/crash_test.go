package e2e

import (
	"context"
	"fmt"
	"testing"

	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

const activationNoticeText = "Setting up your access"

// TestWorkerKilledMidPurchase kills the worker with SIGKILL after the
// payment is credited but before the key can reach Xray (Xray is down),
// then brings up a new worker: the purchase finishes by itself, once.
func TestWorkerKilledMidPurchase(t *testing.T) {
	t.Parallel() // waits on the shop's clocks most of its time (harness: parallel)
	s := startShop(t, nil)
	s.stack.Xray.Stop()
	worker := s.startWorkerProcess()
	s.startBot()
	ctx := context.Background()

	gina := s.register("Gina")
	inv := s.buyWithCryptoPay(gina, "30 days")
	p := s.latestPurchase(gina)
	if err := s.cp.Pay(inv.InvoiceID); err != nil {
		t.Fatal(err)
	}
	s.waitPurchaseStatus(p, shop.PurchasePaid)
	// Mid-flight: the subscription is retrying the Xray call.
	s.eventually("the key activation to be retrying", func() error {
		d, err := s.temporal.DescribeWorkflowExecution(ctx, shop.SubscriptionWorkflowID(gina), "")
		if err != nil {
			return err
		}
		for _, a := range d.GetPendingActivities() {
			if a.GetActivityType().GetName() == "EnsureVLESSUser" && a.GetAttempt() > 1 {
				return nil
			}
		}
		return fmt.Errorf("pending activities: %v", d.GetPendingActivities())
	})
	if n := s.keyMessages(gina); n != 0 {
		t.Fatalf("a key was sent while Xray was down")
	}

	if err := worker.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = worker.Wait() // "signal: killed"
	if err := s.stack.Xray.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	s.startWorkerProcess()

	s.assertActive(gina, 30)
	s.settle(gina, p.ID.String())
	if n := s.keyMessages(gina); n != 1 {
		t.Fatalf("%d key messages, want 1\n%s", n, s.conversation(gina))
	}
	if n := s.ledgerRows(gina, store.LedgerPayment); n != 1 {
		t.Fatalf("%d payment ledger rows, want 1", n)
	}
}

// TestKeyArrivesAfterXrayComesBack: with Xray unreachable the user is told
// activation is in progress, and the key follows once Xray is back, with
// nobody acting on the workflow.
func TestKeyArrivesAfterXrayComesBack(t *testing.T) {
	t.Parallel() // waits on the shop's clocks most of its time (harness: parallel)
	s := startShop(t, nil)
	s.runInProcess()
	s.stack.Xray.Stop()
	ctx := context.Background()

	hal := s.register("Hal")
	inv := s.buyWithCryptoPay(hal, "30 days")
	if err := s.cp.Pay(inv.InvoiceID); err != nil {
		t.Fatal(err)
	}
	s.waitText(hal, 0, activationNoticeText)
	if n := s.keyMessages(hal); n != 0 {
		t.Fatalf("a key was sent while Xray was down")
	}
	if err := s.stack.Xray.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	sub := s.assertActive(hal, 30)
	p := s.latestPurchase(hal)
	s.settle(hal, p.ID.String())
	if n := s.keyMessages(hal); n != 1 {
		t.Fatalf("%d key messages, want 1", n)
	}
	if n := s.countMessages(hal, activationNoticeText); n != 1 {
		t.Fatalf("%d activation notices, want 1", n)
	}
	// The failed Xray calls are in the history too; none may carry the key.
	s.assertSecretAbsent(sub.VLESSUUID.String(), shop.PurchaseWorkflowID(p.ID.String()), shop.SubscriptionWorkflowID(hal))
}
