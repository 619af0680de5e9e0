package store_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

// TestAddTrafficBatchRecordsRevokedKeys: bytes of keys revoked before the
// previous reading began (less the grace) are recorded against them, once
// per batch, adding up across batches; live keys, keys revoked within the
// grace and the first reading of all blame nobody.
func TestAddTrafficBatchRecordsRevokedKeys(t *testing.T) {
	e := newEnv(t)
	email := map[int64]string{}
	for id := int64(1); id <= 6; id++ {
		e.user(id, "")
		e.mustCredit(e.purchase(id, shop.KindSubscription, shop.ProviderCryptoPay, 300, 30).ID, 0)
		sub, err := e.s.GetSubscription(e.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		email[id] = sub.XrayEmail
	}
	// 1 stays live. 2 expired an hour ago; 3 was banned an hour ago; 4's
	// key was replaced by a reissue an hour ago; 6 is live but an hour
	// past its expiry (its workflow has not expired it yet); 5 expired
	// ten and a half minutes ago, within the grace of the previous reading.
	e.exec(`UPDATE subscriptions SET status = 'expired', expires_at = now() - interval '1 hour', updated_at = now() - interval '1 hour' WHERE user_id = 2`)
	e.exec(`UPDATE subscriptions SET status = 'banned', updated_at = now() - interval '1 hour' WHERE user_id = 3`)
	if _, err := e.s.BeginReissue(e.ctx, 4); err != nil {
		t.Fatal(err)
	}
	if err := e.s.CommitReissueAs(e.ctx, 4, "tg4.k1@"+domain); err != nil {
		t.Fatal(err)
	}
	e.exec(`UPDATE audit_log SET created_at = now() - interval '1 hour' WHERE user_id = 4 AND event = 'key_reissued'`)
	e.exec(`UPDATE subscriptions SET status = 'expired', expires_at = now() - interval '630 seconds', updated_at = now() WHERE user_id = 5`)
	e.exec(`UPDATE subscriptions SET expires_at = now() - interval '1 hour' WHERE user_id = 6`)

	deltas := func(ids ...int64) []store.TrafficDelta {
		var ds []store.TrafficDelta
		for _, id := range ids {
			ds = append(ds, store.TrafficDelta{Email: email[id], Up: 10 * id, Down: 100 * id})
		}
		return ds
	}
	now := e.dbNow()
	batch := func(id string, readAt time.Time, ds []store.TrafficDelta) store.TrafficBatchResult {
		t.Helper()
		res, err := e.s.AddTrafficBatch(e.ctx, store.TrafficBatch{ID: id, Deltas: ds, ReadAt: readAt, RevokedGrace: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	// The first reading has no start to judge by.
	if res := batch("b0", now.Add(-10*time.Minute), deltas(1, 2, 3, 4, 5, 6)); res.Revoked != 0 {
		t.Fatalf("first batch blamed %d keys, want none: nothing says when its bytes began", res.Revoked)
	}
	all := append(deltas(1, 2, 3, 5, 6), store.TrafficDelta{Email: email[4], Up: 40, Down: 400})
	for i, want := range []bool{true, false} {
		res := batch("b1", now, all)
		if res.Applied != want || res.Revoked != 4 {
			t.Fatalf("attempt %d of b1: %+v, want 4 revoked keys (2, 3, 4's old key, 6)", i, res)
		}
	}
	batch("b2", now.Add(time.Minute), deltas(2))

	got, err := e.s.RevokedTrafficSince(e.ctx, now.Add(-time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, r := range got {
		seen = append(seen, fmt.Sprintf("%d %s %d/%d", r.UserID, r.Email, r.Up, r.Down))
		if r.RevokedAt.After(now.Add(-50 * time.Minute)) {
			t.Errorf("%s revoked at %s, want an hour ago", r.Email, r.RevokedAt)
		}
	}
	slices.Sort(seen)
	want := []string{
		fmt.Sprintf("2 %s 40/400", email[2]), // two batches
		fmt.Sprintf("3 %s 30/300", email[3]),
		fmt.Sprintf("4 %s 40/400", email[4]),
		fmt.Sprintf("6 %s 60/600", email[6]),
	}
	if !slices.Equal(seen, want) {
		t.Errorf("revoked traffic:\n got %q\nwant %q", seen, want)
	}
	if n := e.count(`SELECT count(*) FROM revoked_traffic WHERE user_id IN (1, 5)`); n != 0 {
		t.Errorf("%d rows for the live key and the one revoked within the grace", n)
	}
}
