package store_test

import (
	"sync"
	"testing"
	"time"

	"vpnflow/internal/store"
)

// TestMoveSubscription: a user on a node being left goes to the least
// loaded other enabled node, preferring their region, in one audited
// transaction; a repeated move does nothing.
func TestMoveSubscription(t *testing.T) {
	e := newEnv(t)
	e.onlyNodes()
	dead := e.addNode("dead", "eu", 100)
	eu := e.addNode("eu2", "eu", 100)
	us := e.addNode("us1", "us", 100)
	// Everyone starts on dead: the others take no users yet.
	e.exec(`UPDATE nodes SET state = 'draining' WHERE id IN ($1, $2)`, eu.ID, us.ID)
	for id := int64(1); id <= 4; id++ {
		if node := e.mustTrialOn(id); node != dead.ID {
			t.Fatalf("user %d placed on %d", id, node)
		}
	}
	e.exec(`UPDATE users SET region = 'eu' WHERE telegram_id = 1`)
	e.exec(`UPDATE subscriptions SET status = 'expired' WHERE user_id = 4`)
	e.exec(`UPDATE nodes SET state = CASE WHEN id = $1 THEN 'draining' ELSE 'enabled' END WHERE id IN ($1, $2, $3)`,
		dead.ID, eu.ID, us.ID)

	// The user's region wins over load: us1 and eu2 are both empty.
	m, err := e.s.MoveSubscription(e.ctx, 1, dead.ID, "m1")
	if err != nil {
		t.Fatal(err)
	}
	if !m.Moved || m.To != eu.ID || !m.Live || m.Email == "" {
		t.Fatalf("move of user 1 = %+v, want moved to eu2 (%d), live", m, eu.ID)
	}
	if node, _ := e.s.UserNode(e.ctx, 1); node != eu.ID {
		t.Errorf("row of user 1 names node %d, want %d", node, eu.ID)
	}
	// Without a region, the least loaded: us1 (0 users) over eu2 (1).
	m, err = e.s.MoveSubscription(e.ctx, 2, dead.ID, "m1")
	if err != nil || !m.Moved || m.To != us.ID {
		t.Fatalf("move of user 2 = %+v, %v; want moved to us1 (%d)", m, err, us.ID)
	}
	// A repeated request: the row is no longer on dead, nothing happens.
	again, err := e.s.MoveSubscription(e.ctx, 1, dead.ID, "m2")
	if err != nil || again.Moved || again.To != eu.ID {
		t.Fatalf("repeated move of user 1 = %+v, %v; want not moved, on %d", again, err, eu.ID)
	}
	// The same move retried (its reply lost) answers as the first time,
	// and moves nothing more.
	retried, err := e.s.MoveSubscription(e.ctx, 1, dead.ID, "m1")
	if err != nil || !retried.Moved || retried.To != eu.ID || !retried.Live {
		t.Fatalf("retried move of user 1 = %+v, %v; want the first answer", retried, err)
	}
	// An expired row is moved too (its renewal belongs on a live node),
	// and says it is not live.
	m, err = e.s.MoveSubscription(e.ctx, 4, dead.ID, "m1")
	if err != nil || !m.Moved || m.Live {
		t.Fatalf("move of expired user 4 = %+v, %v", m, err)
	}
	if n := e.count(`SELECT count(*) FROM audit_log WHERE event = $1 AND (details->>'from')::int = $2`, store.EventNodeMoved, dead.ID); n != 3 {
		t.Errorf("%d moves audited, want 3", n)
	}
	// Nowhere to go: the row stays, and says why.
	e.exec(`UPDATE nodes SET state = 'disabled' WHERE id IN ($1, $2)`, eu.ID, us.ID)
	m, err = e.s.MoveSubscription(e.ctx, 3, dead.ID, "m1")
	if err != nil || m.Moved || !m.NoNode || m.To != dead.ID {
		t.Fatalf("move of user 3 with no enabled node = %+v, %v", m, err)
	}
	if _, err := e.s.MoveSubscription(e.ctx, 99, dead.ID, "m1"); !errorIs(err, store.ErrNotFound) {
		t.Errorf("move of a user without a subscription: %v, want ErrNotFound", err)
	}
}

// TestMoveSubscriptionConcurrent: moves at once share the placement lock,
// so they spread by load as placements do.
func TestMoveSubscriptionConcurrent(t *testing.T) {
	e := newEnv(t)
	e.onlyNodes()
	dead := e.addNode("dead", "", 100)
	a := e.addNode("a", "", 100)
	b := e.addNode("b", "", 100)
	e.exec(`UPDATE nodes SET state = 'draining' WHERE id IN ($1, $2)`, a.ID, b.ID)
	const n = 20
	for id := int64(1); id <= n; id++ {
		e.mustTrialOn(id)
	}
	e.exec(`UPDATE nodes SET state = CASE WHEN id = $1 THEN 'draining' ELSE 'enabled' END WHERE id IN ($1, $2, $3)`,
		dead.ID, a.ID, b.ID)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for id := int64(1); id <= n; id++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.s.MoveSubscription(e.ctx, id, dead.ID, "m1"); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	onA := e.count(`SELECT count(*) FROM subscriptions WHERE node_id = $1`, a.ID)
	onB := e.count(`SELECT count(*) FROM subscriptions WHERE node_id = $1`, b.ID)
	if onA != n/2 || onB != n/2 {
		t.Errorf("moved users: %d on a, %d on b; want %d each", onA, onB, n/2)
	}
	ids, err := e.s.NodeUsersAfter(e.ctx, dead.ID, 0, 100)
	if err != nil || len(ids) != 0 {
		t.Errorf("users left on dead: %v, %v", ids, err)
	}
}

// TestFailoverRule: a node is due when its probes have failed for the
// configured time, another enabled node is healthy, and it was not failed
// over within the cooldown; BeginFailover sets it draining once.
func TestFailoverRule(t *testing.T) {
	e := newEnv(t)
	e.onlyNodes()
	dead := e.addNode("dead", "", 100)
	good := e.addNode("good", "", 100)
	e.mustTrialOn(1)
	e.mustTrialOn(2)
	e.exec(`UPDATE subscriptions SET node_id = $1`, dead.ID)
	now := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	probe := func(at time.Time, deadErr string) {
		t.Helper()
		if err := e.s.RecordNodeHealth(e.ctx, []store.NodeHealth{
			{NodeID: dead.ID, At: at, Error: deadErr}, {NodeID: good.ID, At: at},
		}); err != nil {
			t.Fatal(err)
		}
	}
	rule := store.FailoverRule{Now: now, After: 3 * time.Minute, Cooldown: time.Hour}
	due := func(r store.FailoverRule) []int16 {
		t.Helper()
		ns, err := e.s.DueFailovers(e.ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int16
		for _, n := range ns {
			ids = append(ids, n.ID)
		}
		return ids
	}
	probe(now.Add(-10*time.Minute), "")
	probe(now.Add(-2*time.Minute), "connection refused")
	probe(now.Add(-time.Minute), "connection refused")
	// Failing for 9 minutes since it last answered, but the last answer
	// is what counts: 10 minutes ago, so due.
	if got := due(rule); len(got) != 1 || got[0] != dead.ID {
		t.Fatalf("due = %v, want [%d]", got, dead.ID)
	}
	// Not yet due with a longer delay.
	if got := due(store.FailoverRule{Now: now, After: 15 * time.Minute, Cooldown: time.Hour}); len(got) != 0 {
		t.Errorf("due with a 15m delay = %v, want none", got)
	}
	// Not due when no other enabled node is healthy.
	e.exec(`UPDATE nodes SET state = 'draining' WHERE id = $1`, good.ID)
	if got := due(rule); len(got) != 0 {
		t.Errorf("due with no healthy node to move to = %v", got)
	}
	if started, _, err := e.s.BeginFailover(e.ctx, dead.ID, rule); err != nil || started {
		t.Errorf("failover with nowhere to go: started %v, %v", started, err)
	}
	e.exec(`UPDATE nodes SET state = 'enabled' WHERE id = $1`, good.ID)

	started, users, err := e.s.BeginFailover(e.ctx, dead.ID, rule)
	if err != nil || !started || users != 2 {
		t.Fatalf("BeginFailover = %v, %d users, %v; want started with 2", started, users, err)
	}
	// A retry of the same health check step gets the same answer, so it
	// goes on to start the evacuation.
	if again, _, err := e.s.BeginFailover(e.ctx, dead.ID, rule); err != nil || !again {
		t.Errorf("BeginFailover retried at the same time = %v, %v; want started", again, err)
	}
	if got := due(rule); len(got) != 1 || got[0] != dead.ID {
		t.Errorf("due at the failover's own time = %v, want [%d]", got, dead.ID)
	}
	n, err := e.s.GetNode(e.ctx, dead.ID)
	if err != nil || n.State != store.NodeDraining || n.FailedOverAt == nil || !n.FailedOverAt.Equal(now) {
		t.Fatalf("failed-over node = %+v, %v; want draining, failed over at %s", n, err, now)
	}
	// Once: within the cooldown it is neither due nor failed over again,
	// even after an operator re-enables it and it fails again.
	e.exec(`UPDATE nodes SET state = 'enabled' WHERE id = $1`, dead.ID)
	later := store.FailoverRule{Now: now.Add(30 * time.Minute), After: 3 * time.Minute, Cooldown: time.Hour}
	probe(later.Now.Add(-time.Minute), "connection refused")
	if got := due(later); len(got) != 0 {
		t.Errorf("due within the cooldown = %v", got)
	}
	if started, _, _ := e.s.BeginFailover(e.ctx, dead.ID, later); started {
		t.Error("failed over again within the cooldown")
	}
	// After it, it is.
	after := store.FailoverRule{Now: now.Add(2 * time.Hour), After: 3 * time.Minute, Cooldown: time.Hour}
	probe(after.Now.Add(-time.Minute), "connection refused")
	if got := due(after); len(got) != 1 {
		t.Errorf("due after the cooldown = %v, want [%d]", got, dead.ID)
	}
	// A node whose last probe answered is never due.
	probe(after.Now, "")
	if got := due(store.FailoverRule{Now: after.Now.Add(time.Hour), After: time.Minute, Cooldown: time.Hour}); len(got) != 0 {
		t.Errorf("healthy node due = %v", got)
	}
	st, err := e.s.NodeEvacuationStatus(e.ctx, dead.ID)
	if err != nil || st.Users != 2 || st.HealthyAt == nil || !st.HealthyAt.Equal(after.Now) {
		t.Errorf("evacuation status = %+v, %v", st, err)
	}
}

// TestRenewalLeavesANodeThatTakesNoUsers: an evacuation moves live users
// only, so an expired user still names the failed-over node; their
// renewal puts them on a node that takes users, and a renewal while on an
// enabled node (or while live, which the evacuation moves) stays put.
func TestRenewalLeavesANodeThatTakesNoUsers(t *testing.T) {
	e := newEnv(t)
	e.onlyNodes()
	dead := e.addNode("dead", "eu", 100)
	for id := int64(1); id <= 3; id++ {
		if node := e.mustTrialOn(id); node != dead.ID {
			t.Fatalf("user %d placed on %d", id, node)
		}
	}
	alive := e.addNode("alive", "eu", 100)
	e.exec(`UPDATE subscriptions SET status = 'expired', expires_at = now() - interval '1 day' WHERE user_id IN (1, 2)`)
	e.exec(`UPDATE nodes SET state = 'draining' WHERE id = $1`, dead.ID)

	grant := func(id int64, ref string) {
		t.Helper()
		if _, err := e.s.GrantTime(e.ctx, store.GrantParams{UserID: id, Duration: 24 * time.Hour, Kind: "admin", Reference: ref, EmailDomain: domain}); err != nil {
			t.Fatal(err)
		}
	}
	grant(1, "renew")
	if node, _ := e.s.UserNode(e.ctx, 1); node != alive.ID {
		t.Errorf("expired user 1 renewed on node %d, want %d (dead is draining)", node, alive.ID)
	}
	// Live on the draining node: the evacuation's to move, not the renewal's.
	grant(3, "renew")
	if node, _ := e.s.UserNode(e.ctx, 3); node != dead.ID {
		t.Errorf("live user 3 renewed on node %d, want it left on %d for the evacuation", node, dead.ID)
	}
	// Nowhere else to go: the renewal is credited where the row is.
	e.exec(`UPDATE nodes SET state = 'disabled' WHERE id = $1`, alive.ID)
	grant(2, "renew")
	if node, _ := e.s.UserNode(e.ctx, 2); node != dead.ID {
		t.Errorf("expired user 2 renewed on node %d with no node enabled, want %d", node, dead.ID)
	}
	if n := e.count(`SELECT count(*) FROM audit_log WHERE event = $1 AND user_id = 1`, store.EventNodeMoved); n != 1 {
		t.Errorf("%d moves of user 1 audited, want 1", n)
	}
}
