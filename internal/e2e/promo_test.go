package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	faketg "vpnflow/internal/dev/fake/telegram"
)

// buyPlanWithCryptoPay buys the 30-day plan through /buy, which works
// whatever menus the chat shows.
func (s *shopEnv) buyPlanWithCryptoPay(userID int64) {
	s.t.Helper()
	had := len(s.purchases(userID))
	s.say(userID, "/buy")
	s.press(userID, "30 days")
	s.press(userID, "Crypto")
	s.eventually("a new purchase", func() error {
		if n := len(s.purchases(userID)); n == had {
			return fmt.Errorf("still %d purchases", n)
		}
		return nil
	})
	s.invoiceFor(userID)
}

func TestPromoCodesNeverBeyondTheirUses(t *testing.T) {
	s := startShop(t, nil)
	s.runInProcess()
	ctx := context.Background()
	admin := s.register("Admin")
	s.adminSays(admin, "/promo winter 7d 10", "Promo code created")

	const users, uses = 50, 10
	ids := make([]int64, users)
	before := map[int64]int{}
	for i := range ids {
		ids[i] = s.register(fmt.Sprintf("User%02d", i))
		before[ids[i]] = s.lastID(ids[i])
	}
	// Everyone at once.
	errs := make(chan error, users)
	for _, id := range ids {
		go func() {
			_, err := s.tg.SendText(id, "/promo WINTER")
			errs <- err
		}()
	}
	for range ids {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	var winners []int64
	exhausted := 0
	for _, id := range ids {
		m := s.waitFor(id, before[id], "an answer to /promo", func(m faketg.Message) bool {
			return strings.Contains(m.Text, "Promo code applied") || strings.Contains(m.Text, "run out")
		})
		if strings.Contains(m.Text, "Promo code applied") {
			winners = append(winners, id)
		} else {
			exhausted++
		}
	}
	if len(winners) != uses || exhausted != users-uses {
		t.Fatalf("%d applied, %d run out; want %d and %d", len(winners), exhausted, uses, users-uses)
	}
	p, err := s.store.GetPromo(ctx, "WINTER")
	if err != nil || p.Used != uses {
		t.Fatalf("promo used %d (%v), want %d", p.Used, err, uses)
	}
	for _, id := range winners {
		s.assertActive(id, 7)
	}
	var live int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM subscriptions WHERE status = 'active'`).Scan(&live); err != nil || live != uses {
		t.Fatalf("%d active subscriptions (%v), want %d", live, err, uses)
	}
	// A winner trying again is told so, and gets nothing more.
	sub, err := s.store.GetSubscription(ctx, winners[0])
	if err != nil {
		t.Fatal(err)
	}
	s.adminSays(winners[0], "/promo winter", "already used")
	if again, err := s.store.GetSubscription(ctx, winners[0]); err != nil || !again.ExpiresAt.Equal(sub.ExpiresAt) {
		t.Fatalf("expiry moved on a repeated code: %v → %v (%v)", sub.ExpiresAt, again.ExpiresAt, err)
	}
	s.adminSays(ids[0], "/promo NOSUCH", "doesn't exist")
	s.adminSays(ids[0], "/promo", "/promo CODE")

	// A percent code lowers the next purchase, once, and the purchase
	// records which code it used.
	s.adminSays(admin, "/promo SALE 20% 5", "Promo code created")
	carol := s.register("Carol")
	s.adminSays(carol, "/promo sale", "20% off your next purchase")
	s.buyPlanWithCryptoPay(carol)
	first := s.latestPurchase(carol)
	if first.Amount != 240 {
		t.Fatalf("discounted purchase costs %d, want 240 (300 less 20%%)", first.Amount)
	}
	s.waitText(carol, 0, "20% off this purchase")
	if d, ok, err := s.store.DiscountFor(ctx, first.ID); err != nil || !ok || d.Code != "SALE" || d.Percent != 20 {
		t.Fatalf("discount of the purchase: %+v %v %v", d, ok, err)
	}
	s.buyPlanWithCryptoPay(carol)
	if second := s.latestPurchase(carol); second.ID == first.ID || second.Amount != 300 {
		t.Fatalf("second purchase %+v, want a new one at the full 300", second)
	}
	if sale, err := s.store.GetPromo(ctx, "SALE"); err != nil || sale.Used != 1 {
		t.Fatalf("SALE used %d times (%v), want 1", sale.Used, err)
	}
	var discounts int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM promo_discounts WHERE user_id = $1`, carol).Scan(&discounts); err != nil || discounts != 1 {
		t.Fatalf("%d discounts (%v)", discounts, err)
	}
}
