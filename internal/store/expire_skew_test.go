package store_test

import (
	"testing"
	"time"

	"vpnflow/internal/shop"
)

// TestExpireSubscriptionClockSkew: the worker's clock, passed in, decides
// whether a period is over, whatever PostgreSQL's now() says. The worker is
// 30 s ahead of the database in the first case and 30 s behind in the second.
func TestExpireSubscriptionClockSkew(t *testing.T) {
	e := newEnv(t)
	e.user(1, "")
	e.mustCredit(e.purchase(1, shop.KindSubscription, shop.ProviderCryptoPay, 300, 30).ID, 0)

	// Worker 30 s ahead: for the worker the period has just ended; for the
	// database it has 30 s left.
	e.exec(`UPDATE subscriptions SET expires_at = now() + interval '30 seconds' WHERE user_id = 1`)
	sub, _ := e.s.GetSubscription(e.ctx, 1)
	if changed, err := e.s.ExpireSubscription(e.ctx, 1, sub.ExpiresAt); err != nil || !changed {
		t.Fatalf("worker ahead by 30s: expired=%t err=%v, want the row expired", changed, err)
	}
	if got, _ := e.s.GetSubscription(e.ctx, 1); got.Status != shop.StatusExpired {
		t.Fatalf("row status %s after expiry at the worker's time", got.Status)
	}

	// Worker 30 s behind: the database's now() is past the expiry, but for
	// the worker the period still has 10 s left, so nothing changes.
	e.user(2, "")
	e.mustCredit(e.purchase(2, shop.KindSubscription, shop.ProviderCryptoPay, 300, 30).ID, 0)
	e.exec(`UPDATE subscriptions SET expires_at = now() - interval '20 seconds' WHERE user_id = 2`)
	sub, _ = e.s.GetSubscription(e.ctx, 2)
	if changed, err := e.s.ExpireSubscription(e.ctx, 2, sub.ExpiresAt.Add(-10*time.Second)); err != nil || changed {
		t.Fatalf("worker behind by 30s: expired=%t err=%v, want the row kept", changed, err)
	}
	if changed, err := e.s.ExpireSubscription(e.ctx, 2, sub.ExpiresAt); err != nil || !changed {
		t.Fatalf("worker reaches the expiry: expired=%t err=%v", changed, err)
	}
}
