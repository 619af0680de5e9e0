package activities

import (
	"context"
	"testing"
	"time"

	"vpnflow/internal/dev/testenv"
	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

// ExpireSubscription against real PostgreSQL: the workflow's time decides
// even when the database's clock is 30 s behind, a later expiry is reported
// with the row's status, and a missing row is an answer (the key must go),
// not an error the workflow would retry forever.
func TestExpireSubscriptionActivityAtWorkflowTime(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Database(t)
	st := store.New(pool)
	if _, err := st.UpsertNode(ctx, store.Node{Name: "main", APIAddr: "127.0.0.1:10085", InboundTag: "vless-in", Host: "vpn.example", Port: 443}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.UpsertUser(ctx, store.UpsertUserParams{TelegramID: 1, FirstName: "u"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.GrantTime(ctx, store.GrantParams{UserID: 1, Duration: time.Hour, Kind: "admin", Reference: "t", EmailDomain: "vpnflow"}); err != nil {
		t.Fatal(err)
	}
	// For the database the period has 30 s left.
	if _, err := pool.Exec(ctx, `UPDATE subscriptions SET expires_at = now() + interval '30 seconds' WHERE user_id = 1`); err != nil {
		t.Fatal(err)
	}
	sub, err := st.GetSubscription(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	a := &Activities{Store: st}

	res, err := a.ExpireSubscription(ctx, ExpireInput{UserID: 1, At: sub.ExpiresAt.Add(-time.Second)})
	if err != nil || res.Expired || !res.ExpiresAt.Equal(sub.ExpiresAt) || res.Status != shop.StatusActive {
		t.Fatalf("a second early: %+v %v", res, err)
	}
	res, err = a.ExpireSubscription(ctx, ExpireInput{UserID: 1, At: sub.ExpiresAt})
	if err != nil || !res.Expired {
		t.Fatalf("at the workflow's expiry (database 30 s behind): %+v %v", res, err)
	}
	// Retried after its commit: the same outcome for the workflow, a row
	// that is not live.
	res, err = a.ExpireSubscription(ctx, ExpireInput{UserID: 1, At: sub.ExpiresAt})
	if err != nil || res.Status != shop.StatusExpired {
		t.Fatalf("retry: %+v %v", res, err)
	}
	res, err = a.ExpireSubscription(ctx, ExpireInput{UserID: 2, At: sub.ExpiresAt})
	if err != nil || res.Expired || res.Status != "" {
		t.Fatalf("no row: %+v %v", res, err)
	}
}
