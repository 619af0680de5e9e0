package store_test

import (
	"errors"
	"testing"
	"time"

	"vpnflow/internal/notice"
	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

// TestExpiryNoticeIsWrittenOnceWithItsExpiry: the user's workflow (through
// ExpireAndTell, also when its transaction is retried after the commit)
// and the revocation sweep both write the "subscription expired" notice of
// one period end; the outbox holds it once, and only for a period that
// ended.
func TestExpiryNoticeIsWrittenOnceWithItsExpiry(t *testing.T) {
	e := newEnv(t)
	e.subscribed(1, 2, 3)
	e.exec(`UPDATE subscriptions SET expires_at = now() - interval '1 minute' WHERE user_id IN (1, 2)`)
	now := e.dbNow()

	// The sweep sees users 1 and 2 past their expiry, user 3 live.
	if n, err := e.s.EnqueueExpiryNotices(e.ctx, now, []int64{1, 2, 3}); err != nil || n != 2 {
		t.Fatalf("sweep wrote %d notices (err %v), want 2", n, err)
	}
	if n, err := e.s.EnqueueExpiryNotices(e.ctx, now, []int64{1, 2, 3}); err != nil || n != 0 {
		t.Fatalf("the next sweep wrote %d notices (err %v), want 0", n, err)
	}
	// User 1's workflow expires the row: the same fact, not a second notice.
	if changed, err := e.s.ExpireAndTell(e.ctx, 1, now); err != nil || !changed {
		t.Fatalf("expire user 1: changed=%t err=%v", changed, err)
	}
	if changed, err := e.s.ExpireAndTell(e.ctx, 1, now); err != nil || changed {
		t.Fatalf("expire user 1 again (a retry after the commit): changed=%t err=%v", changed, err)
	}
	// User 3 is not due: nothing. Once due, the workflow writes it.
	if changed, _ := e.s.ExpireAndTell(e.ctx, 3, now); changed {
		t.Fatal("user 3 expired before its time")
	}
	e.exec(`UPDATE subscriptions SET expires_at = now() - interval '1 second' WHERE user_id = 3`)
	if changed, err := e.s.ExpireAndTell(e.ctx, 3, e.dbNow()); err != nil || !changed {
		t.Fatalf("expire user 3: changed=%t err=%v", changed, err)
	}
	for _, id := range []int64{1, 2, 3} {
		ns, err := e.s.NoticesOf(e.ctx, id)
		if err != nil || len(ns) != 1 || ns[0].Message != "subscription_expired" {
			t.Errorf("user %d: outbox %+v (err %v), want one subscription_expired", id, ns, err)
		}
	}
	// ExpireSubscription, the pre-outbox call, writes no notice.
	e.user(4, "")
	e.mustCredit(e.purchase(4, shop.KindSubscription, shop.ProviderCryptoPay, 300, 30).ID, 0)
	e.exec(`UPDATE subscriptions SET expires_at = now() - interval '1 second' WHERE user_id = 4`)
	if changed, _ := e.s.ExpireSubscription(e.ctx, 4, e.dbNow()); !changed {
		t.Fatal("user 4 not expired")
	}
	if ns, _ := e.s.NoticesOf(e.ctx, 4); len(ns) != 0 {
		t.Errorf("ExpireSubscription wrote %+v", ns)
	}
}

// TestClaimedNoticesAreLeasedFinishedAndMootAfterRenewal walks a batch
// through the outbox: claimed notices are held for their lease and not
// claimed twice; a notice whose period was renewed before it left is
// dropped as moot; sent, refused and retried notices end where they
// should, and finishing twice changes nothing.
func TestClaimedNoticesAreLeasedFinishedAndMootAfterRenewal(t *testing.T) {
	e := newEnv(t)
	ids := []int64{11, 12, 13, 14}
	e.subscribed(ids...)
	e.exec(`UPDATE subscriptions SET expires_at = now() - interval '1 minute' WHERE user_id = ANY($1)`, ids)
	if n, err := e.s.EnqueueExpiryNotices(e.ctx, e.dbNow(), ids); err != nil || n != 4 {
		t.Fatalf("wrote %d (err %v)", n, err)
	}
	// User 14 renews before the drain gets to the notice.
	e.exec(`UPDATE subscriptions SET expires_at = now() + interval '30 days' WHERE user_id = 14`)

	c, err := e.s.ClaimNotices(e.ctx, 2, time.Minute, nil)
	if err != nil || len(c.Notices) != 2 || c.Moot != 0 {
		t.Fatalf("first claim: %+v err %v, want 2 notices", c, err)
	}
	if c.Notices[0].UserID != 11 || c.Notices[0].Notice.Message != "subscription_expired" || c.Notices[0].Attempts != 1 {
		t.Fatalf("first claimed notice %+v", c.Notices[0])
	}
	if due, _ := e.s.NoticesDue(e.ctx, nil); !due {
		t.Fatal("two notices are still due")
	}
	c2, err := e.s.ClaimNotices(e.ctx, 10, time.Minute, nil)
	if err != nil || len(c2.Notices) != 1 || c2.Notices[0].UserID != 13 || c2.Moot != 1 {
		t.Fatalf("second claim: %+v err %v, want user 13's notice and 1 moot", c2, err)
	}
	if due, _ := e.s.NoticesDue(e.ctx, nil); due {
		t.Fatal("every notice is claimed or dropped, yet some are due")
	}

	out := store.NoticeOutcome{
		Sent:    []int64{c.Notices[0].ID},
		Dropped: map[int64]string{c.Notices[1].ID: "refused: blocked"},
		Retry:   []int64{c2.Notices[0].ID}, RetryAfter: time.Hour,
	}
	for range 2 {
		if err := e.s.FinishNotices(e.ctx, out); err != nil {
			t.Fatal(err)
		}
	}
	want := map[int64]string{11: "sent", 12: "refused: blocked", 13: "pending", 14: store.DroppedMoot}
	for id, w := range want {
		ns, _ := e.s.NoticesOf(e.ctx, id)
		if len(ns) != 1 {
			t.Fatalf("user %d: %+v", id, ns)
		}
		got := "pending"
		switch {
		case ns[0].Sent:
			got = "sent"
		case ns[0].Dropped != nil:
			got = *ns[0].Dropped
		}
		if got != w {
			t.Errorf("user %d's notice: %s, want %s", id, got, w)
		}
	}
	// User 13's retry waits an hour: nothing is due now; once its lease
	// runs out it is claimed again, a second attempt.
	if c3, _ := e.s.ClaimNotices(e.ctx, 10, time.Minute, nil); len(c3.Notices) != 0 {
		t.Fatalf("claimed %+v before the retry's time", c3.Notices)
	}
	e.exec(`UPDATE notice_outbox SET claimed_until = now() - interval '1 second' WHERE user_id = 13`)
	if c3, _ := e.s.ClaimNotices(e.ctx, 10, time.Minute, nil); len(c3.Notices) != 1 || c3.Notices[0].Attempts != 2 {
		t.Fatalf("after the retry's time: %+v, want user 13's notice on its second attempt", c3.Notices)
	}

	// Claimed by a run that ended before sending it: handed back, it is
	// claimed at once, on the same attempt count.
	if err := e.s.FinishNotices(e.ctx, store.NoticeOutcome{Released: []int64{c2.Notices[0].ID}}); err != nil {
		t.Fatal(err)
	}
	if c4, _ := e.s.ClaimNotices(e.ctx, 10, time.Minute, nil); len(c4.Notices) != 1 || c4.Notices[0].Attempts != 2 {
		t.Fatalf("after the release: %+v, want user 13's notice again, still its second attempt", c4.Notices)
	}

	// Old finished rows are pruned; the pending one stays.
	e.exec(`UPDATE notice_outbox SET created_at = now() - interval '8 days'`)
	if n, err := e.s.PruneNotices(e.ctx, 100); err != nil || n != 3 {
		t.Fatalf("pruned %d (err %v), want the 3 finished", n, err)
	}
}

// TestReminderIsWrittenOncePerStageAndMootAfterRenewal: a reminder stage
// is written once per period however often the workflow writes it (a
// retry after the commit, a continue-as-new); another stage of the same
// period is a notice of its own; a renewal before the send makes it moot.
func TestReminderIsWrittenOncePerStageAndMootAfterRenewal(t *testing.T) {
	e := newEnv(t)
	e.subscribed(21, 22)
	expiresOf := func(id int64) time.Time {
		sub, err := e.s.GetSubscription(e.ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return sub.ExpiresAt
	}
	for _, id := range []int64{21, 22} {
		n := notice.Reminder("1m", expiresOf(id), 24*time.Hour)
		for range 2 {
			if err := e.s.EnqueueReminder(e.ctx, id, 24*time.Hour, n); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := e.s.EnqueueReminder(e.ctx, 21, time.Hour, notice.Reminder("1m", expiresOf(21), time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := e.s.EnqueueReminder(e.ctx, 21, 0, notice.Reminder("1m", expiresOf(21), time.Hour)); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("a reminder without a stage: %v, want ErrInvalid", err)
	}
	if ns, _ := e.s.NoticesOf(e.ctx, 21); len(ns) != 2 || ns[0].Message != "reminder" || ns[1].Message != "reminder" {
		t.Fatalf("user 21's outbox: %+v, want the two stages", ns)
	}
	// User 22 renews before the drain gets to the reminder.
	e.exec(`UPDATE subscriptions SET expires_at = expires_at + interval '30 days' WHERE user_id = 22`)
	c, err := e.s.ClaimNotices(e.ctx, 10, time.Minute, nil)
	if err != nil || len(c.Notices) != 2 || c.Moot != 1 {
		t.Fatalf("claim: %+v err %v, want user 21's two reminders and one moot", c, err)
	}
	for _, n := range c.Notices {
		if n.UserID != 21 || n.Notice.Message != "reminder" || n.Notice.Expires.IsZero() || n.Notice.Left <= 0 {
			t.Errorf("claimed %+v, want user 21's reminder with its period's end and time left", n)
		}
	}
	if ns, _ := e.s.NoticesOf(e.ctx, 22); len(ns) != 1 || ns[0].Dropped == nil || *ns[0].Dropped != store.DroppedMoot {
		t.Fatalf("user 22's outbox: %+v, want the reminder dropped as moot", ns)
	}
}
