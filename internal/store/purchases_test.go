package store_test

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

func TestCreatePurchaseIsIdempotentOnID(t *testing.T) {
	e := newEnv(t)
	e.user(1, "")
	n := store.NewPurchase{ID: uuid.New(), UserID: 1, Kind: shop.KindSubscription, PlanID: "1m", Days: 30, Amount: 300, Currency: "USD", Provider: shop.ProviderCryptoPay}
	p1, err := e.s.CreatePurchase(e.ctx, n)
	if err != nil || p1.Status != shop.PurchasePending {
		t.Fatalf("create: %+v %v", p1, err)
	}
	p2, err := e.s.CreatePurchase(e.ctx, n)
	if err != nil || p2.CreatedAt != p1.CreatedAt {
		t.Fatalf("repeat: %+v %v", p2, err)
	}
	n.Amount = 1
	_, err = e.s.CreatePurchase(e.ctx, n)
	wantErr(t, err, store.ErrPurchaseConflict)

	for name, bad := range map[string]store.NewPurchase{
		"no id":               {UserID: 1, Kind: shop.KindTopUp, Amount: 1, Currency: "USD", Provider: shop.ProviderStars},
		"negative amount":     {ID: uuid.New(), UserID: 1, Kind: shop.KindTopUp, Amount: -5, Currency: "USD", Provider: shop.ProviderStars},
		"lower-case currency": {ID: uuid.New(), UserID: 1, Kind: shop.KindTopUp, Amount: 5, Currency: "usd", Provider: shop.ProviderStars},
		"no days":             {ID: uuid.New(), UserID: 1, Kind: shop.KindSubscription, Amount: 5, Currency: "USD", Provider: shop.ProviderStars},
		"unknown kind":        {ID: uuid.New(), UserID: 1, Kind: "gift", Amount: 5, Currency: "USD", Provider: shop.ProviderStars},
	} {
		if _, err := e.s.CreatePurchase(e.ctx, bad); err == nil {
			t.Errorf("%s: accepted", name)
		} else {
			wantErr(t, err, store.ErrInvalid)
		}
	}
	_, err = e.s.CreatePurchase(e.ctx, store.NewPurchase{ID: uuid.New(), UserID: 77, Kind: shop.KindTopUp, Amount: 5, Currency: "USD", Provider: shop.ProviderStars})
	wantErr(t, err, store.ErrNotFound)
}

func TestSetPurchaseInvoice(t *testing.T) {
	e := newEnv(t)
	e.user(1, "")
	p := e.purchase(1, shop.KindSubscription, shop.ProviderCryptoPay, 300, 30)
	exp := e.dbNow().Add(time.Hour)
	got, err := e.s.SetPurchaseInvoice(e.ctx, p.ID, "inv-1", "https://pay/1", exp)
	if err != nil || got.Status != shop.PurchaseInvoiced || got.ProviderInvoiceID != "inv-1" || got.PayURL != "https://pay/1" ||
		got.InvoiceExpiresAt == nil || !got.InvoiceExpiresAt.Equal(exp) {
		t.Fatalf("set invoice: %+v %v", got, err)
	}
	if _, err := e.s.SetPurchaseInvoice(e.ctx, p.ID, "inv-1", "https://pay/1", exp); err != nil {
		t.Errorf("repeat: %v", err)
	}
	stored, err := e.s.SetPurchaseInvoice(e.ctx, p.ID, "inv-2", "https://pay/2", exp)
	wantErr(t, err, store.ErrInvoiceMismatch)
	if stored.ProviderInvoiceID != "inv-1" {
		t.Errorf("mismatch returned invoice %q, want the stored inv-1", stored.ProviderInvoiceID)
	}
	byInv, err := e.s.PurchaseByInvoice(e.ctx, shop.ProviderCryptoPay, "inv-1")
	if err != nil || byInv.ID != p.ID {
		t.Errorf("by invoice: %v %v", byInv.ID, err)
	}
	_, err = e.s.PurchaseByInvoice(e.ctx, shop.ProviderStars, "inv-1")
	wantErr(t, err, store.ErrNotFound)

	// Another purchase cannot take the same invoice.
	q := e.purchase(1, shop.KindSubscription, shop.ProviderCryptoPay, 300, 30)
	_, err = e.s.SetPurchaseInvoice(e.ctx, q.ID, "inv-1", "", time.Time{})
	wantErr(t, err, store.ErrInvoiceMismatch)
	_, err = e.s.SetPurchaseInvoice(e.ctx, uuid.New(), "inv-3", "", time.Time{})
	wantErr(t, err, store.ErrNotFound)
}

func TestRecentPurchases(t *testing.T) {
	e := newEnv(t)
	e.user(1, "")
	e.user(2, "")
	for range 3 {
		e.purchase(1, shop.KindTopUp, shop.ProviderCryptoPay, 100, 0)
	}
	e.purchase(2, shop.KindTopUp, shop.ProviderCryptoPay, 100, 0)
	ps, err := e.s.RecentPurchases(e.ctx, 1, 2)
	if err != nil || len(ps) != 2 || ps[0].UserID != 1 || ps[0].CreatedAt.Before(ps[1].CreatedAt) {
		t.Errorf("recent = %d rows, %v", len(ps), err)
	}
	_, err = e.s.RecentPurchases(e.ctx, 1, 0)
	wantErr(t, err, store.ErrInvalid)
}

func TestStats(t *testing.T) {
	e := newEnv(t)
	for id := int64(1); id <= 4; id++ {
		e.user(id, "")
	}
	if err := e.s.SetBotBlocked(e.ctx, 4, true); err != nil {
		t.Fatal(err)
	}
	e.mustCredit(e.purchase(1, shop.KindSubscription, shop.ProviderCryptoPay, 300, 30).ID, 0)
	stars := e.purchase(2, shop.KindSubscription, shop.ProviderStars, 150, 30)
	e.mustCredit(stars.ID, 0)
	xtr, err := e.s.CreatePurchase(e.ctx, store.NewPurchase{ID: uuid.New(), UserID: 2, Kind: shop.KindSubscription, PlanID: "1m", Days: 30, Amount: 150, Currency: "XTR", Provider: shop.ProviderStars})
	if err != nil {
		t.Fatal(err)
	}
	e.mustCredit(xtr.ID, 0)
	refunded := e.purchase(3, shop.KindTopUp, shop.ProviderCryptoPay, 1000, 0)
	e.mustCredit(refunded.ID, 0)
	if _, err := e.s.RefundPurchase(e.ctx, store.RefundParams{PurchaseID: refunded.ID}); err != nil {
		t.Fatal(err)
	}
	e.topup(3, 500)
	e.mustCredit(e.purchase(3, shop.KindSubscription, shop.ProviderBalance, 300, 30).ID, 0) // not new money
	if _, err := e.s.StartTrial(e.ctx, 4, time.Hour, domain); err != nil {
		t.Fatal(err)
	}
	// An old payment counts for 30 days but not today.
	old := e.purchase(1, shop.KindTopUp, shop.ProviderCryptoPay, 7, 0)
	if _, err := e.s.CreditPurchase(e.ctx, store.CreditParams{PurchaseID: old.ID, Now: e.dbNow().AddDate(0, 0, -2)}); err != nil {
		t.Fatal(err)
	}

	st, err := e.s.Stats(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Users != 4 || st.BotBlocked != 1 || st.Active != 3 || st.Trials != 1 {
		t.Errorf("counts = %+v", st)
	}
	want := []store.Revenue{{Currency: "USD", Today: 300 + 150 + 500, Last30Days: 300 + 150 + 500 + 7}, {Currency: "XTR", Today: 150, Last30Days: 150}}
	if len(st.Revenue) != len(want) {
		t.Fatalf("revenue = %+v, want %+v", st.Revenue, want)
	}
	for i := range want {
		if st.Revenue[i] != want[i] {
			t.Errorf("revenue[%d] = %+v, want %+v", i, st.Revenue[i], want[i])
		}
	}
}
