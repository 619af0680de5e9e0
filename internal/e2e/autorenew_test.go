package e2e

import (
	"context"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"vpnflow/activities"
	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

// An auto-renewal is a Purchase like every other charge: a purchase/<id>
// workflow under the id derived from user and period end, paid once from
// the balance, with one "renewed" message and no "extended" one.
func TestAutoRenewRunsAsPurchase(t *testing.T) {
	// A lead longer than the plan: the renewal is due as soon as it is on.
	s := startShop(t, map[string]string{"AUTO_RENEW_LEAD": "721h"})
	s.runInProcess()
	ctx := context.Background()

	dave := s.register("Dave")
	if _, err := s.pool.Exec(ctx, `UPDATE users SET balance = 1000 WHERE telegram_id = $1`, dave); err != nil {
		t.Fatal(err)
	}
	s.press(dave, "Buy")
	s.press(dave, "30 days")
	s.press(dave, "From balance")
	first := s.assertActive(dave, 30)
	buy := s.latestPurchase(dave)
	s.waitPurchaseStatus(buy, shop.PurchasePaid)
	s.settle(dave, buy.ID.String())

	s.say(dave, "/start")
	s.press(dave, "My subscription")
	s.press(dave, "Turn on auto-renewal")
	// "My subscription" shows the key too; the renewal must not send it.
	keys := s.keyMessages(dave)

	renewalID := activities.RenewalPurchaseID(dave, first.ExpiresAt)
	renewal := s.waitPurchaseStatus(store.Purchase{ID: renewalID}, shop.PurchasePaid)
	if renewal.Provider != shop.ProviderBalance || renewal.Kind != shop.KindSubscription || renewal.Amount != 300 {
		t.Fatalf("renewal purchase %+v, want a 300 balance subscription", renewal)
	}
	wfID := shop.PurchaseWorkflowID(renewalID.String())
	d, err := s.temporal.DescribeWorkflowExecution(ctx, wfID, "")
	if err != nil {
		t.Fatalf("no workflow %s for the renewal: %v", wfID, err)
	}
	if typ := d.GetWorkflowExecutionInfo().GetType().GetName(); typ != shop.PurchaseWorkflowType {
		t.Fatalf("%s is a %s workflow", wfID, typ)
	}
	s.settle(dave, renewalID.String())
	if d, err = s.temporal.DescribeWorkflowExecution(ctx, wfID, ""); err != nil {
		t.Fatal(err)
	}
	if st := d.GetWorkflowExecutionInfo().GetStatus(); st != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
		t.Fatalf("renewal workflow %s, want completed", st)
	}
	if p := d.GetWorkflowExecutionInfo().GetParentExecution().GetWorkflowId(); p != shop.SubscriptionWorkflowID(dave) {
		t.Fatalf("renewal workflow's parent %q, want the subscription", p)
	}

	s.waitText(dave, 0, "renewed for")
	sub, err := s.store.GetSubscription(ctx, dave)
	if err != nil {
		t.Fatal(err)
	}
	if want := first.ExpiresAt.Add(30 * 24 * time.Hour); !sub.ExpiresAt.Equal(want) {
		t.Fatalf("expiry %s after renewal, want %s", sub.ExpiresAt, want)
	}
	if b := s.balance(dave); b != 400 {
		t.Fatalf("balance %d after two 300 charges from 1000", b)
	}
	if n := s.ledgerRows(dave, store.LedgerBalanceDebit); n != 2 {
		t.Fatalf("%d balance debits, want 2", n)
	}
	if n := s.countMessages(dave, "renewed for"); n != 1 {
		t.Fatalf("%d renewal messages, want 1", n)
	}
	if n := s.countMessages(dave, "extended"); n != 0 {
		t.Fatalf("%d 'extended' messages for a renewal, want 0:\n%s", n, s.conversation(dave))
	}
	if n := s.keyMessages(dave); n != keys {
		t.Fatalf("%d key messages after the renewal, want %d", n, keys)
	}
	if n := len(s.purchases(dave)); n != 2 {
		t.Fatalf("%d purchases, want the purchase and one renewal", n)
	}
	// Both sides of the renewal replay (and are the replay fixtures with
	// VPNFLOW_RECORD_HISTORIES set).
	s.replayHistories(map[string]string{
		"subscription-autorenew-purchase": shop.SubscriptionWorkflowID(dave),
		"purchase-autorenew":              wfID,
	})
}
