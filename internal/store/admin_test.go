package store_test

import (
	"testing"

	"github.com/google/uuid"

	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

func TestBroadcastRecipientsPageOnceAndRecordFirstOutcome(t *testing.T) {
	e := newEnv(t)
	for id := int64(1); id <= 7; id++ {
		e.user(id, "")
	}
	if _, err := e.s.SetBanned(e.ctx, 3, true); err != nil {
		t.Fatal(err)
	}
	if err := e.s.SetBotBlocked(e.ctx, 4, true); err != nil {
		t.Fatal(err)
	}
	id := uuid.New()
	b, err := e.s.CreateBroadcast(e.ctx, id, 1, "hello <all>")
	if err != nil {
		t.Fatal(err)
	}
	if b.Total != 6 {
		t.Fatalf("total %d, want 6 (the banned user is no recipient)", b.Total)
	}
	again, err := e.s.CreateBroadcast(e.ctx, id, 1, "hello <all>")
	if err != nil || again.Total != 6 || !again.CreatedAt.Equal(b.CreatedAt) {
		t.Fatalf("second create: %+v, %v", again, err)
	}
	e.user(8, "") // joined after the broadcast: not a recipient

	var seen []int64
	after := int64(0)
	for {
		page, err := e.s.BroadcastRecipients(e.ctx, id, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if page.Text != "hello <all>" {
			t.Fatalf("text %q", page.Text)
		}
		if len(page.Recipients) == 0 {
			break
		}
		for _, r := range page.Recipients {
			seen = append(seen, r.UserID)
			if r.BotBlocked != (r.UserID == 4) || r.Delivered != "" {
				t.Errorf("recipient %+v", r)
			}
		}
		after = page.Recipients[len(page.Recipients)-1].UserID
	}
	if len(seen) != 6 || seen[0] != 1 || seen[2] != 4 || seen[5] != 7 {
		t.Fatalf("pages covered %v, want 1 2 4 5 6 7", seen)
	}

	got, err := e.s.RecordDelivery(e.ctx, id, 2, store.DeliverySent)
	if err != nil || got != store.DeliverySent {
		t.Fatalf("record: %q, %v", got, err)
	}
	got, err = e.s.RecordDelivery(e.ctx, id, 2, store.DeliveryFailed)
	if err != nil || got != store.DeliverySent {
		t.Fatalf("second record: %q, %v; want the first outcome kept", got, err)
	}
	page, err := e.s.BroadcastRecipients(e.ctx, id, 1, 1)
	if err != nil || page.Recipients[0].Delivered != store.DeliverySent {
		t.Fatalf("recipient after record: %+v, %v", page.Recipients, err)
	}
	counts, err := e.s.DeliveryCounts(e.ctx, id)
	if err != nil || counts[store.DeliverySent] != 1 || len(counts) != 1 {
		t.Fatalf("counts %v, %v", counts, err)
	}
	if err := e.s.FinishBroadcast(e.ctx, id, 5, 1, 0); err != nil {
		t.Fatal(err)
	}
	wantErr(t, e.s.FinishBroadcast(e.ctx, uuid.New(), 0, 0, 0), store.ErrNotFound)
	_, err = e.s.BroadcastRecipients(e.ctx, uuid.New(), 0, 10)
	wantErr(t, err, store.ErrNotFound)
}

func TestPromoDiscountWaitsForAPaidPurchase(t *testing.T) {
	e := newEnv(t)
	e.user(1, "")
	for _, p := range []store.Promo{
		{Code: "TEN", Kind: shop.PromoPercent, Value: 10, MaxUses: 5},
		{Code: "TWENTY", Kind: shop.PromoPercent, Value: 20, MaxUses: 5},
	} {
		if _, err := e.s.CreatePromo(e.ctx, p); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.RedeemPromo(e.ctx, p.Code, 1); err != nil {
			t.Fatal(err)
		}
		for range 2 { // saving twice is saving once
			if err := e.s.SavePromoDiscount(e.ctx, p.Code, 1, p.Value); err != nil {
				t.Fatal(err)
			}
		}
	}

	// The best discount goes first, and is the same on a retried apply.
	first := e.purchase(1, shop.KindSubscription, shop.ProviderCryptoPay, 270, 30)
	d, ok, err := e.s.ApplyPromoDiscount(e.ctx, 1, first.ID)
	if err != nil || !ok || d.Code != "TWENTY" || d.Percent != 20 {
		t.Fatalf("apply: %+v %v %v", d, ok, err)
	}
	if d2, ok, err := e.s.ApplyPromoDiscount(e.ctx, 1, first.ID); err != nil || !ok || d2 != d {
		t.Fatalf("apply again: %+v %v %v", d2, ok, err)
	}
	// While the first purchase is open, the next one gets the other code.
	second := uuid.New()
	if d, ok, err := e.s.ApplyPromoDiscount(e.ctx, 1, second); err != nil || !ok || d.Code != "TEN" {
		t.Fatalf("second apply: %+v %v %v", d, ok, err)
	}
	if err := e.s.ReleasePromoDiscount(e.ctx, second); err != nil {
		t.Fatal(err)
	}
	// An unpaid purchase gives its discount back.
	if _, err := e.s.ExpirePurchase(e.ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	third := e.purchase(1, shop.KindSubscription, shop.ProviderCryptoPay, 240, 30)
	if d, ok, err := e.s.ApplyPromoDiscount(e.ctx, 1, third.ID); err != nil || !ok || d.Code != "TWENTY" {
		t.Fatalf("apply after expiry: %+v %v %v", d, ok, err)
	}
	e.mustCredit(third.ID, 0)
	fourth := uuid.New()
	if d, ok, err := e.s.ApplyPromoDiscount(e.ctx, 1, fourth); err != nil || !ok || d.Code != "TEN" {
		t.Fatalf("apply after paid: %+v %v %v", d, ok, err)
	}
	if _, ok, err := e.s.ApplyPromoDiscount(e.ctx, 1, uuid.New()); err != nil || ok {
		t.Fatalf("a third discount appeared: %v %v", ok, err)
	}
	if d, ok, err := e.s.DiscountFor(e.ctx, third.ID); err != nil || !ok || d.Code != "TWENTY" {
		t.Fatalf("discount of the paid purchase: %+v %v %v", d, ok, err)
	}
	// Only a redeemed code can be saved as a discount.
	if err := e.s.SavePromoDiscount(e.ctx, "NOPE", 1, 5); err == nil {
		t.Fatal("saved a discount without a redemption")
	}
}

func TestDiscounted(t *testing.T) {
	for _, tc := range []struct {
		price   int64
		percent int
		want    int64
	}{
		{300, 0, 300}, {300, 20, 240}, {300, 33, 201}, {150, 15, 128}, {1, 50, 1}, {300, 100, 1}, {300, 250, 1}, {5, -3, 5},
	} {
		if got := store.Discounted(tc.price, tc.percent); got != tc.want {
			t.Errorf("Discounted(%d, %d) = %d, want %d", tc.price, tc.percent, got, tc.want)
		}
	}
}

func TestCreditRefundToBalanceOnce(t *testing.T) {
	e := newEnv(t)
	e.user(1, "")
	p := e.purchase(1, shop.KindSubscription, shop.ProviderCryptoPay, 300, 30)
	e.mustCredit(p.ID, 0)
	_, _, err := e.s.CreditRefundToBalance(e.ctx, p.ID)
	wantErr(t, err, store.ErrPurchaseNotPaid) // not refunded yet
	if _, err := e.s.RefundPurchase(e.ctx, store.RefundParams{PurchaseID: p.ID, Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	credited, balance, err := e.s.CreditRefundToBalance(e.ctx, p.ID)
	if err != nil || !credited || balance != 300 {
		t.Fatalf("credit: %v %d %v", credited, balance, err)
	}
	credited, balance, err = e.s.CreditRefundToBalance(e.ctx, p.ID)
	if err != nil || credited || balance != 300 {
		t.Fatalf("second credit: %v %d %v", credited, balance, err)
	}
	e.checkLedger(1)
	if n := e.count(`SELECT count(*) FROM ledger WHERE reference = $1 AND kind = 'refund'`, store.PurchaseRef(p.ID)); n != 1 {
		t.Fatalf("%d refund rows", n)
	}

	// A top-up's money already is the balance.
	top := e.purchase(1, shop.KindTopUp, shop.ProviderCryptoPay, 100, 0)
	e.mustCredit(top.ID, 0)
	if _, err := e.s.RefundPurchase(e.ctx, store.RefundParams{PurchaseID: top.ID}); err != nil {
		t.Fatal(err)
	}
	_, _, err = e.s.CreditRefundToBalance(e.ctx, top.ID)
	wantErr(t, err, store.ErrInvalid)
	e.checkLedger(1)
}

func TestAddTrafficBatchOnce(t *testing.T) {
	e := newEnv(t)
	e.user(1, "")
	e.mustCredit(e.purchase(1, shop.KindSubscription, shop.ProviderCryptoPay, 300, 30).ID, 0)
	sub, err := e.s.GetSubscription(e.ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	deltas := []store.TrafficDelta{
		{Email: sub.XrayEmail, Up: 100, Down: 1000},
		{Email: "stranger@elsewhere", Up: 5, Down: 5},
		{Email: "idle@vpnflow"},
	}
	for i, want := range []bool{true, false} {
		res, err := e.s.AddTrafficBatch(e.ctx, store.TrafficBatch{ID: "batch-1", Deltas: deltas})
		// A retry reports the subscriptions the first write changed.
		if err != nil || res.Applied != want || res.Updated != 1 {
			t.Fatalf("attempt %d: %+v, %v", i, res, err)
		}
	}
	if _, err := e.s.AddTrafficBatch(e.ctx, store.TrafficBatch{ID: "batch-2", Deltas: deltas[:1]}); err != nil {
		t.Fatal(err)
	}
	sub, err = e.s.GetSubscription(e.ctx, 1)
	if err != nil || sub.TrafficUp != 200 || sub.TrafficDown != 2000 {
		t.Fatalf("traffic %d/%d (%v), want 200/2000", sub.TrafficUp, sub.TrafficDown, err)
	}
	_, err = e.s.AddTrafficBatch(e.ctx, store.TrafficBatch{ID: "batch-3", Deltas: []store.TrafficDelta{{Email: sub.XrayEmail, Up: -1}}})
	wantErr(t, err, store.ErrInvalid)
	_, err = e.s.AddTrafficBatch(e.ctx, store.TrafficBatch{})
	wantErr(t, err, store.ErrInvalid)
}
