package store_test

import (
	"sync"
	"testing"

	"github.com/google/uuid"

	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

func TestCreditPurchaseConcurrentOnce(t *testing.T) {
	e := newEnv(t)
	referrer := e.user(1, "")
	e.user(2, referrer.RefCode)
	p := e.purchase(2, shop.KindSubscription, shop.ProviderCryptoPay, 300, 30)

	const n = 10
	var (
		wg      sync.WaitGroup
		results [n]store.CreditResult
		errs    [n]error
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = e.credit(p.ID, 100)
		}()
	}
	wg.Wait()
	fresh := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("credit %d: %v", i, errs[i])
		}
		if !results[i].AlreadyCredited {
			fresh++
		}
		if !results[i].ExpiresAt.Equal(results[0].ExpiresAt) || !results[i].ReferralBonusPaid || results[i].ReferrerID != 1 {
			t.Errorf("credit %d disagrees: %+v vs %+v", i, results[i], results[0])
		}
	}
	if fresh != 1 {
		t.Fatalf("%d credits applied, want 1", fresh)
	}
	got, err := e.s.GetPurchase(e.ctx, p.ID)
	if err != nil || got.Status != shop.PurchasePaid || got.PaidAt == nil {
		t.Fatalf("purchase = %+v, %v", got, err)
	}
	if want := got.PaidAt.AddDate(0, 0, 30); !results[0].ExpiresAt.Equal(want) {
		t.Errorf("expires %v, want paid_at + 30 days = %v", results[0].ExpiresAt, want)
	}
	if n := e.count(`SELECT count(*) FROM ledger WHERE reference = $1`, store.PurchaseRef(p.ID)); n != 1 {
		t.Errorf("%d ledger rows for the purchase, want 1", n)
	}
	if n := e.count(`SELECT count(*) FROM ledger WHERE kind = 'referral_bonus'`); n != 1 {
		t.Errorf("%d referral bonus rows, want 1", n)
	}
	if b := e.balance(1); b != 100 {
		t.Errorf("referrer balance %d, want 100", b)
	}
	if n := e.count(`SELECT count(*) FROM audit_log WHERE user_id = 2 AND event = 'subscription_created'`); n != 1 {
		t.Errorf("%d creation audit rows, want 1", n)
	}
	sub, err := e.s.GetSubscription(e.ctx, 2)
	if err != nil || sub.Status != shop.StatusActive || sub.XrayEmail != "tg2@vpnflow" || sub.PlanID != "1m" || sub.IsTrial {
		t.Errorf("subscription = %v, %v", sub, err)
	}
	e.checkLedger(1)
	e.checkLedger(2)
}

func TestBalancePurchaseWithShortBalanceChangesNothing(t *testing.T) {
	e := newEnv(t)
	e.user(1, "")
	e.topup(1, 50)
	p := e.purchase(1, shop.KindSubscription, shop.ProviderBalance, 100, 30)

	_, err := e.credit(p.ID, 0)
	wantErr(t, err, store.ErrInsufficientBalance)
	if got, _ := e.s.GetPurchase(e.ctx, p.ID); got.Status != shop.PurchasePending {
		t.Errorf("purchase status %s after failed credit, want pending", got.Status)
	}
	if b := e.balance(1); b != 50 {
		t.Errorf("balance %d, want 50", b)
	}
	if n := e.count(`SELECT count(*) FROM ledger WHERE reference = $1`, store.PurchaseRef(p.ID)); n != 0 {
		t.Errorf("%d ledger rows written", n)
	}
	_, err = e.s.GetSubscription(e.ctx, 1)
	wantErr(t, err, store.ErrNotFound)

	e.topup(1, 60)
	r := e.mustCredit(p.ID, 0)
	if r.Balance != 10 || !r.SubscriptionCreated {
		t.Errorf("after top-up: %+v", r)
	}
	e.checkLedger(1)
}

func TestExtensionCountsFromLaterOfNowAndExpiry(t *testing.T) {
	e := newEnv(t)
	e.user(1, "")
	now := e.dbNow()

	// Paid 40 days ago for 30 days: expired 10 days ago.
	p1 := e.purchase(1, shop.KindSubscription, shop.ProviderCryptoPay, 300, 30)
	r1, err := e.s.CreditPurchase(e.ctx, store.CreditParams{PurchaseID: p1.ID, EmailDomain: domain, Now: now.AddDate(0, 0, -40)})
	if err != nil {
		t.Fatal(err)
	}
	if !r1.ExpiresAt.Equal(now.AddDate(0, 0, -10)) {
		t.Fatalf("expires %v, want %v", r1.ExpiresAt, now.AddDate(0, 0, -10))
	}
	if changed, err := e.s.ExpireSubscription(e.ctx, 1, e.dbNow()); err != nil || !changed {
		t.Fatalf("expire: %t %v", changed, err)
	}

	// Renewal after expiry counts from now, not from the old expiry.
	before := e.dbNow()
	r2 := e.mustCredit(e.purchase(1, shop.KindSubscription, shop.ProviderCryptoPay, 300, 30).ID, 0)
	after := e.dbNow()
	if r2.ExpiresAt.Before(before.AddDate(0, 0, 30)) || r2.ExpiresAt.After(after.AddDate(0, 0, 30)) {
		t.Errorf("renewal after expiry: expires %v, want now + 30 days", r2.ExpiresAt)
	}
	if r2.PreviousStatus != shop.StatusExpired || r2.SubscriptionStatus != shop.StatusActive {
		t.Errorf("status %s -> %s, want expired -> active", r2.PreviousStatus, r2.SubscriptionStatus)
	}

	// Renewal before expiry counts from the expiry.
	r3 := e.mustCredit(e.purchase(1, shop.KindSubscription, shop.ProviderCryptoPay, 800, 90).ID, 0)
	if want := r2.ExpiresAt.AddDate(0, 0, 90); !r3.ExpiresAt.Equal(want) {
		t.Errorf("early renewal: expires %v, want %v", r3.ExpiresAt, want)
	}
	// The expiry workflow's late check must not expire a renewed key.
	if changed, err := e.s.ExpireSubscription(e.ctx, 1, e.dbNow()); err != nil || changed {
		t.Errorf("expire after renewal: changed=%t err=%v", changed, err)
	}
}

func TestExpiredPurchaseStillCredits(t *testing.T) {
	e := newEnv(t)
	e.user(1, "")
	p := e.purchase(1, shop.KindSubscription, shop.ProviderStars, 150, 30)
	if changed, err := e.s.ExpirePurchase(e.ctx, p.ID); err != nil || !changed {
		t.Fatalf("expire: %t %v", changed, err)
	}
	if changed, _ := e.s.ExpirePurchase(e.ctx, p.ID); changed {
		t.Error("expiring twice reported a change")
	}
	r, err := e.s.CreditPurchase(e.ctx, store.CreditParams{PurchaseID: p.ID, ChargeID: "charge-1", EmailDomain: domain})
	if err != nil || r.AlreadyCredited {
		t.Fatalf("credit of expired purchase: %+v %v", r, err)
	}
	got, _ := e.s.GetPurchase(e.ctx, p.ID)
	if got.Status != shop.PurchasePaid || got.ProviderChargeID != "charge-1" {
		t.Errorf("purchase = %+v", got)
	}
	// A paid purchase cannot expire any more.
	if changed, _ := e.s.ExpirePurchase(e.ctx, p.ID); changed {
		t.Error("paid purchase expired")
	}
	// The same provider charge cannot pay for a second purchase.
	p2 := e.purchase(1, shop.KindSubscription, shop.ProviderStars, 150, 30)
	_, err = e.s.CreditPurchase(e.ctx, store.CreditParams{PurchaseID: p2.ID, ChargeID: "charge-1", EmailDomain: domain})
	wantErr(t, err, store.ErrDuplicateCharge)

	// A failed provider purchase that gets paid after all (an invoice sent
	// although its send timed out) is credited: money taken is credited.
	if changed, err := e.s.FailPurchase(e.ctx, p2.ID, "send stars invoice: timeout"); err != nil || !changed {
		t.Fatalf("fail: %t %v", changed, err)
	}
	if r, err := e.s.CreditPurchase(e.ctx, store.CreditParams{PurchaseID: p2.ID, ChargeID: "charge-2", EmailDomain: domain}); err != nil || r.AlreadyCredited {
		t.Fatalf("credit of a failed purchase that was paid: %+v %v", r, err)
	}
	// A failed balance purchase stays closed: no payment can arrive for it.
	e.topup(1, 1000)
	p3 := e.purchase(1, shop.KindSubscription, shop.ProviderBalance, 300, 30)
	if _, err := e.s.FailPurchase(e.ctx, p3.ID, "insufficient balance"); err != nil {
		t.Fatal(err)
	}
	_, err = e.credit(p3.ID, 0)
	wantErr(t, err, store.ErrPurchaseClosed)
	_, err = e.credit(uuid.New(), 0)
	wantErr(t, err, store.ErrNotFound)
}

func TestReferralBonusOnlyOnFirstPaidPlan(t *testing.T) {
	e := newEnv(t)
	a := e.user(1, "")

	// B: bonus on the first plan, not the second.
	e.user(2, a.RefCode)
	if r := e.mustCredit(e.purchase(2, shop.KindSubscription, shop.ProviderCryptoPay, 300, 30).ID, 100); !r.ReferralBonusPaid || r.ReferralBonus != 100 {
		t.Errorf("first payment: %+v", r)
	}
	if r := e.mustCredit(e.purchase(2, shop.KindSubscription, shop.ProviderCryptoPay, 300, 30).ID, 100); r.ReferralBonusPaid {
		t.Errorf("second payment paid a bonus: %+v", r)
	}

	// C: the first plan was bought with bonuses off; later ones pay none.
	e.user(3, a.RefCode)
	e.mustCredit(e.purchase(3, shop.KindSubscription, shop.ProviderCryptoPay, 300, 30).ID, 0)
	if r := e.mustCredit(e.purchase(3, shop.KindSubscription, shop.ProviderStars, 150, 30).ID, 100); r.ReferralBonusPaid {
		t.Errorf("not-first payment paid a bonus: %+v", r)
	}

	// D: a top-up earns nothing; the plan bought with the topped-up
	// balance is the first paid plan and earns.
	e.user(4, a.RefCode)
	if r := e.mustCredit(e.purchase(4, shop.KindTopUp, shop.ProviderCryptoPay, 1000, 0).ID, 100); r.ReferralBonusPaid || r.Balance != 1000 {
		t.Errorf("top-up: %+v", r)
	}
	if r := e.mustCredit(e.purchase(4, shop.KindSubscription, shop.ProviderBalance, 300, 30).ID, 100); !r.ReferralBonusPaid || r.ReferralBonus != 100 {
		t.Errorf("plan paid from the balance: %+v", r)
	}

	if b := e.balance(1); b != 200 {
		t.Errorf("referrer balance %d, want 2 bonuses = 200", b)
	}
	e.checkLedger(1)
	e.checkLedger(4)
}

func TestCreditWithoutNodeCannotCreateSubscription(t *testing.T) {
	e := newEnv(t)
	e.user(1, "")
	p := e.purchase(1, shop.KindSubscription, shop.ProviderCryptoPay, 300, 30)
	_, err := e.s.CreditPurchase(e.ctx, store.CreditParams{PurchaseID: p.ID})
	wantErr(t, err, store.ErrInvalid)
	if got, _ := e.s.GetPurchase(e.ctx, p.ID); got.Status != shop.PurchasePending {
		t.Errorf("status %s after a refused credit", got.Status)
	}
	_, err = e.s.CreditPurchase(e.ctx, store.CreditParams{PurchaseID: p.ID, Referral: store.ReferralTerms{Percent: 10, Cap: 10}})
	wantErr(t, err, store.ErrInvalid)
	_, err = e.s.CreditPurchase(e.ctx, store.CreditParams{PurchaseID: p.ID, Referral: store.ReferralTerms{Percent: 101, Cap: 10, Currency: "USD"}})
	wantErr(t, err, store.ErrInvalid)
}

func TestRefundPurchase(t *testing.T) {
	e := newEnv(t)
	e.user(1, "")
	paid := e.purchase(1, shop.KindSubscription, shop.ProviderCryptoPay, 300, 30)
	e.mustCredit(paid.ID, 0)

	r, err := e.s.RefundPurchase(e.ctx, store.RefundParams{PurchaseID: paid.ID, Reason: "support"})
	if err != nil || r.AlreadyRefunded || r.Purchase.Status != shop.PurchaseRefunded || r.Purchase.Days != 30 {
		t.Fatalf("refund: %+v %v", r, err)
	}
	if r, err := e.s.RefundPurchase(e.ctx, store.RefundParams{PurchaseID: paid.ID}); err != nil || !r.AlreadyRefunded {
		t.Errorf("second refund: %+v %v", r, err)
	}
	if n := e.count(`SELECT count(*) FROM ledger WHERE kind = 'refund' AND reference = $1 AND amount = -300`, store.PurchaseRef(paid.ID)); n != 1 {
		t.Errorf("%d refund rows, want 1", n)
	}
	_, err = e.credit(paid.ID, 0)
	wantErr(t, err, store.ErrPurchaseClosed)

	// From the balance: the money goes back to it.
	e.topup(1, 500)
	fromBalance := e.purchase(1, shop.KindSubscription, shop.ProviderBalance, 300, 30)
	e.mustCredit(fromBalance.ID, 0)
	if r, err := e.s.RefundPurchase(e.ctx, store.RefundParams{PurchaseID: fromBalance.ID}); err != nil || r.Balance != 500 {
		t.Errorf("balance refund: %+v %v", r, err)
	}

	// A top-up already spent cannot be taken back.
	topup := e.purchase(1, shop.KindTopUp, shop.ProviderCryptoPay, 200, 0)
	e.mustCredit(topup.ID, 0)
	e.mustCredit(e.purchase(1, shop.KindSubscription, shop.ProviderBalance, 600, 30).ID, 0)
	_, err = e.s.RefundPurchase(e.ctx, store.RefundParams{PurchaseID: topup.ID})
	wantErr(t, err, store.ErrInsufficientBalance)
	if got, _ := e.s.GetPurchase(e.ctx, topup.ID); got.Status != shop.PurchasePaid {
		t.Errorf("failed refund left status %s", got.Status)
	}

	_, err = e.s.RefundPurchase(e.ctx, store.RefundParams{PurchaseID: e.purchase(1, shop.KindTopUp, shop.ProviderStars, 5, 0).ID})
	wantErr(t, err, store.ErrPurchaseNotPaid)
	e.checkLedger(1)
}

func TestCreditResultOfTopupWithSubscription(t *testing.T) {
	e := newEnv(t)
	e.user(1, "")
	sub := e.mustCredit(e.purchase(1, shop.KindSubscription, shop.ProviderCryptoPay, 300, 30).ID, 0)
	r := e.mustCredit(e.purchase(1, shop.KindTopUp, shop.ProviderCryptoPay, 250, 0).ID, 0)
	if r.Balance != 250 || !r.ExpiresAt.Equal(sub.ExpiresAt) || r.Kind != shop.KindTopUp {
		t.Errorf("top-up result %+v", r)
	}
}
