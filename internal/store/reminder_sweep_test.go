package store_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"vpnflow/internal/notice"
	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

// TestReminderSweepWritesWhatTheWorkflowWould: a claim given a reminder
// sweep writes the reminders whose stage moment fell in its window, by the
// workflow's rules, and claims them at once. It skips a stage of the other
// kind of period, one past when the row last changed (a period that began
// after the moment), one at or after an auto-renewal's moment, one outside
// the window, and rows not live. A second sweep, and the workflow's own
// write, add nothing.
func TestReminderSweepWritesWhatTheWorkflowWould(t *testing.T) {
	e := newEnv(t)
	ids := []int64{31, 32, 33, 34, 35, 36, 37, 38, 39}
	e.subscribed(ids...)
	now := e.dbNow()
	set := func(id int64, sql string, args ...any) {
		t.Helper()
		e.exec(`UPDATE subscriptions SET `+sql+` WHERE user_id = $1`, append([]any{id}, args...)...)
	}
	day, hour := 24*time.Hour, time.Hour
	due := func(lead time.Duration) time.Time { return now.Add(lead - 30*time.Second) } // the stage's moment 30 s ago
	old := now.Add(-48 * time.Hour)
	set(31, `expires_at = $2, updated_at = $3`, due(day), old)                                     // paid, 24 h stage: written
	set(32, `status = 'trial', is_trial = true, expires_at = $2, updated_at = $3`, due(hour), old) // trial, 1 h stage: written
	set(33, `auto_renew = true, expires_at = $2, updated_at = $3`, due(day), old)                  // renews at 24 h: left to the workflow
	set(34, `auto_renew = true, expires_at = $2, updated_at = $3`, due(72*time.Hour), old)         // 72 h stage, before the renewal: written
	set(35, `expires_at = $2, updated_at = $3`, due(day), now.Add(-10*time.Second))                // the period began after the moment
	set(36, `expires_at = $2, updated_at = $3`, now.Add(day+hour), old)                            // not due yet
	set(37, `expires_at = $2, updated_at = $3`, now.Add(day-20*time.Minute), old)                  // due before the window
	set(38, `status = 'trial', is_trial = true, expires_at = $2, updated_at = $3`, due(day), old)  // a paid stage on a trial
	set(39, `status = 'expired', expires_at = $2, updated_at = $3`, due(hour), old)                // not live
	sweep := &store.ReminderSweep{From: now.Add(-2 * time.Minute), Now: now, Rules: store.ReminderRules{
		Trial: []time.Duration{hour}, Paid: []time.Duration{72 * time.Hour, day, hour}, AutoRenewLead: day,
	}}

	if due, err := e.s.NoticesDue(e.ctx, nil); err != nil || due {
		t.Fatalf("an empty outbox is due: %t (err %v)", due, err)
	}
	if due, err := e.s.NoticesDue(e.ctx, sweep); err != nil || !due {
		t.Fatalf("due reminders not seen by the poll: %t (err %v)", due, err)
	}
	c, err := e.s.ClaimNotices(e.ctx, 10, time.Minute, sweep)
	if err != nil || c.Reminded != 3 || !c.SweptTo.Equal(now) {
		t.Fatalf("claim with a sweep: %+v (err %v), want 3 reminders written and swept to %s", c, err, now)
	}
	got := map[int64]notice.Notice{}
	for _, n := range c.Notices {
		got[n.UserID] = n.Notice
	}
	want := map[int64]time.Duration{31: day, 32: hour, 34: 72 * time.Hour}
	if len(got) != len(want) {
		t.Fatalf("claimed %+v, want the reminders of users 31, 32 and 34", c.Notices)
	}
	for id, lead := range want {
		sub, _ := e.s.GetSubscription(e.ctx, id)
		n := got[id]
		if n.Message != "reminder" || n.UserID != id || !n.Expires.Equal(sub.ExpiresAt) || n.Left != lead-30*time.Second {
			t.Errorf("user %d's reminder: %+v, want the %s stage of the period ending %s", id, n, lead, sub.ExpiresAt)
		}
	}

	// The user's workflow writes its reminder too, and the sweep runs
	// again over the same window: the outbox still holds one.
	sub31, _ := e.s.GetSubscription(e.ctx, 31)
	if err := e.s.EnqueueReminder(e.ctx, 31, day, notice.Reminder(sub31.PlanID, sub31.ExpiresAt, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if c2, err := e.s.ClaimNotices(e.ctx, 10, time.Minute, sweep); err != nil || c2.Reminded != 0 || len(c2.Notices) != 0 {
		t.Fatalf("a second sweep: %+v (err %v), want nothing written or claimed", c2, err)
	}
	for _, id := range ids {
		ns, _ := e.s.NoticesOf(e.ctx, id)
		if _, ok := want[id]; ok != (len(ns) == 1) || len(ns) > 1 {
			t.Errorf("user %d's outbox: %+v", id, ns)
		}
	}
	later := &store.ReminderSweep{From: now, Now: now.Add(time.Second), Rules: sweep.Rules}
	if due, err := e.s.NoticesDue(e.ctx, later); err != nil || due {
		t.Fatalf("the next window is due: %t (err %v), want nothing", due, err)
	}
	if _, err := e.s.ClaimNotices(e.ctx, 10, time.Minute, &store.ReminderSweep{Now: now}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("a sweep without its start: %v, want ErrInvalid", err)
	}
}

// TestReminderSweepLooksBackAtMostItsLimit: a window reaching further back
// than store.ReminderSweepMax (the drain was down) is cut short; the
// workflows write what fell before it.
func TestReminderSweepLooksBackAtMostItsLimit(t *testing.T) {
	e := newEnv(t)
	e.subscribed(41, 42)
	now := e.dbNow()
	old := now.Add(-48 * time.Hour)
	e.exec(`UPDATE subscriptions SET expires_at = $2, updated_at = $3 WHERE user_id = $1`, 41, now.Add(time.Hour-store.ReminderSweepMax+time.Minute), old)
	e.exec(`UPDATE subscriptions SET expires_at = $2, updated_at = $3 WHERE user_id = $1`, 42, now.Add(time.Hour-store.ReminderSweepMax-time.Minute), old)
	c, err := e.s.ClaimNotices(e.ctx, 10, time.Minute, &store.ReminderSweep{
		From: now.Add(-time.Hour), Now: now, Rules: store.ReminderRules{Paid: []time.Duration{time.Hour}},
	})
	if err != nil || c.Reminded != 1 || len(c.Notices) != 1 || c.Notices[0].UserID != 41 {
		t.Fatalf("claim: %+v (err %v), want user 41's reminder only", c, err)
	}
}

// TestAFailingReminderSweepDoesNotStopTheClaim: when the sweep's insert
// fails (here a trigger refuses reminder rows), the claim still hands out
// the notices already in the outbox and says the sweep failed; once the
// fault is gone, the same window is swept.
func TestAFailingReminderSweepDoesNotStopTheClaim(t *testing.T) {
	e := newEnv(t)
	e.subscribed(51, 52)
	now := e.dbNow()
	e.exec(`UPDATE subscriptions SET expires_at = now() - interval '1 minute' WHERE user_id = 51`)
	if n, err := e.s.EnqueueExpiryNotices(e.ctx, e.dbNow(), []int64{51}); err != nil || n != 1 {
		t.Fatalf("expiry notice: %d, %v", n, err)
	}
	e.exec(`UPDATE subscriptions SET expires_at = $2, updated_at = $3 WHERE user_id = $1`, 52, now.Add(time.Hour-30*time.Second), now.Add(-48*time.Hour))
	e.exec(`CREATE FUNCTION refuse_reminders() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'reminders refused by the test'; END $$`)
	e.exec(`CREATE TRIGGER refuse_reminders BEFORE INSERT ON notice_outbox FOR EACH ROW
		WHEN (NEW.dedup LIKE 'reminder:%') EXECUTE FUNCTION refuse_reminders()`)
	sweep := &store.ReminderSweep{From: now.Add(-time.Minute), Now: now, Rules: store.ReminderRules{Paid: []time.Duration{time.Hour}}}

	c, err := e.s.ClaimNotices(e.ctx, 10, time.Minute, sweep)
	if err != nil || len(c.Notices) != 1 || c.Notices[0].UserID != 51 || c.Reminded != 0 || !c.SweptTo.IsZero() ||
		!strings.Contains(c.SweepFailed, "reminders refused by the test") {
		t.Fatalf("claim with a failing sweep: %+v (err %v), want user 51's notice claimed and the failure said", c, err)
	}
	e.exec(`DROP TRIGGER refuse_reminders ON notice_outbox`)
	c, err = e.s.ClaimNotices(e.ctx, 10, time.Minute, sweep)
	if err != nil || c.Reminded != 1 || len(c.Notices) != 1 || c.Notices[0].UserID != 52 || c.SweepFailed != "" {
		t.Fatalf("claim once the fault is gone: %+v (err %v), want user 52's reminder", c, err)
	}
}

// subscribed gives each user a paid 30-day subscription.
func (e *env) subscribed(ids ...int64) {
	e.t.Helper()
	for _, id := range ids {
		e.user(id, "")
		e.mustCredit(e.purchase(id, shop.KindSubscription, shop.ProviderCryptoPay, 300, 30).ID, 0)
	}
}
