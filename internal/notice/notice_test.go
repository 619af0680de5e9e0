package notice

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestConstructorsWireValues pins each constructor to the Notify input it
// stands for: recorded histories carry these values as JSON.
func TestConstructorsWireValues(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		got  Notice
		want string
	}{
		{Busy(), `"Message":"busy_try_again"`},
		{PurchaseExpired("m1"), `"Message":"purchase_expired","PlanID":"m1"`},
		{Expired("m1"), `"Message":"subscription_expired","PlanID":"m1"`},
		{AutoRenewFailed("m1", at), `"Message":"autorenew_failed","PlanID":"m1"`},
		{StarsExtraRefunded(7, 50), `"UserID":7,"Message":"stars_extra_refunded","PlanID":"","Amount":50,"Currency":"XTR"`},
		{Reminder("m1", at, time.Hour), `"Left":3600000000000,"Buttons":["renew"]`},
		{TopUpDone(500, "RUB", 900), `"Balance":900,"Bonus":0`},
		{Banned(), `"Buttons":null`},
	}
	for _, tc := range cases {
		b, err := json.Marshal(tc.got)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), tc.want) {
			t.Errorf("%s: JSON %s lacks %s", tc.got.Message, b, tc.want)
		}
	}
	if n := AutoRenewShortBalance(1, "RUB", 0); len(n.Buttons) != 1 || n.Buttons[0] != ButtonTopUp {
		t.Errorf("short balance buttons %v, want top-up", n.Buttons)
	}
}
