package store_test

import (
	"testing"

	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

// A refund repeated by the request that made it (a retry after its commit)
// is that request's success; any other request finds it already refunded.
func TestRefundRepeatedBySameRequest(t *testing.T) {
	e := newEnv(t)
	e.user(1, "")
	p := e.purchase(1, shop.KindSubscription, shop.ProviderCryptoPay, 300, 30)
	e.mustCredit(p.ID, 0)
	for i, tc := range []struct {
		request string
		already bool
	}{{"refund/a", false}, {"refund/a", false}, {"refund/b", true}, {"", true}} {
		r, err := e.s.RefundPurchase(e.ctx, store.RefundParams{PurchaseID: p.ID, Reason: "test", Request: tc.request})
		if err != nil || r.AlreadyRefunded != tc.already {
			t.Fatalf("refund %d by %q: already=%v, %v; want already=%v", i, tc.request, r.AlreadyRefunded, err, tc.already)
		}
	}
	if n := e.count(`SELECT count(*) FROM ledger WHERE kind = 'refund'`); n != 1 {
		t.Errorf("%d refund ledger rows, want 1", n)
	}
}

func TestRedeemPromoRepeatedBySameRequest(t *testing.T) {
	e := newEnv(t)
	e.user(1, "")
	if _, err := e.s.CreatePromo(e.ctx, store.Promo{Code: "SPRING", Kind: shop.PromoDays, Value: 7, MaxUses: 5}); err != nil {
		t.Fatal(err)
	}
	for i, req := range []string{"promo/a", "promo/a"} {
		p, err := e.s.RedeemPromoFor(e.ctx, "spring", 1, req)
		if err != nil || p.Used != 1 {
			t.Fatalf("redeem %d: used=%d, %v", i, p.Used, err)
		}
	}
	_, err := e.s.RedeemPromoFor(e.ctx, "SPRING", 1, "promo/b")
	wantErr(t, err, store.ErrPromoAlreadyRedeemed)
	_, err = e.s.RedeemPromo(e.ctx, "SPRING", 1)
	wantErr(t, err, store.ErrPromoAlreadyRedeemed)
}
