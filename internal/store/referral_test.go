package store_test

import (
	"testing"

	"github.com/google/uuid"

	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

var tenPercent = store.ReferralTerms{Percent: 10, Cap: 100, Currency: "USD"}

func (e *env) creditWith(id uuid.UUID, terms store.ReferralTerms) store.CreditResult {
	e.t.Helper()
	r, err := e.s.CreditPurchase(e.ctx, store.CreditParams{PurchaseID: id, EmailDomain: domain, Referral: terms})
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// The bonus is a share of what the referred user actually paid, capped:
// a plan bought with a 90% promo earns a tenth of the discounted price,
// never more than the purchase brought in.
func TestReferralBonusIsShareOfAmountPaid(t *testing.T) {
	e := newEnv(t)
	a := e.user(1, "")
	for i, tc := range []struct {
		amount, want int64
	}{
		{300, 30},   // 10% of 3.00
		{30, 3},     // a 90% promo on 3.00
		{5, 0},      // 10% rounds down to nothing
		{2800, 100}, // capped at 1.00
	} {
		id := int64(10 + i)
		e.user(id, a.RefCode)
		r := e.creditWith(e.purchase(id, shop.KindSubscription, shop.ProviderCryptoPay, tc.amount, 30).ID, tenPercent)
		if r.ReferralBonus != tc.want || r.ReferralBonusPaid != (tc.want > 0) {
			t.Errorf("paid %d: bonus %d (paid=%t), want %d", tc.amount, r.ReferralBonus, r.ReferralBonusPaid, tc.want)
		}
		if r.ReferralBonus > tc.amount {
			t.Errorf("paid %d, referrer earned %d", tc.amount, r.ReferralBonus)
		}
	}
	if b := e.balance(1); b != 30+3+100 {
		t.Errorf("referrer balance %d, want 133", b)
	}
	e.checkLedger(1)
}

// A Stars purchase earns on its value in the balance's currency, which
// the caller's Value gives; without one it earns nothing.
func TestReferralBonusOfStarsPurchase(t *testing.T) {
	e := newEnv(t)
	a := e.user(1, "")
	stars := func(uid int64, amount int64) uuid.UUID {
		p, err := e.s.CreatePurchase(e.ctx, store.NewPurchase{ID: uuid.New(), UserID: uid, Kind: shop.KindSubscription,
			PlanID: "1m", Days: 30, Amount: amount, Currency: "XTR", Provider: shop.ProviderStars})
		if err != nil {
			t.Fatal(err)
		}
		return p.ID
	}
	e.user(2, a.RefCode)
	if r := e.creditWith(stars(2, 150), tenPercent); r.ReferralBonusPaid {
		t.Errorf("Stars purchase without a conversion paid a bonus: %+v", r)
	}
	e.user(3, a.RefCode)
	terms := tenPercent
	terms.Value = func(p store.Purchase) (int64, bool) { return 300 * p.Amount / 150, p.Currency == "XTR" } // 150 XTR = 3.00
	if r := e.creditWith(stars(3, 150), terms); r.ReferralBonus != 30 {
		t.Errorf("Stars purchase: bonus %d, want 30", r.ReferralBonus)
	}
}

// Refunding the purchase that earned a bonus takes the bonus back in a
// ledger row of its own, once.
func TestReferralBonusReversedOnRefund(t *testing.T) {
	e := newEnv(t)
	a := e.user(1, "")
	e.user(2, a.RefCode)
	p := e.purchase(2, shop.KindSubscription, shop.ProviderCryptoPay, 300, 30)
	e.creditWith(p.ID, tenPercent)

	r, err := e.s.RefundPurchase(e.ctx, store.RefundParams{PurchaseID: p.ID, Reason: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Referral != (store.ReferralReversal{ReferrerID: 1, Bonus: 30, Reversed: 30}) {
		t.Errorf("reversal = %+v", r.Referral)
	}
	if b := e.balance(1); b != 0 {
		t.Errorf("referrer balance %d after the refund, want 0", b)
	}
	again, err := e.s.RefundPurchase(e.ctx, store.RefundParams{PurchaseID: p.ID, Reason: "test"})
	if err != nil || again.Referral != r.Referral {
		t.Fatalf("repeated refund reports reversal %+v (%v), want the stored %+v", again.Referral, err, r.Referral)
	}
	if n := e.count(`SELECT count(*) FROM ledger WHERE kind = 'referral_reversal' AND reference = 'referred:2' AND amount = -30`); n != 1 {
		t.Errorf("%d reversal rows, want 1", n)
	}
	e.checkLedger(1)

	// The next plan of the same friend earns nothing: the bonus was once.
	if r := e.creditWith(e.purchase(2, shop.KindSubscription, shop.ProviderCryptoPay, 300, 30).ID, tenPercent); r.ReferralBonusPaid {
		t.Errorf("plan after a refunded first plan paid a bonus: %+v", r)
	}
	// A refund of a purchase that earned nothing reverses nothing.
	other := e.purchase(2, shop.KindSubscription, shop.ProviderCryptoPay, 300, 30)
	e.creditWith(other.ID, tenPercent)
	if r, err := e.s.RefundPurchase(e.ctx, store.RefundParams{PurchaseID: other.ID}); err != nil || r.Referral != (store.ReferralReversal{}) {
		t.Errorf("refund of a non-earning purchase: %+v, %v", r.Referral, err)
	}
}

// A referrer who spent the bonus loses what is left; the rest is recorded
// as a shortfall and the balance never goes below zero.
func TestReferralReversalShortfall(t *testing.T) {
	e := newEnv(t)
	a := e.user(1, "")
	e.user(2, a.RefCode)
	p := e.purchase(2, shop.KindSubscription, shop.ProviderCryptoPay, 300, 30)
	e.creditWith(p.ID, tenPercent)
	// The referrer spends 20 of the 30 on a plan paid from the balance.
	e.exec(`UPDATE users SET balance = balance - 20 WHERE telegram_id = 1`)
	e.exec(`INSERT INTO ledger (user_id, amount, currency, kind, reference) VALUES (1, -20, 'USD', 'balance_debit', 'test')`)

	r, err := e.s.RefundPurchase(e.ctx, store.RefundParams{PurchaseID: p.ID, Reason: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Referral != (store.ReferralReversal{ReferrerID: 1, Bonus: 30, Reversed: 10, Shortfall: 20}) {
		t.Errorf("reversal = %+v", r.Referral)
	}
	if again, err := e.s.RefundPurchase(e.ctx, store.RefundParams{PurchaseID: p.ID}); err != nil || again.Referral != r.Referral {
		t.Errorf("repeat reports %+v, %v", again.Referral, err)
	}
	if b := e.balance(1); b != 0 {
		t.Errorf("referrer balance %d, want 0", b)
	}
	if n := e.count(`SELECT count(*) FROM audit_log WHERE user_id = 1 AND event = 'referral_reversed'
		AND (details->>'shortfall')::bigint = 20`); n != 1 {
		t.Errorf("%d shortfall audit rows, want 1", n)
	}
	e.checkLedger(1)
}
