package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"vpnflow/internal/schedules"
	"vpnflow/internal/shop"
	"vpnflow/workflows"
)

// TestReconcileNeverServesAnOverdueKey: rows stay 'active' in the database
// after their expiry has passed, behind their workflows' backs (no
// Subscription workflow ever ran for them; an operator moved the expiry).
// Reconciliation removes their keys from Xray and does not put them back,
// hands each overdue row to its subscription workflow with the
// expire-overdue signal, and tells the admin how many it found. A row
// within the grace is left to its own timer, but its key is not served
// either.
func TestReconcileNeverServesAnOverdueKey(t *testing.T) {
	t.Parallel() // waits on the shop's clocks most of its time (harness: parallel)
	s := startShop(t, reconcileConfig)
	admin := s.newUser("Admin")
	if !s.cfg.IsAdmin(admin) {
		t.Fatalf("the stand-in's first user %d is not in ADMIN_IDS %v", admin, s.cfg.AdminIDs)
	}
	s.say(admin, "/start") // a bot may only write to users who wrote to it
	s.startWorkerOnly()
	s.waitWatchSettled()
	ctx := context.Background()

	ids := s.liveUsers(870_000_001, 4)
	inXray, notInXray, fine, justPast := ids[0], ids[1], ids[2], ids[3]
	if res, _, _ := s.reconcileOnce(schedules.ReconcileInput{}); res.Readded != 4 {
		t.Fatalf("first reconcile: %+v, want the 4 keys added", res)
	}
	email := func(id int64) string {
		sub, err := s.store.GetSubscription(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return sub.XrayEmail
	}
	if err := s.xray.RemoveUser(ctx, email(notInXray)); err != nil {
		t.Fatal(err)
	}
	for id, ago := range map[int64]time.Duration{inXray: time.Hour, notInXray: 48 * time.Hour, justPast: 5 * time.Minute} {
		if _, err := s.pool.Exec(ctx, `UPDATE subscriptions SET expires_at = $2 WHERE user_id = $1`, id, time.Now().Add(-ago)); err != nil {
			t.Fatal(err)
		}
	}

	res, _, _ := s.reconcileOnce(schedules.ReconcileInput{})
	// The key 5 minutes past its expiry (within the grace: in an expiry
	// storm its workflow may still be on its way) has no workflow here and
	// is removed by this reconcile; the overdue one in Xray is removed either here or, first,
	// by its own Subscription workflow, which the sweep has just signalled.
	if res.Overdue != 2 || res.Readded != 0 || res.Removed < 1 || res.Removed > 2 || res.Errors != 0 {
		t.Errorf("reconcile: %+v, want 2 overdue, 1 or 2 removed (the one just past, and the overdue key unless its workflow was first), none re-added", res)
	}
	check := func(when string) {
		t.Helper()
		have, err := s.xrayUsers()
		if err != nil {
			t.Fatal(err)
		}
		for id, want := range map[int64]bool{inXray: false, notInXray: false, justPast: false, fine: true} {
			if _, got := have[email(id)]; got != want {
				t.Errorf("%s: user %d in xray: %v, want %v", when, id, got, want)
			}
		}
	}
	check("after the reconcile")

	// Each overdue row went to its Subscription workflow; the row within
	// the grace and the live one did not.
	for id, want := range map[int64]bool{inXray: true, notInXray: true, justPast: false, fine: false} {
		if got := s.signalled(shop.SubscriptionWorkflowID(id), shop.SignalExpireOverdue); got != want {
			t.Errorf("user %d: subscription workflow signalled %s: %v, want %v", id, shop.SignalExpireOverdue, got, want)
		}
	}
	alert := s.waitText(admin, 0, "Missed expiries: 2")
	for _, id := range []int64{inXray, notInXray} {
		if want := fmt.Sprint(id); !strings.Contains(alert.Text, want) {
			t.Errorf("the alert does not name user %s:\n%s", want, alert.Text)
		}
	}

	// Another run puts nothing back.
	res, _, _ = s.reconcileOnce(schedules.ReconcileInput{})
	if res.Readded != 0 {
		t.Errorf("second reconcile re-added %d keys: %+v", res.Readded, res)
	}
	check("after a second reconcile")
	if workflows.OverdueGrace < 5*time.Minute {
		t.Fatalf("the grace %s no longer covers the row 5 minutes past its expiry (an expiry storm's backlog); adjust the test", workflows.OverdueGrace)
	}
}

// signalled reports whether the workflow's current run received a signal
// of this name.
func (s *shopEnv) signalled(workflowID, name string) bool {
	s.t.Helper()
	it := s.temporal.GetWorkflowHistory(context.Background(), workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return false // no such workflow
		}
		if a := ev.GetWorkflowExecutionSignaledEventAttributes(); a != nil && a.GetSignalName() == name {
			return true
		}
	}
	return false
}
