package store_test

import (
	"testing"
	"time"

	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

func TestUpsertUser(t *testing.T) {
	e := newEnv(t)
	u, created, err := e.s.UpsertUser(e.ctx, store.UpsertUserParams{TelegramID: 10, Username: "@Alice", FirstName: "Alice", Language: "pt_BR"})
	if err != nil || !created {
		t.Fatalf("first upsert: created=%t err=%v", created, err)
	}
	if u.Username != "Alice" || u.Language != "pt-br" || len(u.RefCode) != 8 || u.Balance != 0 || u.ReferrerID != 0 {
		t.Errorf("new user = %+v", u)
	}
	if err := e.s.SetLanguage(e.ctx, 10, "ru"); err != nil {
		t.Fatal(err)
	}
	u2, created, err := e.s.UpsertUser(e.ctx, store.UpsertUserParams{TelegramID: 10, Username: "alice2", FirstName: "Al", Language: "en"})
	if err != nil || created {
		t.Fatalf("second upsert: created=%t err=%v", created, err)
	}
	if u2.Username != "alice2" || u2.FirstName != "Al" || u2.Language != "ru" || u2.RefCode != u.RefCode {
		t.Errorf("after update: %+v (language must stay the user's choice, ref code must not change)", u2)
	}
	// Unchanged data: nothing to write, same user back.
	u3, created, err := e.s.UpsertUser(e.ctx, store.UpsertUserParams{TelegramID: 10, Username: "alice2", FirstName: "Al"})
	if err != nil || created || u3.UpdatedAt != u2.UpdatedAt {
		t.Errorf("no-op upsert: created=%t err=%v updated %v -> %v", created, err, u2.UpdatedAt, u3.UpdatedAt)
	}

	got, err := e.s.UserByUsername(e.ctx, "@ALICE2")
	if err != nil || got.TelegramID != 10 {
		t.Errorf("UserByUsername = %d, %v", got.TelegramID, err)
	}
	_, err = e.s.UserByUsername(e.ctx, "nobody")
	wantErr(t, err, store.ErrNotFound)
	_, err = e.s.GetUser(e.ctx, 999)
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, e.s.SetLanguage(e.ctx, 10, "not a language"), store.ErrInvalid)
	wantErr(t, e.s.SetLanguage(e.ctx, 999, "en"), store.ErrNotFound)
	_, _, err = e.s.UpsertUser(e.ctx, store.UpsertUserParams{TelegramID: 0})
	wantErr(t, err, store.ErrInvalid)
	if u, _, _ := e.s.UpsertUser(e.ctx, store.UpsertUserParams{TelegramID: 11, Language: "??"}); u.Language != store.DefaultLanguage {
		t.Errorf("unusable language became %q, want %q", u.Language, store.DefaultLanguage)
	}
}

func TestReferrerRecordedOnceForNewUsers(t *testing.T) {
	e := newEnv(t)
	a := e.user(1, "")
	other := e.user(2, "")

	b := e.user(3, "ref_"+a.RefCode)
	if b.ReferrerID != a.TelegramID {
		t.Fatalf("referrer = %d, want %d", b.ReferrerID, a.TelegramID)
	}
	// A later /start with another code changes nothing.
	if b2 := e.user(3, other.RefCode); b2.ReferrerID != a.TelegramID {
		t.Errorf("referrer changed to %d", b2.ReferrerID)
	}
	// An existing user cannot acquire a referrer.
	if o := e.user(2, a.RefCode); o.ReferrerID != 0 {
		t.Errorf("existing user got referrer %d", o.ReferrerID)
	}
	// Unknown codes are ignored.
	if c := e.user(4, "nosuchcode"); c.ReferrerID != 0 {
		t.Errorf("unknown code gave referrer %d", c.ReferrerID)
	}
	if n := e.count(`SELECT count(*) FROM referrals`); n != 1 {
		t.Errorf("%d referrals, want 1", n)
	}
	if n := e.count(`SELECT count(*) FROM referrals WHERE referred_id = 3 AND referrer_id = 1`); n != 1 {
		t.Error("referral row for user 3 missing")
	}
}

func TestSetBanned(t *testing.T) {
	e := newEnv(t)
	e.user(1, "")
	r := e.mustCredit(e.purchase(1, shop.KindSubscription, shop.ProviderCryptoPay, 300, 30).ID, 0)
	changed, err := e.s.SetBanned(e.ctx, 1, true)
	if err != nil || !changed {
		t.Fatalf("ban: changed=%t err=%v", changed, err)
	}
	if changed, _ := e.s.SetBanned(e.ctx, 1, true); changed {
		t.Error("banning twice reported a change")
	}
	sub, _ := e.s.GetSubscription(e.ctx, 1)
	if sub.Status != shop.StatusBanned {
		t.Errorf("status after ban = %s", sub.Status)
	}
	// A payment while banned adds time but does not unban.
	r2 := e.mustCredit(e.purchase(1, shop.KindSubscription, shop.ProviderCryptoPay, 300, 30).ID, 0)
	if r2.SubscriptionStatus != shop.StatusBanned || !r2.ExpiresAt.Equal(r.ExpiresAt.AddDate(0, 0, 30)) {
		t.Errorf("credit while banned: status %s expires %v", r2.SubscriptionStatus, r2.ExpiresAt)
	}
	_, err = e.s.StartTrial(e.ctx, 1, 72*time.Hour, domain)
	wantErr(t, err, store.ErrBanned)
	if _, err := e.s.SetBanned(e.ctx, 1, false); err != nil {
		t.Fatal(err)
	}
	sub, _ = e.s.GetSubscription(e.ctx, 1)
	if sub.Status != shop.StatusActive {
		t.Errorf("status after unban = %s", sub.Status)
	}
	_, err = e.s.SetBanned(e.ctx, 99, true)
	wantErr(t, err, store.ErrNotFound)
}

func TestSetBotBlocked(t *testing.T) {
	e := newEnv(t)
	e.user(1, "")
	if err := e.s.SetBotBlocked(e.ctx, 1, true); err != nil {
		t.Fatal(err)
	}
	if u, _ := e.s.GetUser(e.ctx, 1); !u.BotBlocked {
		t.Error("not blocked")
	}
	wantErr(t, e.s.SetBotBlocked(e.ctx, 2, true), store.ErrNotFound)
}

// TestUpsertUserConcurrently: the same new user's first updates racing
// (a double tap on /start) register them once, and every call succeeds.
func TestUpsertUserConcurrently(t *testing.T) {
	e := newEnv(t)
	const n = 16
	created := make(chan bool, n)
	errs := make(chan error, n)
	for range n {
		go func() {
			_, c, err := e.s.UpsertUser(e.ctx, store.UpsertUserParams{TelegramID: 77, FirstName: "Racer"})
			created <- c
			errs <- err
		}()
	}
	firsts := 0
	for range n {
		if <-created {
			firsts++
		}
		if err := <-errs; err != nil {
			t.Errorf("concurrent upsert: %v", err)
		}
	}
	if firsts != 1 {
		t.Errorf("%d calls reported the user new, want 1", firsts)
	}
}
