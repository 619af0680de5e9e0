package e2e

import (
	"testing"
	"time"

	"vpnflow/internal/dev/testenv"
	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

// TestCreditWhileXrayFrozen freezes Xray with SIGSTOP after the worker's
// connection to it is up (hung, not down: the kernel still accepts, nothing
// answers). A Crypto Pay purchase paid meanwhile must still be credited —
// purchase paid and one payment ledger row — within a bound, while the key
// waits; once Xray is thawed the key arrives.
func TestCreditWhileXrayFrozen(t *testing.T) {
	t.Parallel() // waits on the shop's clocks most of its time (harness: parallel)
	s := startShop(t, nil)
	s.runInProcess()

	// A first purchase, so the worker's Xray connection is READY when Xray
	// freezes, as in production.
	amy := s.register("Amy")
	inv := s.buyWithCryptoPay(amy, "30 days")
	if err := s.cp.Pay(inv.InvoiceID); err != nil {
		t.Fatal(err)
	}
	s.assertActive(amy, 30)

	ben := s.register("Ben")
	inv = s.buyWithCryptoPay(ben, "30 days")

	thaw := testenv.FreezeXray(t, s.stack.Xray)

	paidAt := time.Now()
	if err := s.cp.Pay(inv.InvoiceID); err != nil {
		t.Fatal(err)
	}
	// Crediting needs PostgreSQL and Temporal only. The bound leaves room
	// for CRYPTOPAY_POLL_INTERVAL and a noisy machine; it is far below the
	// activity timeouts a hung Xray call used to run into.
	const creditLimit = 20 * time.Second
	p := s.latestPurchase(ben)
	for {
		got, err := s.store.GetPurchase(t.Context(), p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status == shop.PurchasePaid && s.ledgerRows(ben, store.LedgerPayment) == 1 {
			break
		}
		if time.Since(paidAt) > creditLimit {
			t.Fatalf("with xray frozen, purchase not credited after %v: status %s, %d payment rows",
				creditLimit, got.Status, s.ledgerRows(ben, store.LedgerPayment))
		}
		time.Sleep(100 * time.Millisecond)
	}
	credited := time.Since(paidAt)
	t.Logf("credited %v after payment while xray is frozen", credited.Round(time.Millisecond))
	if n := s.keyMessages(ben); n != 0 {
		t.Fatalf("%d key messages while xray is frozen; the key cannot be in xray yet", n)
	}

	// Hold the freeze past a few capped Xray calls, then thaw.
	time.Sleep(10 * time.Second)
	if n := s.keyMessages(ben); n != 0 {
		t.Fatalf("%d key messages while xray is frozen", n)
	}
	thaw()
	thawedAt := time.Now()
	s.assertActive(ben, 30)
	t.Logf("key delivered %v after SIGCONT", time.Since(thawedAt).Round(time.Millisecond))
	if n := s.ledgerRows(ben, store.LedgerPayment); n != 1 {
		t.Fatalf("%d payment ledger rows, want 1", n)
	}
}
