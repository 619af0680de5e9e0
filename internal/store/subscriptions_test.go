package store_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

func TestStartTrialOncePerUser(t *testing.T) {
	e := newEnv(t)
	e.user(1, "")
	before := e.dbNow()
	sub, err := e.s.StartTrial(e.ctx, 1, 72*time.Hour, domain)
	if err != nil {
		t.Fatal(err)
	}
	if sub.Status != shop.StatusTrial || !sub.IsTrial || sub.ExpiresAt.Before(before.Add(72*time.Hour)) || sub.XrayEmail != "tg1@vpnflow" {
		t.Errorf("trial = %v", sub)
	}
	// A retry while the trial is the live subscription is the same success.
	again, err := e.s.StartTrial(e.ctx, 1, 72*time.Hour, domain)
	if err != nil || again != sub {
		t.Errorf("repeat = %v, %v; want the same trial %v", again, err, sub)
	}
	if n := e.count(`SELECT count(*) FROM audit_log WHERE user_id = 1 AND event = 'trial_started'`); n != 1 {
		t.Errorf("%d trial_started audit rows, want 1", n)
	}

	// A trial that has ended is used.
	e.user(4, "")
	if _, err := e.s.StartTrial(e.ctx, 4, time.Hour, domain); err != nil {
		t.Fatal(err)
	}
	e.exec(`UPDATE subscriptions SET status = 'expired' WHERE user_id = 4`)
	used, err := e.s.StartTrial(e.ctx, 4, time.Hour, domain)
	wantErr(t, err, store.ErrTrialUsed)
	if used.Status != shop.StatusExpired {
		t.Errorf("ErrTrialUsed came with %v, want the current (expired) subscription", used)
	}

	// A paid renewal during the trial adds to the trial's end.
	r := e.mustCredit(e.purchase(1, shop.KindSubscription, shop.ProviderCryptoPay, 300, 30).ID, 0)
	if !r.ExpiresAt.Equal(sub.ExpiresAt.AddDate(0, 0, 30)) || r.SubscriptionStatus != shop.StatusActive || r.PreviousStatus != shop.StatusTrial {
		t.Errorf("paid after trial: %+v", r)
	}
	if got, _ := e.s.GetSubscription(e.ctx, 1); got.IsTrial || got.VLESSUUID != sub.VLESSUUID {
		t.Errorf("after payment: is_trial=%t, key changed=%t", got.IsTrial, got.VLESSUUID != sub.VLESSUUID)
	}

	// A paying user keeps the trial for later.
	e.user(2, "")
	e.mustCredit(e.purchase(2, shop.KindSubscription, shop.ProviderCryptoPay, 300, 30).ID, 0)
	_, err = e.s.StartTrial(e.ctx, 2, time.Hour, domain)
	wantErr(t, err, store.ErrHasSubscription)
	if n := e.count(`SELECT count(*) FROM trials WHERE user_id = 2`); n != 0 {
		t.Error("refused trial was recorded")
	}
	_, err = e.s.StartTrial(e.ctx, 3, time.Hour, domain)
	wantErr(t, err, store.ErrNotFound)
	_, err = e.s.StartTrial(e.ctx, 1, 0, domain)
	wantErr(t, err, store.ErrInvalid)
}

func TestGrantTime(t *testing.T) {
	e := newEnv(t)
	e.user(1, "")
	g := store.GrantParams{UserID: 1, Duration: 7 * 24 * time.Hour, Kind: "promo", Reference: "SPRING", EmailDomain: domain}
	r1, err := e.s.GrantTime(e.ctx, g)
	if err != nil || r1.AlreadyGranted || !r1.SubscriptionCreated || r1.SubscriptionStatus != shop.StatusActive {
		t.Fatalf("grant: %+v %v", r1, err)
	}
	r2, err := e.s.GrantTime(e.ctx, g)
	if err != nil || !r2.AlreadyGranted || !r2.ExpiresAt.Equal(r1.ExpiresAt) {
		t.Fatalf("repeat grant: %+v %v", r2, err)
	}
	g.Reference = "admin-2"
	g.Kind = "admin"
	r3, err := e.s.GrantTime(e.ctx, g)
	if err != nil || !r3.ExpiresAt.Equal(r1.ExpiresAt.Add(7*24*time.Hour)) || r3.PreviousStatus != shop.StatusActive {
		t.Fatalf("second grant: %+v %v", r3, err)
	}
	// Taking time back (after a refund) moves the expiry back.
	r4, err := e.s.GrantTime(e.ctx, store.GrantParams{UserID: 1, Duration: -10 * 24 * time.Hour, Kind: "refund", Reference: "p1"})
	if err != nil || !r4.ExpiresAt.Equal(r3.ExpiresAt.Add(-10*24*time.Hour)) {
		t.Fatalf("negative grant: %+v %v", r4, err)
	}
	_, err = e.s.GrantTime(e.ctx, store.GrantParams{UserID: 1, Kind: "admin", Reference: "x"})
	wantErr(t, err, store.ErrInvalid)
	_, err = e.s.GrantTime(e.ctx, store.GrantParams{UserID: 42, Duration: time.Hour, Kind: "admin", Reference: "x", EmailDomain: domain})
	wantErr(t, err, store.ErrNotFound)
}

func TestExpireSubscription(t *testing.T) {
	e := newEnv(t)
	e.user(1, "")
	e.mustCredit(e.purchase(1, shop.KindSubscription, shop.ProviderCryptoPay, 300, 30).ID, 0)
	if changed, err := e.s.ExpireSubscription(e.ctx, 1, time.Time{}); err != nil || changed {
		t.Fatalf("expired early: %t %v", changed, err)
	}
	e.exec(`UPDATE subscriptions SET expires_at = now() - interval '1 second' WHERE user_id = 1`)
	if changed, err := e.s.ExpireSubscription(e.ctx, 1, time.Time{}); err != nil || !changed {
		t.Fatalf("expire: %t %v", changed, err)
	}
	if changed, err := e.s.ExpireSubscription(e.ctx, 1, time.Time{}); err != nil || changed {
		t.Fatalf("expire twice: %t %v", changed, err)
	}
	if sub, _ := e.s.GetSubscription(e.ctx, 1); sub.Status != shop.StatusExpired {
		t.Errorf("status %s", sub.Status)
	}
	if n := e.count(`SELECT count(*) FROM audit_log WHERE user_id = 1 AND event = 'expired'`); n != 1 {
		t.Errorf("%d expiry audit rows", n)
	}
	_, err := e.s.ExpireSubscription(e.ctx, 2, time.Time{})
	wantErr(t, err, store.ErrNotFound)
}

func TestReissue(t *testing.T) {
	e := newEnv(t)
	e.user(1, "")
	e.mustCredit(e.purchase(1, shop.KindSubscription, shop.ProviderCryptoPay, 300, 30).ID, 0)
	orig, _ := e.s.GetSubscription(e.ctx, 1)

	next, err := e.s.BeginReissue(e.ctx, 1)
	if err != nil || next == orig.VLESSUUID || next == uuid.Nil {
		t.Fatalf("begin: %v %v", next, err)
	}
	if again, _ := e.s.BeginReissue(e.ctx, 1); again != next {
		t.Error("a repeated begin minted another key")
	}
	_, err = e.s.CommitReissue(e.ctx, 1, uuid.New())
	wantErr(t, err, store.ErrNoReissue)
	old, err := e.s.CommitReissue(e.ctx, 1, next)
	if err != nil || old != orig.VLESSUUID {
		t.Fatalf("commit: old=%v err=%v", old, err)
	}
	if old2, err := e.s.CommitReissue(e.ctx, 1, next); err != nil || old2 != orig.VLESSUUID {
		t.Errorf("repeated commit: %v %v", old2, err)
	}
	sub, _ := e.s.GetSubscription(e.ctx, 1)
	if sub.VLESSUUID != next || sub.PendingUUID != nil {
		t.Errorf("after commit: key is new %t, pending %v", sub.VLESSUUID == next, sub.PendingUUID)
	}

	abandoned, _ := e.s.BeginReissue(e.ctx, 1)
	if err := e.s.AbortReissue(e.ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := e.s.AbortReissue(e.ctx, 1); err != nil {
		t.Errorf("repeated abort: %v", err)
	}
	_, err = e.s.CommitReissue(e.ctx, 1, abandoned)
	wantErr(t, err, store.ErrNoReissue)
	if sub, _ := e.s.GetSubscription(e.ctx, 1); sub.VLESSUUID != next || sub.PendingUUID != nil {
		t.Error("abort changed the key")
	}
	if n := e.count(`SELECT count(*) FROM audit_log WHERE user_id = 1 AND event IN ('reissue_started', 'key_reissued', 'reissue_aborted')`); n != 4 {
		t.Errorf("%d reissue audit rows, want 4", n)
	}
	_, err = e.s.BeginReissue(e.ctx, 2)
	wantErr(t, err, store.ErrNotFound)
}

func TestActiveSubscriptionsPagesCoverEachLiveKeyOnce(t *testing.T) {
	e := newEnv(t)
	want := map[int64]bool{}
	for id := int64(1); id <= 40; id++ {
		e.user(id, "")
		if _, err := e.s.GrantTime(e.ctx, store.GrantParams{UserID: id, Duration: time.Hour, Kind: "admin", Reference: "seed",
			EmailDomain: domain}); err != nil {
			t.Fatal(err)
		}
		switch {
		case id%7 == 0:
			if _, err := e.s.SetSubscriptionStatus(e.ctx, id, shop.StatusExpired); err != nil {
				t.Fatal(err)
			}
		case id%11 == 0:
			if _, err := e.s.SetBanned(e.ctx, id, true); err != nil {
				t.Fatal(err)
			}
		case id%5 == 0:
			if _, err := e.s.SetSubscriptionStatus(e.ctx, id, shop.StatusTrial); err != nil {
				t.Fatal(err)
			}
			want[id] = true
		default:
			want[id] = true
		}
	}
	seen := map[int64]int{}
	var after int64
	pages := 0
	for {
		page, err := e.s.ActiveSubscriptions(e.ctx, e.dbNow(), after, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		pages++
		for _, k := range page {
			if k.UserID <= after {
				t.Fatalf("page not in order: %d after %d", k.UserID, after)
			}
			seen[k.UserID]++
			after = k.UserID
			if k.XrayEmail != store.XrayEmail(k.UserID, domain) || k.VLESSUUID == uuid.Nil {
				t.Errorf("key %+v", k.UserID)
			}
		}
	}
	if len(seen) != len(want) {
		t.Errorf("saw %d keys, want %d", len(seen), len(want))
	}
	for id := range want {
		if seen[id] != 1 {
			t.Errorf("user %d seen %d times", id, seen[id])
		}
	}
	if pages != (len(want)+6)/7 {
		t.Errorf("%d pages for %d keys", pages, len(want))
	}
	_, err := e.s.ActiveSubscriptions(e.ctx, e.dbNow(), 0, 0)
	wantErr(t, err, store.ErrInvalid)
}

func TestTrafficAutoRenewAudit(t *testing.T) {
	e := newEnv(t)
	e.user(1, "")
	e.mustCredit(e.purchase(1, shop.KindSubscription, shop.ProviderCryptoPay, 300, 30).ID, 0)
	for range 2 {
		if err := e.s.AddTraffic(e.ctx, "tg1@vpnflow", 100, 1000); err != nil {
			t.Fatal(err)
		}
	}
	wantErr(t, e.s.AddTraffic(e.ctx, "tg9@vpnflow", 1, 1), store.ErrNotFound)
	wantErr(t, e.s.AddTraffic(e.ctx, "tg1@vpnflow", -1, 0), store.ErrInvalid)
	if err := e.s.SetAutoRenew(e.ctx, 1, true); err != nil {
		t.Fatal(err)
	}
	wantErr(t, e.s.SetAutoRenew(e.ctx, 2, true), store.ErrNotFound)
	sub, _ := e.s.GetSubscription(e.ctx, 1)
	if sub.TrafficUp != 200 || sub.TrafficDown != 2000 || !sub.AutoRenew {
		t.Errorf("subscription %v up=%d down=%d auto=%t", sub, sub.TrafficUp, sub.TrafficDown, sub.AutoRenew)
	}
	if err := e.s.AppendAudit(e.ctx, 1, "key_added", map[string]string{"node": "main"}); err != nil {
		t.Fatal(err)
	}
	if err := e.s.AppendAudit(e.ctx, 0, "reconcile_done", nil); err != nil {
		t.Fatal(err)
	}
	if n := e.count(`SELECT count(*) FROM audit_log WHERE (user_id = 1 AND details->>'node' = 'main') OR (user_id IS NULL AND event = 'reconcile_done')`); n != 2 {
		t.Errorf("%d audit rows found, want 2", n)
	}
}

func TestSubscriptionNeverPrintsItsKey(t *testing.T) {
	e := newEnv(t)
	e.user(1, "")
	e.mustCredit(e.purchase(1, shop.KindSubscription, shop.ProviderCryptoPay, 300, 30).ID, 0)
	pending, _ := e.s.BeginReissue(e.ctx, 1)
	sub, _ := e.s.GetSubscription(e.ctx, 1)
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "sub", sub)
	for _, out := range []string{fmt.Sprint(sub), fmt.Sprintf("%v %+v %#v %s", sub, sub, sub, sub), logged.String()} {
		if strings.Contains(out, sub.VLESSUUID.String()) || strings.Contains(out, pending.String()) {
			t.Errorf("key printed: %s", out)
		}
		if !strings.Contains(out, "tg1@vpnflow") {
			t.Errorf("description lacks the email: %s", out)
		}
	}
}
