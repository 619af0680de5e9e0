package shop

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
)

// The IDs and names are in recorded histories and running workflows: a
// changed value would orphan them.
func TestWorkflowIDsAndNamesAreStable(t *testing.T) {
	for got, want := range map[string]string{
		PurchaseWorkflowID("p1"):                 "purchase/p1",
		SubscriptionWorkflowID(42):               "subscription/42",
		GrantWorkflowID("r"):                     "grant/r",
		ModerationWorkflowID(42):                 "moderation/42",
		RefundWorkflowID("p1"):                   "refund/p1",
		PromoWorkflowID(" spring ", 42):          "promo/SPRING/42",
		BroadcastWorkflowID("b"):                 "broadcast/b",
		SandboxExpireWorkflowID(42, 7):           "sandbox-expire/42/7",
		EvacuationWorkflowID(3):                  "node-evacuation/3",
		EvacuationWorkflowType + SignalEvacuate:  "NodeEvacuationevacuate",
		SubscriptionWorkflowType + SignalMove:    "Subscriptionmove",
		StarsStartParameter("a-b-c"):             "pay_abc",
		PurchaseWorkflowType + SignalPayment:     "Purchasepayment",
		PromoWorkflowType + ModerateWorkflowType: "PromoRedemptionModerate",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	if id, ok := ParseSubscriptionWorkflowID(SubscriptionWorkflowID(42)); !ok || id != 42 {
		t.Errorf("ParseSubscriptionWorkflowID = %d, %t", id, ok)
	}
}

func TestPurchaseInputValidate(t *testing.T) {
	ok := PurchaseInput{NewPurchase: NewPurchase{PurchaseID: "p", UserID: 1, Kind: KindSubscription, Days: 30,
		Amount: 300, Currency: "USD", Provider: ProviderCryptoPay}, InvoiceTTL: time.Hour}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid input refused: %v", err)
	}
	balance := ok
	balance.Provider, balance.InvoiceTTL = ProviderBalance, 0
	if err := balance.Validate(); err != nil {
		t.Errorf("a balance purchase needs no invoice TTL: %v", err)
	}
	noDays := ok
	noDays.Days = 0
	if noDays.Validate() == nil {
		t.Error("a subscription purchase without days passed")
	}
}

func TestRefusalFrom(t *testing.T) {
	err := fmt.Errorf("update: %w", temporal.NewApplicationError(RefusedTooSoon, RefusedTooSoon, 5*time.Minute))
	r := RefusalFrom(err)
	if r.Type != RefusedTooSoon || r.Wait != 5*time.Minute || r.MessageID() != "reissue_too_soon" {
		t.Errorf("RefusalFrom = %+v, message %s", r, r.MessageID())
	}
	if r := RefusalFrom(errors.New("boom")); r.Type != "" || r.MessageID() != "error_generic" {
		t.Errorf("a plain error read as %+v", r)
	}
}

func TestEvacuationRequestValidate(t *testing.T) {
	at := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		req EvacuationRequest
		ok  bool
	}{
		{EvacuationRequest{Mode: EvacuateDrain, PerMinute: 60}, true},
		{EvacuationRequest{Mode: EvacuateFailover, PerMinute: 1500, At: at}, true},
		{EvacuationRequest{Mode: EvacuateFailover, PerMinute: 1500}, false},
		{EvacuationRequest{Mode: EvacuateDrain}, false},
		{EvacuationRequest{Mode: "panic", PerMinute: 1}, false},
	} {
		if err := c.req.Validate(); (err == nil) != c.ok {
			t.Errorf("%+v: Validate = %v, want ok=%v", c.req, err, c.ok)
		}
	}
}
