package store_test

import (
	"testing"

	"github.com/google/uuid"

	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

// A purchase that failed before payment is recorded as failed with its
// reason, and the percent promo it carried goes to the next purchase.
func TestFailPurchaseRecordsReasonAndRestoresPromo(t *testing.T) {
	e := newEnv(t)
	e.user(1, "")
	if _, err := e.s.CreatePromo(e.ctx, store.Promo{Code: "HALF", Kind: shop.PromoPercent, Value: 50, MaxUses: 10}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.RedeemPromo(e.ctx, "HALF", 1); err != nil {
		t.Fatal(err)
	}
	if err := e.s.SavePromoDiscount(e.ctx, "HALF", 1, 50); err != nil {
		t.Fatal(err)
	}

	// The bot attaches the discount, then the purchase is recorded.
	first := uuid.New()
	if d, ok, err := e.s.ApplyPromoDiscount(e.ctx, 1, first); err != nil || !ok || d.Code != "HALF" {
		t.Fatalf("apply = %v, %v, %v", d, ok, err)
	}
	if _, err := e.s.CreatePurchase(e.ctx, store.NewPurchase{ID: first, UserID: 1, Kind: shop.KindSubscription,
		PlanID: "1m", Days: 30, Amount: 150, Currency: "USD", Provider: shop.ProviderCryptoPay}); err != nil {
		t.Fatal(err)
	}
	// While it is open, the discount is taken.
	if _, ok, err := e.s.ApplyPromoDiscount(e.ctx, 1, uuid.New()); err != nil || ok {
		t.Fatalf("discount of an open purchase was given again: %v, %v", ok, err)
	}

	changed, err := e.s.FailPurchase(e.ctx, first, "create invoice: refused")
	if err != nil || !changed {
		t.Fatalf("fail = %v, %v", changed, err)
	}
	// A retry changes nothing and succeeds.
	if changed, err := e.s.FailPurchase(e.ctx, first, "create invoice: refused"); err != nil || changed {
		t.Fatalf("second fail = %v, %v", changed, err)
	}
	p, err := e.s.GetPurchase(e.ctx, first)
	if err != nil || p.Status != shop.PurchaseFailed || p.FailureReason != "create invoice: refused" {
		t.Fatalf("failed purchase = %+v, %v", p, err)
	}

	second := uuid.New()
	if d, ok, err := e.s.ApplyPromoDiscount(e.ctx, 1, second); err != nil || !ok || d.Code != "HALF" {
		t.Fatalf("the failed purchase's promo was not restored: %v, %v, %v", d, ok, err)
	}
}

// FailPurchase never fails a purchase that has been paid, and a purchase
// that does not exist is ErrNotFound.
func TestFailPurchaseLeavesPaidAlone(t *testing.T) {
	e := newEnv(t)
	e.user(1, "")
	p := e.purchase(1, shop.KindSubscription, shop.ProviderCryptoPay, 300, 30)
	e.mustCredit(p.ID, 0)
	changed, err := e.s.FailPurchase(e.ctx, p.ID, "deliver extension: refused")
	if err != nil || changed {
		t.Fatalf("fail of a paid purchase = %v, %v", changed, err)
	}
	if got, _ := e.s.GetPurchase(e.ctx, p.ID); got.Status != shop.PurchasePaid || got.FailureReason != "" {
		t.Errorf("paid purchase became %+v", got)
	}
	_, err = e.s.FailPurchase(e.ctx, uuid.New(), "x")
	wantErr(t, err, store.ErrNotFound)
	_, err = e.s.FailPurchase(e.ctx, p.ID, " ")
	wantErr(t, err, store.ErrInvalid)
}
