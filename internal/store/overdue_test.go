package store_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

// overdueFixture: users 1-12 with subscriptions in every state, expiring at
// set offsets from now (the caller's clock, deliberately not the
// database's).
func overdueFixture(e *env, now time.Time) (live, overdue map[int64]bool) {
	e.t.Helper()
	live, overdue = map[int64]bool{}, map[int64]bool{}
	for id, c := range map[int64]struct {
		status string
		at     time.Duration
	}{
		1:  {shop.StatusActive, time.Hour},             // live
		2:  {shop.StatusActive, -time.Hour},            // overdue
		3:  {shop.StatusTrial, -48 * time.Hour},        // overdue trial
		4:  {shop.StatusTrial, time.Minute},            // live trial
		5:  {shop.StatusExpired, -time.Hour},           // expired properly
		6:  {shop.StatusBanned, -time.Hour},            // banned
		7:  {shop.StatusActive, -30 * time.Second},     // just past: inside a minute's grace
		8:  {shop.StatusActive, -365 * 24 * time.Hour}, // a year overdue
		9:  {shop.StatusExpired, time.Hour},            // expired early by an admin
		10: {shop.StatusActive, 0},                     // expires exactly now: not served, not yet overdue
		11: {shop.StatusActive, -2 * time.Minute},      // overdue
		12: {shop.StatusBanned, time.Hour},
	} {
		e.user(id, "")
		if _, err := e.s.GrantTime(e.ctx, store.GrantParams{UserID: id, Duration: time.Hour, Kind: "admin", Reference: "seed",
			EmailDomain: domain}); err != nil {
			e.t.Fatal(err)
		}
		e.exec(`UPDATE subscriptions SET status = $2, expires_at = $3 WHERE user_id = $1`, id, c.status, now.Add(c.at))
		isLive := c.status == shop.StatusActive || c.status == shop.StatusTrial
		switch {
		case isLive && c.at > 0:
			live[id] = true
		case isLive && c.at < -time.Minute:
			overdue[id] = true
		}
	}
	return live, overdue
}

// TestActiveSubscriptionsLeaveOutExpiredRows: a row still 'active' or
// 'trial' whose expiry has passed is no live key — reconciliation must not
// put it back into Xray — whatever its status says.
func TestActiveSubscriptionsLeaveOutExpiredRows(t *testing.T) {
	e := newEnv(t)
	// A clock far from the database's: the caller's time decides.
	now := e.dbNow().Add(-30 * 24 * time.Hour)
	live, _ := overdueFixture(e, now)
	got := map[int64]bool{}
	for after := int64(0); ; {
		page, err := e.s.ActiveSubscriptions(e.ctx, now, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range page {
			got[k.UserID] = true
			after = k.UserID
			if !k.ExpiresAt.After(now) {
				t.Errorf("user %d expired at %s is listed as live at %s", k.UserID, k.ExpiresAt, now)
			}
		}
		if len(page) < 2 {
			break
		}
	}
	if len(got) != len(live) {
		t.Errorf("live keys %v, want %v", got, live)
	}
	for id := range live {
		if !got[id] {
			t.Errorf("live user %d not listed", id)
		}
	}
	_, err := e.s.ActiveSubscriptions(e.ctx, time.Time{}, 0, 10)
	wantErr(t, err, store.ErrInvalid)
}

// TestOverdueSubscriptions: the sweep's query finds exactly the live rows
// whose expiry is before the given time, page by page, each once, with
// what the Subscription workflow needs (status, expiry, plan) and no key.
func TestOverdueSubscriptions(t *testing.T) {
	e := newEnv(t)
	now := e.dbNow().Add(10 * 24 * time.Hour)
	_, overdue := overdueFixture(e, now)
	e.exec(`UPDATE subscriptions SET plan_id = '3m' WHERE user_id = 2`)
	seen := map[int64]int{}
	var after int64
	pages := 0
	for {
		page, err := e.s.OverdueSubscriptions(e.ctx, now.Add(-time.Minute), after, 2)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, o := range page {
			if o.UserID <= after {
				t.Fatalf("page not in user order: %d after %d", o.UserID, after)
			}
			after = o.UserID
			seen[o.UserID]++
			if o.Status != shop.StatusActive && o.Status != shop.StatusTrial {
				t.Errorf("user %d listed with status %s", o.UserID, o.Status)
			}
			if !o.ExpiresAt.Before(now.Add(-time.Minute)) {
				t.Errorf("user %d expiring %s listed as overdue at %s", o.UserID, o.ExpiresAt, now)
			}
		}
		if len(page) < 2 {
			break
		}
	}
	if len(seen) != len(overdue) {
		t.Errorf("overdue users %v, want %v", seen, overdue)
	}
	for id := range overdue {
		if seen[id] != 1 {
			t.Errorf("overdue user %d seen %d times", id, seen[id])
		}
	}
	if pages != len(overdue)/2+1 {
		t.Errorf("%d pages for %d rows of 2", pages, len(overdue))
	}
	page, err := e.s.OverdueSubscriptions(e.ctx, now.Add(-time.Minute), 1, 1)
	if err != nil || len(page) != 1 || page[0].UserID != 2 || page[0].PlanID != "3m" || page[0].Status != shop.StatusActive ||
		!page[0].ExpiresAt.Equal(now.Add(-time.Hour)) {
		t.Errorf("first overdue row = %+v, %v; want user 2, active, plan 3m, expired an hour before now", page, err)
	}
	_, err = e.s.OverdueSubscriptions(e.ctx, now, 0, 0)
	wantErr(t, err, store.ErrInvalid)
	_, err = e.s.OverdueSubscriptions(e.ctx, time.Time{}, 0, 10)
	wantErr(t, err, store.ErrInvalid)
}

// A LiveKey printed, logged or marshalled shows neither of its keys.
func TestLiveKeyNeverPrintsItsKeys(t *testing.T) {
	e := newEnv(t)
	e.user(1, "")
	e.mustCredit(e.purchase(1, shop.KindSubscription, shop.ProviderCryptoPay, 300, 30).ID, 0)
	pending, err := e.s.BeginReissue(e.ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := e.s.ActiveSubscriptions(e.ctx, e.dbNow(), 0, 10)
	if err != nil || len(keys) != 1 || keys[0].PendingUUID == nil {
		t.Fatalf("live keys %v, %v; want user 1 with a pending key", keys, err)
	}
	k := keys[0]
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "key", k, "keys", keys)
	js, err := json.Marshal(keys)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", k, k, k, keys), logged.String(), string(js)} {
		if strings.Contains(out, k.VLESSUUID.String()) || strings.Contains(out, pending.String()) {
			t.Errorf("key printed: %s", out)
		}
		if !strings.Contains(out, "tg1@vpnflow") {
			t.Errorf("description lacks the email: %s", out)
		}
	}
}
