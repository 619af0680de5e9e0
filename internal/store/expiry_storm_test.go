package store_test

import (
	"testing"
	"time"

	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

// NextExpiryStorm names the first crowded second in the window, by its
// last expiry, and looks past lone expiries, rows no longer live, and
// seconds outside the window.
func TestNextExpiryStormFindsTheFirstCrowdedSecond(t *testing.T) {
	e := newEnv(t)
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	var id int64
	expiring := func(status string, at time.Time, n int) {
		for range n {
			id++
			e.user(id, "")
			if _, err := e.s.GrantTime(e.ctx, store.GrantParams{UserID: id, Duration: time.Hour, Kind: "admin", Reference: "seed",
				EmailDomain: domain}); err != nil {
				t.Fatal(err)
			}
			e.exec(`UPDATE subscriptions SET status = $2, expires_at = $3 WHERE user_id = $1`, id, status, at)
		}
	}
	expiring(shop.StatusActive, now.Add(-time.Second), 5)                       // already past
	expiring(shop.StatusActive, now.Add(2*time.Second), 2)                      // lone expiries
	expiring(shop.StatusExpired, now.Add(4*time.Second), 5)                     // expired early: not live
	expiring(shop.StatusActive, now.Add(6*time.Second+100*time.Millisecond), 2) // the storm's second ...
	expiring(shop.StatusTrial, now.Add(6*time.Second+700*time.Millisecond), 1)  // ... ends here
	expiring(shop.StatusActive, now.Add(9*time.Second), 4)                      // a later storm

	at, ok, err := e.s.NextExpiryStorm(e.ctx, now, now.Add(20*time.Second), 3)
	if err != nil || !ok || !at.Equal(now.Add(6*time.Second+700*time.Millisecond)) {
		t.Fatalf("next storm: %s %v %v, want %s", at, ok, err, now.Add(6*time.Second+700*time.Millisecond))
	}
	if at, ok, err := e.s.NextExpiryStorm(e.ctx, at, now.Add(20*time.Second), 3); err != nil || !ok || !at.Equal(now.Add(9*time.Second)) {
		t.Fatalf("the storm after: %s %v %v, want %s", at, ok, err, now.Add(9*time.Second))
	}
	if at, ok, err := e.s.NextExpiryStorm(e.ctx, now, now.Add(8*time.Second), 4); err != nil || ok {
		t.Fatalf("no second in the window holds 4: got %s %v %v", at, ok, err)
	}
	if _, _, err := e.s.NextExpiryStorm(e.ctx, now, now, 1); err == nil {
		t.Fatal("an empty window was accepted")
	}
}
