package store_test

import (
	"sync"
	"testing"
	"time"

	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

func TestRedeemPromoConcurrentlyNeverBeyondMaxUses(t *testing.T) {
	e := newEnv(t)
	const users, uses = 50, 10
	for id := int64(1); id <= users; id++ {
		e.user(id, "")
	}
	if _, err := e.s.CreatePromo(e.ctx, store.Promo{Code: "spring", Kind: shop.PromoDays, Value: 7, MaxUses: uses, CreatedBy: 1}); err != nil {
		t.Fatal(err)
	}
	var (
		wg   sync.WaitGroup
		errs [users]error
	)
	for i := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = e.s.RedeemPromo(e.ctx, " Spring ", int64(i+1))
		}()
	}
	wg.Wait()
	ok, exhausted := 0, 0
	var winner int64
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
			winner = int64(i + 1)
		case errorIs(err, store.ErrPromoExhausted):
			exhausted++
		default:
			t.Errorf("user %d: %v", i+1, err)
		}
	}
	if ok != uses || exhausted != users-uses {
		t.Fatalf("%d redeemed, %d exhausted; want %d and %d", ok, exhausted, uses, users-uses)
	}
	p, err := e.s.GetPromo(e.ctx, "SPRING")
	if err != nil || p.Used != uses {
		t.Errorf("used = %d (%v), want %d", p.Used, err, uses)
	}
	if n := e.count(`SELECT count(*) FROM promo_redemptions WHERE code = 'SPRING'`); n != uses {
		t.Errorf("%d redemptions recorded", n)
	}
	again, err := e.s.RedeemPromo(e.ctx, "spring", winner)
	wantErr(t, err, store.ErrPromoAlreadyRedeemed)
	if again.Code != "SPRING" || again.Value != 7 {
		t.Errorf("already-redeemed came with %+v, want the promo", again)
	}
}

func TestPromoRules(t *testing.T) {
	e := newEnv(t)
	e.user(1, "")
	p := store.Promo{Code: "HALF", Kind: shop.PromoPercent, Value: 50, MaxUses: 5}
	if _, err := e.s.CreatePromo(e.ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.CreatePromo(e.ctx, p); err != nil {
		t.Errorf("repeat create with the same terms: %v", err)
	}
	p.Value = 60
	_, err := e.s.CreatePromo(e.ctx, p)
	wantErr(t, err, store.ErrPromoExists)
	_, err = e.s.CreatePromo(e.ctx, store.Promo{Code: "TOOMUCH", Kind: shop.PromoPercent, Value: 150, MaxUses: 1})
	wantErr(t, err, store.ErrInvalid)

	past := e.dbNow().Add(-time.Minute)
	if _, err := e.s.CreatePromo(e.ctx, store.Promo{Code: "OLD", Kind: shop.PromoDays, Value: 3, MaxUses: 5, ExpiresAt: &past}); err != nil {
		t.Fatal(err)
	}
	_, err = e.s.RedeemPromo(e.ctx, "old", 1)
	wantErr(t, err, store.ErrPromoExpired)
	_, err = e.s.RedeemPromo(e.ctx, "NOPE", 1)
	wantErr(t, err, store.ErrNotFound)
	_, err = e.s.RedeemPromo(e.ctx, "HALF", 99)
	wantErr(t, err, store.ErrNotFound)
	if got, _ := e.s.GetPromo(e.ctx, "half"); got.Used != 0 {
		t.Errorf("failed redemptions used %d", got.Used)
	}
	got, err := e.s.RedeemPromo(e.ctx, "half", 1)
	if err != nil || got.Used != 1 {
		t.Errorf("redeem: %+v %v", got, err)
	}
}

// The documented way to apply a days promo is exactly-once even when the
// redemption is retried after a crash.
func TestDaysPromoAppliedOnce(t *testing.T) {
	e := newEnv(t)
	e.user(1, "")
	if _, err := e.s.CreatePromo(e.ctx, store.Promo{Code: "WEEK", Kind: shop.PromoDays, Value: 7, MaxUses: 3}); err != nil {
		t.Fatal(err)
	}
	apply := func() store.GrantResult {
		p, err := e.s.RedeemPromo(e.ctx, "WEEK", 1)
		if err != nil && !errorIs(err, store.ErrPromoAlreadyRedeemed) {
			t.Fatal(err)
		}
		r, err := e.s.GrantTime(e.ctx, store.GrantParams{UserID: 1, Duration: time.Duration(p.Value) * 24 * time.Hour,
			Kind: "promo", Reference: p.Code, EmailDomain: domain})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	first, second := apply(), apply()
	if first.AlreadyGranted || !second.AlreadyGranted || !second.ExpiresAt.Equal(first.ExpiresAt) {
		t.Errorf("first %+v second %+v", first, second)
	}
}
