package activities

import (
	"testing"
	"time"

	"vpnflow/internal/shop"
)

// The renewal's offer names the purchase id derived from the period and
// the plan as configured; its outcome is what the database holds.
func TestRenewalOfferAndOutcome(t *testing.T) {
	e := newDBEnv(t)
	e.paidUser(1) // 1000 of balance, a 1m plan paid by Crypto Pay
	sub, err := e.s.GetSubscription(e.ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	v, err := e.run(e.a.RenewalOffer, RenewalOfferInput{UserID: 1, PlanID: "1m", PeriodEnd: sub.ExpiresAt}, RenewalOffer{})
	if err != nil {
		t.Fatal(err)
	}
	offer := v.(RenewalOffer)
	plan, _ := e.a.Config.Plan("1m")
	want := RenewalOffer{Found: true, PurchaseID: RenewalPurchaseID(1, sub.ExpiresAt).String(), PlanID: "1m",
		Days: plan.Days, Amount: plan.Price, Currency: e.a.Config.Currency}
	if offer != want {
		t.Fatalf("offer %+v, want %+v", offer, want)
	}
	if v, err := e.run(e.a.RenewalOffer, RenewalOfferInput{UserID: 1, PlanID: "gone", PeriodEnd: sub.ExpiresAt}, RenewalOffer{}); err != nil || v.(RenewalOffer).Found {
		t.Fatalf("offer of a plan no longer sold: %+v, %v", v, err)
	}

	// Before the Purchase records it: no status, the balance as it is.
	v, err = e.run(e.a.RenewalOutcome, RenewalOutcomeInput{UserID: 1, PurchaseID: offer.PurchaseID}, RenewalOutcome{})
	if err != nil {
		t.Fatal(err)
	}
	if out := v.(RenewalOutcome); out.Status != "" || out.Balance != 1000 || !out.ExpiresAt.Equal(sub.ExpiresAt) {
		t.Fatalf("outcome before the renewal %+v", out)
	}
	// The Purchase records and credits it.
	if _, err := e.run(e.a.RecordPurchase, shop.NewPurchase{PurchaseID: offer.PurchaseID, UserID: 1, Kind: shop.KindSubscription,
		PlanID: "1m", Days: offer.Days, Amount: offer.Amount, Currency: offer.Currency, Provider: shop.ProviderBalance}, RecordPurchaseResult{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.run(e.a.CreditPurchase, CreditInput{PurchaseID: offer.PurchaseID}, CreditResult{}); err != nil {
		t.Fatal(err)
	}
	v, err = e.run(e.a.RenewalOutcome, RenewalOutcomeInput{UserID: 1, PurchaseID: offer.PurchaseID}, RenewalOutcome{})
	if err != nil {
		t.Fatal(err)
	}
	out := v.(RenewalOutcome)
	if out.Status != shop.PurchasePaid || out.Balance != 1000-offer.Amount ||
		!out.ExpiresAt.Equal(sub.ExpiresAt.Add(time.Duration(offer.Days)*24*time.Hour)) {
		t.Fatalf("outcome after the renewal %+v", out)
	}
}
