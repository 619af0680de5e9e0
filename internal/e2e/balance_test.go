package e2e

import (
	"context"
	"testing"

	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

func TestTopUpThenBuyWithBalance(t *testing.T) {
	s := startShop(t, nil)
	s.runInProcess()
	ctx := context.Background()

	carol := s.register("Carol")
	s.press(carol, "Balance")
	s.press(carol, "+$5.00")
	inv := s.invoiceFor(carol)
	topUp := s.latestPurchase(carol)
	if topUp.Kind != shop.KindTopUp || topUp.Amount != 500 {
		t.Fatalf("top-up purchase %+v, want a 500 top-up", topUp)
	}
	if err := s.cp.Pay(inv.InvoiceID); err != nil {
		t.Fatal(err)
	}
	s.waitText(carol, 0, "topped up")
	s.waitPurchaseStatus(topUp, shop.PurchasePaid)
	if b := s.balance(carol); b != 500 {
		t.Fatalf("balance %d after topping up 500", b)
	}

	// Two payment menus, both offering the balance (it covers one plan, not
	// two). The newer one is used; the older one goes stale.
	s.press(carol, "Back")
	s.press(carol, "Buy")
	s.press(carol, "30 days")
	stale := s.waitButton(carol, 0, "From balance")
	s.say(carol, "/buy")
	s.waitButton(carol, stale.ID, "30 days")
	s.press(carol, "30 days")
	fresh := s.waitButton(carol, stale.ID, "From balance")
	s.pressOn(carol, fresh.ID, "From balance")

	sub := s.assertActive(carol, 30)
	buy := s.latestPurchase(carol)
	if buy.Provider != shop.ProviderBalance || buy.Kind != shop.KindSubscription {
		t.Fatalf("newest purchase %+v, want a balance subscription", buy)
	}
	s.waitPurchaseStatus(buy, shop.PurchasePaid)
	s.settle(carol, buy.ID.String())
	if b := s.balance(carol); b != 200 {
		t.Fatalf("balance %d after paying 300 of 500", b)
	}
	if n := s.ledgerRows(carol, store.LedgerBalanceDebit); n != 1 {
		t.Fatalf("%d balance debits, want 1", n)
	}
	if n := s.keyMessages(carol); n != 1 {
		t.Fatalf("%d key messages, want 1", n)
	}

	// The stale button: the balance no longer covers the plan. The bot
	// says so and starts nothing.
	before := len(s.purchases(carol))
	ledger := s.allLedgerRows(carol)
	after := s.lastID(carol)
	s.pressOn(carol, stale.ID, "From balance")
	s.waitText(carol, after, "Not enough on your balance")
	if n := len(s.purchases(carol)); n != before {
		t.Fatalf("%d purchases after the refused one, want %d", n, before)
	}
	if n := s.allLedgerRows(carol); n != ledger {
		t.Fatalf("%d ledger rows after the refused purchase, want %d", n, ledger)
	}
	if b := s.balance(carol); b != 200 {
		t.Fatalf("balance %d after the refused purchase, want 200", b)
	}
	after2, err := s.store.GetSubscription(ctx, carol)
	if err != nil || !after2.ExpiresAt.Equal(sub.ExpiresAt) {
		t.Fatalf("subscription changed by the refused purchase: %+v, %v", after2, err)
	}
}
