package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	faketg "vpnflow/internal/dev/fake/telegram"
	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

func isStarsInvoice(m faketg.Message) bool { return m.Invoice != nil && m.Invoice.Currency == "XTR" }

// starsInvoice walks the user to a Stars invoice and returns its message.
func (s *shopEnv) starsInvoice(userID int64) faketg.Message {
	s.t.Helper()
	after := s.lastID(userID)
	s.press(userID, "Buy")
	s.press(userID, "30 days")
	s.press(userID, "Telegram Stars")
	return s.waitFor(userID, after, "the Stars invoice", isStarsInvoice)
}

func TestBuyWithStars(t *testing.T) {
	t.Parallel() // waits on the shop's clocks most of its time (harness: parallel)
	// The shortest invoice lifetime the configuration allows, so the
	// refused-checkout half of the test sees an invoice expire.
	s := startShop(t, map[string]string{"CRYPTOPAY_INVOICE_TTL": "1m"})
	s.runInProcess()
	ctx := context.Background()

	// Bob's invoice is left to expire while Alice buys.
	bob := s.register("Bob")
	bobInvoice := s.starsInvoice(bob)
	bobPurchase := s.latestPurchase(bob)

	alice := s.register("Alice")
	inv := s.starsInvoice(alice)
	p := s.latestPurchase(alice)
	if inv.Invoice.Payload != p.ID.String() || inv.Invoice.TotalAmount != 150 {
		t.Fatalf("invoice %+v for purchase %s, want payload = purchase id and 150 XTR", *inv.Invoice, p.ID)
	}
	charge, err := s.tg.PayStarsInvoice(ctx, alice, inv.ID)
	if err != nil {
		t.Fatalf("pay stars invoice: %v\n%s", err, s.conversation(alice))
	}
	s.waitText(alice, inv.ID, "Payment received")
	sub := s.assertActive(alice, 30)
	if sub.PlanID != "1m" {
		t.Errorf("plan %s, want 1m", sub.PlanID)
	}
	got := s.waitPurchaseStatus(p, shop.PurchasePaid)
	if got.ProviderChargeID != charge || got.Currency != "XTR" || got.Amount != 150 || got.Provider != shop.ProviderStars {
		t.Fatalf("purchase %+v, want paid with charge %s, 150 XTR via stars", got, charge)
	}
	s.settle(alice, p.ID.String())
	if n := s.ledgerRows(alice, store.LedgerPayment); n != 1 {
		t.Fatalf("%d payment ledger rows, want 1", n)
	}
	if n := s.keyMessages(alice); n != 1 {
		t.Fatalf("%d key messages, want 1", n)
	}

	// Bob comes back to his invoice after it expired: the bot refuses the
	// pre-checkout, so Telegram takes no Stars.
	bobPurchase = s.waitExpired(bobPurchase)
	s.waitText(bob, bobInvoice.ID, "has expired")
	_, err = s.tg.PayStarsInvoice(ctx, bob, bobInvoice.ID)
	var declined *faketg.PaymentDeclinedError
	if !errors.As(err, &declined) {
		t.Fatalf("paying an expired purchase's invoice: %v, want the bot to decline", err)
	}
	// Telegram shows the reason as plain text.
	if !strings.Contains(declined.Message, "has expired") || strings.ContainsAny(declined.Message, "<>&") {
		t.Errorf("decline reason %q, want the expiry explained in plain text", declined.Message)
	}
	for _, c := range s.tg.Charges() {
		if c.UserID == bob {
			t.Fatalf("bob was charged: %+v", c)
		}
	}
	if got, err := s.store.GetPurchase(ctx, bobPurchase.ID); err != nil || got.Status != shop.PurchaseExpired {
		t.Fatalf("bob's purchase after the refused checkout: %+v, %v", got, err)
	}
	if n := s.allLedgerRows(bob); n != 0 {
		t.Fatalf("bob has %d ledger rows, want none", n)
	}
	if n := s.keyMessages(bob); n != 0 {
		t.Fatalf("bob got %d key messages", n)
	}
}

// waitExpired waits for an unpaid purchase's invoice to run out, which
// takes the configured TTL (a minute) and so outlasts waitLimit's usual
// margin.
func (s *shopEnv) waitExpired(p store.Purchase) store.Purchase {
	s.t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		got, err := s.store.GetPurchase(context.Background(), p.ID)
		if err != nil {
			s.t.Fatal(err)
		}
		if got.Status == shop.PurchaseExpired {
			return got
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("purchase %s still %s after 3 minutes", p.ID, got.Status)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
