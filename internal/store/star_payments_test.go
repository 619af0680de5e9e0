package store_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

// Every star_payments operation gives the same result when repeated after
// its commit, and the sweep's view follows the purchases.
func TestStarPaymentsRepeatable(t *testing.T) {
	e := newEnv(t)
	e.user(1, "r1")
	paid := e.purchase(1, shop.KindSubscription, shop.ProviderStars, 150, 30)
	open := e.purchase(1, shop.KindSubscription, shop.ProviderStars, 150, 30)
	past := time.Now().Add(-time.Hour)

	for i := range 2 {
		ins, err := e.s.RecordStarPayment(e.ctx, store.StarPayment{ChargeID: "ch_paid", UserID: 1, PurchaseID: &paid.ID, Amount: 150, Source: store.StarSourceBot, ReceivedAt: past})
		if err != nil || ins != (i == 0) {
			t.Fatalf("record #%d: inserted %v, %v", i, ins, err)
		}
	}
	if _, err := e.s.CreditPurchase(e.ctx, store.CreditParams{PurchaseID: paid.ID, ChargeID: "ch_paid", EmailDomain: domain}); err != nil {
		t.Fatal(err)
	}

	// Telegram's list: the charge that paid (known), one for the open
	// purchase (unknown) and one naming nothing.
	page := []store.StarPayment{
		{ChargeID: "ch_paid", UserID: 1, PurchaseID: &paid.ID, Amount: 150, ReceivedAt: past},
		{ChargeID: "ch_open", UserID: 1, PurchaseID: &open.ID, Amount: 150, ReceivedAt: past},
		{ChargeID: "ch_none", UserID: 1, Amount: 5, ReceivedAt: past},
	}
	added, err := e.s.RecordStarTransactions(e.ctx, "stars", 0, 4, page)
	if err != nil || len(added) != 2 {
		t.Fatalf("first page: added %v, %v; want ch_open and ch_none", added, err)
	}
	if added, err := e.s.RecordStarTransactions(e.ctx, "stars", 0, 4, page); err != nil || len(added) != 0 {
		t.Fatalf("page again: added %v, %v; want nothing", added, err)
	}
	if pos, err := e.s.StarCursor(e.ctx, "stars"); err != nil || pos != 4 {
		t.Fatalf("cursor %d, %v; want 4", pos, err)
	}

	for range 2 {
		left, err := e.s.UnhandledStarPayments(e.ctx, time.Minute, 10)
		if err != nil || len(left) != 2 || left[0].ChargeID == "ch_paid" || left[1].ChargeID == "ch_paid" {
			t.Fatalf("unhandled %+v, %v; want ch_open and ch_none", left, err)
		}
	}
	if sp, err := e.s.GetStarPayment(e.ctx, "ch_paid"); err != nil || sp.Outcome == nil || *sp.Outcome != store.StarCredited {
		t.Fatalf("paid charge %+v, %v; want credited", sp, err)
	}

	refund := store.StarRefund{StarPayment: store.StarPayment{ChargeID: "ch_none", UserID: 1, Amount: 5}}
	for range 2 {
		if err := e.s.RecordStarRefund(e.ctx, refund); err != nil {
			t.Fatal(err)
		}
	}
	var rows int
	if err := e.pool.QueryRow(e.ctx, `SELECT count(*) FROM ledger WHERE reference = $1`, store.StarsChargeRef("ch_none")).Scan(&rows); err != nil || rows != 2 {
		t.Fatalf("%d ledger rows for the refund, %v; want 2", rows, err)
	}
	if left, err := e.s.UnhandledStarPayments(e.ctx, time.Minute, 10); err != nil || len(left) != 1 || left[0].ChargeID != "ch_open" {
		t.Fatalf("unhandled after the refund %+v, %v", left, err)
	}

	for range 2 {
		ids, err := e.s.UncreditedPurchases(e.ctx, []uuid.UUID{paid.ID, open.ID, uuid.Nil})
		if err != nil || len(ids) != 2 {
			t.Fatalf("uncredited %v, %v; want the open one and the unknown one", ids, err)
		}
	}
	// A reported payment is not handed over again.
	for range 2 {
		if err := e.s.RecordPaymentReport(e.ctx, store.PaymentReport{Provider: "cryptopay", Reference: "77", PurchaseID: &open.ID, Reason: "closed_purchase"}); err != nil {
			t.Fatal(err)
		}
	}
	if ids, err := e.s.UncreditedPurchases(e.ctx, []uuid.UUID{paid.ID, open.ID, uuid.Nil}); err != nil || len(ids) != 1 || ids[0] != uuid.Nil {
		t.Fatalf("uncredited after the report %v, %v; want only the unknown one", ids, err)
	}
}
