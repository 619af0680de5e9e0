package activities

import (
	"slices"
	"testing"
	"time"

	"vpnflow/internal/dev/stack"
	"vpnflow/internal/dev/testenv"
	"vpnflow/internal/schedules"
	"vpnflow/internal/xray"
)

// revokeEnv is paid users whose keys are all in a fresh Xray.
type revokeEnv struct {
	*dbEnv
	xc  *xray.Client
	srv *stack.XrayServer
}

func newRevokeEnv(t *testing.T, users int) *revokeEnv {
	e := &revokeEnv{dbEnv: newDBEnv(t), srv: testenv.NewXray(t)}
	e.xc = e.useXray(e.srv)
	e.a.Config.XrayEmailDomain = "vpnflow"
	for id := int64(1); id <= int64(users); id++ {
		e.paidUser(id)
		if _, err := e.run(e.a.EnsureVLESSUser, UserRef{UserID: id}, nil); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// expire moves the users' expiry a minute into the past; their rows stay
// marked active, as when their workflows have not got to them yet.
func (e *revokeEnv) expire(ids ...int64) {
	e.t.Helper()
	if _, err := e.pool.Exec(e.ctx, `UPDATE subscriptions SET expires_at = now() - interval '1 minute' WHERE user_id = ANY($1)`, ids); err != nil {
		e.t.Fatal(err)
	}
}

// renew moves the users' expiry a month ahead, as a credited renewal does.
func (e *revokeEnv) renew(ids ...int64) {
	e.t.Helper()
	if _, err := e.pool.Exec(e.ctx, `UPDATE subscriptions SET expires_at = now() + interval '30 days' WHERE user_id = ANY($1)`, ids); err != nil {
		e.t.Fatal(err)
	}
}

// inXray lists which of the users' keys Xray holds.
func (e *revokeEnv) inXray(ids ...int64) []int64 {
	e.t.Helper()
	var held []int64
	for _, id := range ids {
		sub, err := e.s.GetSubscription(e.ctx, id)
		if err != nil {
			e.t.Fatal(err)
		}
		u, found, err := e.xc.GetUser(e.ctx, sub.XrayEmail)
		if err != nil {
			e.t.Fatal(err)
		}
		if found {
			if u.UUID != sub.VLESSUUID.String() {
				e.t.Fatalf("user %d: Xray holds another key under %s", id, sub.XrayEmail)
			}
			held = append(held, id)
		}
	}
	return held
}

func (e *revokeEnv) sweep(in RevokeExpiredInput) RevokeExpiredResult {
	e.t.Helper()
	out, err := e.run(e.a.RevokeExpired, in, RevokeExpiredResult{})
	if err != nil {
		e.t.Fatal(err)
	}
	return out.(RevokeExpiredResult)
}

// The sweep takes every expired-but-still-marked-live key out of Xray, page
// by page, leaves live keys alone and never changes a subscription: each
// user's workflow still expires them. It writes the expiry notices of the
// rows still marked live to the outbox, once. A row the workflow has
// expired already, whose key is still in Xray (the workflow's removal is
// queued), goes too, without a notice (its workflow wrote that); one
// expired long ago is reconciliation's.
func TestRevokeExpiredRemovesExpiredKeysOnly(t *testing.T) {
	e := newRevokeEnv(t, 7)
	e.expire(1, 2, 3, 5)
	if _, err := e.pool.Exec(e.ctx, `UPDATE subscriptions SET status = 'expired', expires_at = now() - interval '1 minute' WHERE user_id = 6;
		UPDATE subscriptions SET status = 'expired', expires_at = now() - interval '1 hour' WHERE user_id = 7`); err != nil {
		t.Fatal(err)
	}
	sub5, err := e.s.GetSubscription(e.ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.xc.RemoveUser(e.ctx, sub5.XrayEmail); err != nil { // already out
		t.Fatal(err)
	}

	res := e.sweep(RevokeExpiredInput{Now: time.Now(), PageSize: 2})
	if res.Expired != 5 || res.Removed != 4 || res.Restored != 0 || res.Errors != 0 || res.Told != 4 {
		t.Fatalf("sweep = %+v, want 5 expired, 4 removed, 4 told", res)
	}
	for id := int64(1); id <= 7; id++ {
		ns, err := e.s.NoticesOf(e.ctx, id)
		want := 0
		if id <= 5 && id != 4 {
			want = 1
		}
		if err != nil || len(ns) != want {
			t.Errorf("user %d: outbox %+v (err %v), want %d notices", id, ns, err, want)
		}
	}
	if got := e.inXray(1, 2, 3, 4, 5, 6, 7); !slices.Equal(got, []int64{4, 7}) {
		t.Fatalf("keys in Xray after the sweep: %v, want the live user 4 and the long-expired 7 (reconcile's)", got)
	}
	for _, id := range []int64{1, 2, 3} {
		sub, err := e.s.GetSubscription(e.ctx, id)
		if err != nil || sub.Status != "active" {
			t.Fatalf("user %d: the sweep changed the row: %v %v", id, sub, err)
		}
	}
	// A second run finds the rows still expired but nothing left to remove.
	if res := e.sweep(RevokeExpiredInput{Now: time.Now(), PageSize: 2}); res.Removed != 0 || res.Expired != 5 || res.Told != 0 {
		t.Fatalf("second sweep = %+v", res)
	}
}

// A run with nothing expired asks Xray nothing: it reads the database and
// ends, so a sweep every 30 s costs one indexed query, not a listing of
// every key on every node, and does not fail while a node is down. With
// a key due, it asks Xray again.
func TestRevokeExpiredWithNothingDueLeavesXrayAlone(t *testing.T) {
	e := newRevokeEnv(t, 2)
	e.srv.Stop()
	res, err := e.run(e.a.RevokeExpired, RevokeExpiredInput{Now: time.Now()}, RevokeExpiredResult{})
	if err != nil {
		t.Fatalf("sweep with nothing due, Xray stopped: %v", err)
	}
	if r := res.(RevokeExpiredResult); r != (RevokeExpiredResult{}) {
		t.Fatalf("sweep with nothing due = %+v, want nothing done", r)
	}
	e.expire(1)
	if _, err := e.run(e.a.RevokeExpired, RevokeExpiredInput{Now: time.Now()}, RevokeExpiredResult{}); err == nil {
		t.Fatal("sweep with a key due and Xray stopped reported success")
	}
}

// Rows stay marked live until their workflows expire them, so a run must
// read past the pages it has already swept: with pages of one key, three
// expired users are all removed in one run.
func TestRevokeExpiredReadsEveryPage(t *testing.T) {
	e := newRevokeEnv(t, 3)
	e.expire(1, 2)
	if res := e.sweep(RevokeExpiredInput{Now: time.Now(), PageSize: 1}); res.Removed != 2 || res.Expired != 2 {
		t.Fatalf("first sweep = %+v, want 2 removed", res)
	}
	// Users 1 and 2 are still marked live (their workflows are behind);
	// the next run must read past their rows to find user 3.
	e.expire(3)
	if res := e.sweep(RevokeExpiredInput{Now: time.Now(), PageSize: 1}); res.Removed != 1 || res.Expired != 3 {
		t.Fatalf("second sweep = %+v, want user 3's key removed", res)
	}
	if got := e.inXray(1, 2, 3); len(got) != 0 {
		t.Fatalf("keys left: %v", got)
	}
}

// A renewal that commits while the sweep removes the user's key (after the
// sweep listed the row as expired) must not leave a paying user without a
// key: the sweep reads the page again and puts the renewed key back.
func TestRevokeExpiredPutsBackAKeyRenewedMeanwhile(t *testing.T) {
	e := newRevokeEnv(t, 3)
	e.expire(1, 2, 3)
	afterRevokeRemovals = func(removed []int64) {
		if slices.Contains(removed, 2) {
			e.renew(2)
		}
	}
	t.Cleanup(func() { afterRevokeRemovals = nil })

	res := e.sweep(RevokeExpiredInput{Now: time.Now(), PageSize: 10})
	if res.Removed != 3 || res.Restored != 1 {
		t.Fatalf("sweep = %+v, want 3 removed and 1 put back", res)
	}
	if got := e.inXray(1, 2, 3); !slices.Equal(got, []int64{2}) {
		t.Fatalf("keys in Xray: %v, want the renewed user 2's key back", got)
	}
}

// An attempt that died between its removals and the check for renewals
// left the removed users in its heartbeat; the retry checks them first,
// since its fresh Xray listing no longer shows their keys.
func TestRevokeExpiredRetryChecksTheRemovedUsersFirst(t *testing.T) {
	e := newRevokeEnv(t, 2)
	sub1, err := e.s.GetSubscription(e.ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.xc.RemoveUser(e.ctx, sub1.XrayEmail); err != nil { // removed by the dead attempt
		t.Fatal(err)
	}
	// User 1 was renewed meanwhile (its row is live); user 2 was not in
	// the list.
	e.act.SetHeartbeatDetails(revokeProgress{Result: RevokeExpiredResult{Expired: 1, Removed: 1}, Unchecked: []int64{1}})
	res := e.sweep(RevokeExpiredInput{Now: time.Now(), PageSize: 10})
	if res.Restored != 1 || res.Removed != 1 {
		t.Fatalf("retried sweep = %+v, want the earlier removal counted and user 1 put back", res)
	}
	if got := e.inXray(1, 2); !slices.Equal(got, []int64{1, 2}) {
		t.Fatalf("keys in Xray: %v", got)
	}
}

// A sweep with a watch names the next second in it that holds a storm
// (schedules.RevokeStormSize keys or more), by its last expiry, and asks
// Xray nothing for it; one key fewer is no storm, and a sweep without a
// watch does not look.
func TestRevokeExpiredNamesTheNextStorm(t *testing.T) {
	e := newRevokeEnv(t, schedules.RevokeStormSize)
	e.srv.Stop()
	now := time.Now()
	second := now.Add(10 * time.Second).Truncate(time.Second)
	last := second.Add(900 * time.Millisecond)
	if _, err := e.pool.Exec(e.ctx, `UPDATE subscriptions SET expires_at = $1`, second.Add(100*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pool.Exec(e.ctx, `UPDATE subscriptions SET expires_at = $1 WHERE user_id = 1`, last); err != nil {
		t.Fatal(err)
	}
	watch := RevokeExpiredInput{Now: now, WatchUntil: now.Add(schedules.RevokeWatch)}
	if res := e.sweep(watch); !res.StormAt.Equal(last) || res.Removed != 0 {
		t.Fatalf("sweep = %+v, want the storm at %s", res, last)
	}
	if res := e.sweep(RevokeExpiredInput{Now: now}); !res.StormAt.IsZero() {
		t.Fatalf("a sweep without a watch named a storm: %+v", res)
	}
	if _, err := e.pool.Exec(e.ctx, `UPDATE subscriptions SET expires_at = now() + interval '1 hour' WHERE user_id = 2`); err != nil {
		t.Fatal(err)
	}
	if res := e.sweep(watch); !res.StormAt.IsZero() {
		t.Fatalf("%d keys in one second made a storm: %+v", schedules.RevokeStormSize-1, res)
	}
}
