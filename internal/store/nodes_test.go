package store_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

// testPublicKey is a valid REALITY public key (32 bytes, base64url).
const testPublicKey = "Gh1QKQJvVh3j5dOdmV9n3p8q1oZr0RjqSAh6TNdIWSs"

// addNode adds an enabled node named name in region with capacity.
func (e *env) addNode(name, region string, capacity int) store.Node {
	e.t.Helper()
	n, err := e.s.AddNode(e.ctx, store.Node{
		Name: name, Region: region, APIAddr: "127.0.0.1:20085", InboundTag: "vless-in", Host: name + ".example.com",
		Port: 443, PublicKey: testPublicKey, SNI: "www.example.com", ShortID: "0123abcd", Capacity: capacity,
		State: store.NodeEnabled,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// trialOn starts a trial for a new user id and returns the node it got.
func (e *env) trialOn(id int64) (int16, error) {
	e.t.Helper()
	e.user(id, "")
	sub, err := e.s.StartTrial(e.ctx, id, time.Hour, domain)
	return sub.NodeID, err
}

func (e *env) mustTrialOn(id int64) int16 {
	e.t.Helper()
	node, err := e.trialOn(id)
	if err != nil {
		e.t.Fatal(err)
	}
	return node
}

// onlyNodes leaves the env's own node out of placement.
func (e *env) onlyNodes() {
	e.exec(`UPDATE nodes SET state = 'disabled' WHERE id = $1`, e.node)
}

func TestPlacementLeastLoaded(t *testing.T) {
	e := newEnv(t)
	e.onlyNodes()
	small := e.addNode("small", "eu", 2)
	big := e.addNode("big", "eu", 6)
	got := map[int16]int{}
	for id := int64(1); id <= 8; id++ {
		got[e.mustTrialOn(id)]++
	}
	// Each new user goes where the share in use is smallest: 8 users over
	// capacities 2 and 6 fill both exactly.
	if got[small.ID] != 2 || got[big.ID] != 6 {
		t.Errorf("users per node = %v, want %d on small and %d on big", got, 2, 6)
	}
	// Every placement is in the audit log.
	if n := e.count(`SELECT count(*) FROM audit_log WHERE event = $1`, store.EventNodePlaced); n != 8 {
		t.Errorf("%d placements audited, want 8", n)
	}
	// Expired users free their place.
	e.exec(`UPDATE subscriptions SET status = 'expired' WHERE user_id = 1`)
	sub, err := e.s.GetSubscription(e.ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if node := e.mustTrialOn(9); node != sub.NodeID {
		t.Errorf("user 9 went to node %d, want %d, where user 1's place was freed", node, sub.NodeID)
	}
}

func TestPlacementCapacityFull(t *testing.T) {
	e := newEnv(t)
	e.onlyNodes()
	a := e.addNode("a", "", 1)
	b := e.addNode("b", "", 2)
	for id := int64(1); id <= 3; id++ {
		e.mustTrialOn(id)
	}
	// Every enabled node is full: a trial is refused and nothing is written.
	_, err := e.trialOn(4)
	wantErr(t, err, store.ErrNoCapacity)
	if n := e.count(`SELECT count(*) FROM subscriptions WHERE user_id = 4`); n != 0 {
		t.Errorf("a refused trial left %d subscription rows", n)
	}
	if n := e.count(`SELECT count(*) FROM trials WHERE user_id = 4`); n != 0 {
		t.Errorf("a refused trial used up the user's trial")
	}
	// Paid time is never refused: it goes past capacity, on the node least
	// over it, and says so in the audit log.
	e.user(5, "")
	r := e.mustCredit(e.purchase(5, shop.KindSubscription, shop.ProviderCryptoPay, 300, 30).ID, 0)
	sub, err := e.s.GetSubscription(e.ctx, 5)
	if err != nil || r.SubscriptionStatus != shop.StatusActive {
		t.Fatalf("paid user on full nodes: %+v, %v", r, err)
	}
	if sub.NodeID != b.ID && sub.NodeID != a.ID {
		t.Fatalf("placed on node %d", sub.NodeID)
	}
	if n := e.count(`SELECT count(*) FROM audit_log WHERE user_id = 5 AND event = $1 AND details->>'over_capacity' = 'true'`, store.EventNodePlaced); n != 1 {
		t.Errorf("over-capacity placement audited %d times, want 1", n)
	}
	// A grant as well.
	e.user(6, "")
	if _, err := e.s.GrantTime(e.ctx, store.GrantParams{UserID: 6, Duration: time.Hour, Kind: "admin", Reference: "full", EmailDomain: domain}); err != nil {
		t.Fatalf("grant on full nodes: %v", err)
	}
	// A freed place takes trials again.
	e.exec(`UPDATE nodes SET capacity = 10 WHERE id = $1`, a.ID)
	if node := e.mustTrialOn(7); node != a.ID {
		t.Errorf("after raising a's capacity the trial went to %d, want %d", node, a.ID)
	}
}

func TestPlacementSkipsDrainingAndDisabled(t *testing.T) {
	e := newEnv(t)
	e.onlyNodes()
	draining := e.addNode("draining", "", 100)
	disabled := e.addNode("disabled", "", 100)
	busy := e.addNode("busy", "", 100)
	for _, n := range []struct{ name, state string }{{"draining", store.NodeDraining}, {"disabled", store.NodeDisabled}} {
		if _, changed, err := e.s.SetNodeState(e.ctx, n.name, n.state); err != nil || !changed {
			t.Fatalf("set %s: changed %t, %v", n.name, changed, err)
		}
	}
	for id := int64(1); id <= 5; id++ {
		if node := e.mustTrialOn(id); node != busy.ID {
			t.Fatalf("user %d on node %d, want %d (the only enabled one; draining %d, disabled %d)", id, node, busy.ID, draining.ID, disabled.ID)
		}
	}
	// No enabled node at all: a trial is refused, paid time waits.
	if _, _, err := e.s.SetNodeState(e.ctx, "busy", store.NodeDraining); err != nil {
		t.Fatal(err)
	}
	_, err := e.trialOn(6)
	wantErr(t, err, store.ErrNoCapacity)
	e.user(7, "")
	_, err = e.credit(e.purchase(7, shop.KindSubscription, shop.ProviderCryptoPay, 300, 30).ID, 0)
	wantErr(t, err, store.ErrNoNode)
	if n := e.count(`SELECT count(*) FROM purchases WHERE user_id = 7 AND status = 'paid'`); n != 0 {
		t.Errorf("a credit with nowhere to place the key committed")
	}
	// An operator enables a node; the same credit goes through.
	if _, _, err := e.s.SetNodeState(e.ctx, "draining", store.NodeEnabled); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.CreditPurchase(e.ctx, store.CreditParams{PurchaseID: e.lastPurchase(7), EmailDomain: domain}); err != nil {
		t.Fatalf("credit once a node is enabled: %v", err)
	}
	if node, err := e.s.UserNode(e.ctx, 7); err != nil || node != draining.ID {
		t.Errorf("user 7 on node %d (%v), want %d", node, err, draining.ID)
	}
}

func (e *env) lastPurchase(userID int64) (id uuid.UUID) {
	e.t.Helper()
	if err := e.pool.QueryRow(e.ctx, `SELECT id FROM purchases WHERE user_id = $1 ORDER BY created_at DESC LIMIT 1`, userID).Scan(&id); err != nil {
		e.t.Fatal(err)
	}
	return id
}

func TestPlacementRegion(t *testing.T) {
	e := newEnv(t)
	e.onlyNodes()
	eu := e.addNode("eu-1", "eu", 100)
	us := e.addNode("us-1", "us", 2)
	regions, err := e.s.Regions(e.ctx)
	if err != nil || strings.Join(regions, ",") != "eu,us" {
		t.Fatalf("regions = %v, %v; want eu,us", regions, err)
	}
	// Users who chose us go there although eu is emptier, until us is full.
	for id := int64(1); id <= 3; id++ {
		e.user(id, "")
		if err := e.s.SetUserRegion(e.ctx, id, "us"); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		id   int64
		want int16
	}{{1, us.ID}, {2, us.ID}, {3, eu.ID}} {
		sub, err := e.s.StartTrial(e.ctx, c.id, time.Hour, domain)
		if err != nil || sub.NodeID != c.want {
			t.Errorf("user %d (chose us) on node %d (%v), want %d", c.id, sub.NodeID, err, c.want)
		}
	}
	// No choice: least loaded, which is eu.
	if node := e.mustTrialOn(4); node != eu.ID {
		t.Errorf("user without a region on node %d, want eu %d", node, eu.ID)
	}
	// "Any" is no choice either.
	e.user(5, "")
	if err := e.s.SetUserRegion(e.ctx, 5, store.RegionAny); err != nil {
		t.Fatal(err)
	}
	if sub, err := e.s.StartTrial(e.ctx, 5, time.Hour, domain); err != nil || sub.NodeID != eu.ID {
		t.Errorf("user who chose any on node %d (%v), want eu %d", sub.NodeID, err, eu.ID)
	}
	// Bad labels are refused.
	wantErr(t, e.s.SetUserRegion(e.ctx, 4, "Not A Region"), store.ErrInvalid)
	// A disabled region is no choice.
	if _, _, err := e.s.SetNodeState(e.ctx, "us-1", store.NodeDisabled); err != nil {
		t.Fatal(err)
	}
	if regions, _ := e.s.Regions(e.ctx); strings.Join(regions, ",") != "eu" {
		t.Errorf("regions with us disabled = %v, want eu", regions)
	}
}

// TestPlacementConcurrentRespectsCapacity: placements at once never take
// more places than there are.
func TestPlacementConcurrentRespectsCapacity(t *testing.T) {
	e := newEnv(t)
	e.onlyNodes()
	e.addNode("a", "", 5)
	e.addNode("b", "", 5)
	const users = 16
	for id := int64(1); id <= users; id++ {
		e.user(id, "")
	}
	var wg sync.WaitGroup
	errs := make([]error, users+1)
	for id := int64(1); id <= users; id++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[id] = e.s.StartTrial(e.ctx, id, time.Hour, domain)
		}()
	}
	wg.Wait()
	refused := 0
	for _, err := range errs[1:] {
		switch {
		case errors.Is(err, store.ErrNoCapacity):
			refused++
		case err != nil:
			t.Fatal(err)
		}
	}
	if refused != users-10 {
		t.Errorf("%d trials refused, want %d", refused, users-10)
	}
	usage, err := e.s.NodeUsages(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range usage {
		if u.State == store.NodeEnabled && u.Users != 5 {
			t.Errorf("node %s has %d users, want 5 (its capacity)", u.Name, u.Users)
		}
	}
}

func TestNodeValidation(t *testing.T) {
	e := newEnv(t)
	good := store.Node{Name: "n1", Region: "eu", APIAddr: "10.0.0.2:10085", InboundTag: "vless-in", Host: "n1.example.com",
		Port: 443, PublicKey: testPublicKey, SNI: "www.example.com", ShortID: "0123abcd", Capacity: 100, State: store.NodeEnabled}
	if err := good.Validate(); err != nil {
		t.Fatalf("a good node: %v", err)
	}
	for _, c := range []struct {
		field  string
		change func(*store.Node)
	}{
		{"name", func(n *store.Node) { n.Name = "Bad Name" }},
		{"region", func(n *store.Node) { n.Region = "-eu" }},
		{"region", func(n *store.Node) { n.Region = store.RegionAny }},
		{"api", func(n *store.Node) { n.APIAddr = "10.0.0.2" }},
		{"api", func(n *store.Node) { n.APIAddr = "10.0.0.2:70000" }},
		{"tag", func(n *store.Node) { n.InboundTag = "api" }},
		{"host", func(n *store.Node) { n.Host = "http://n1" }},
		{"port", func(n *store.Node) { n.Port = 0 }},
		{"public key", func(n *store.Node) { n.PublicKey = "short" }},
		{"server name", func(n *store.Node) { n.SNI = "" }},
		{"short id", func(n *store.Node) { n.ShortID = "xyz" }},
		{"capacity", func(n *store.Node) { n.Capacity = 0 }},
		{"state", func(n *store.Node) { n.State = "paused" }},
		{"agent", func(n *store.Node) { n.AgentURL = "10.0.0.2:10086" }},
		{"agent", func(n *store.Node) { n.AgentURL = "http://10.0.0.2:10086/v1" }},
		{"agent", func(n *store.Node) { n.AgentURL = "ftp://10.0.0.2" }},
		{"agent", func(n *store.Node) { n.AgentURL = "http://user:pw@10.0.0.2:10086" }},
		{"agent", func(n *store.Node) { n.AgentURL = "http://10.0.0.2?x=1" }},
	} {
		n := good
		c.change(&n)
		err := n.Validate()
		if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), c.field) {
			t.Errorf("bad %s: %v; want ErrInvalid naming %q", c.field, err, c.field)
		}
		if _, err := e.s.AddNode(e.ctx, n); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("AddNode with a bad %s: %v", c.field, err)
		}
	}
	if _, err := e.s.AddNode(e.ctx, good); err != nil {
		t.Fatal(err)
	}
	_, err := e.s.AddNode(e.ctx, good)
	wantErr(t, err, store.ErrNodeExists)
	// A node on another machine names its session agent; the worker's
	// start, which rewrites the environment's node, leaves it.
	good.AgentURL = "http://10.0.0.2:10086"
	if n, err := e.s.UpdateNode(e.ctx, good); err != nil || n.AgentURL != good.AgentURL {
		t.Fatalf("set the agent: %+v, %v", n, err)
	}
	e.exec(`UPDATE nodes SET agent_url = 'http://10.0.0.9:1' WHERE id = $1`, e.node)
	if _, err := e.s.UpsertNode(e.ctx, store.Node{Name: "main", APIAddr: "127.0.0.1:10085", InboundTag: "vless-in", Host: "vpn.example", Port: 443}); err != nil {
		t.Fatal(err)
	}
	if n, _ := e.s.GetNode(e.ctx, e.node); n.AgentURL != "http://10.0.0.9:1" {
		t.Errorf("the worker's start dropped its node's agent: %q", n.AgentURL)
	}
	good.AgentURL = ""
	if n, err := e.s.UpdateNode(e.ctx, good); err != nil || n.AgentURL != "" {
		t.Fatalf("remove the agent: %+v, %v", n, err)
	}
	_, _, err = e.s.SetNodeState(e.ctx, "nope", store.NodeDraining)
	wantErr(t, err, store.ErrNotFound)
}

// TestUpsertNodeKeepsOperatorSettings: the worker's start rewrites what its
// environment says and leaves capacity and state to the operators.
func TestUpsertNodeKeepsOperatorSettings(t *testing.T) {
	e := newEnv(t)
	e.exec(`UPDATE nodes SET capacity = 7, state = 'draining' WHERE id = $1`, e.node)
	id, err := e.s.UpsertNode(e.ctx, store.Node{Name: "main", APIAddr: "127.0.0.1:10086", InboundTag: "vless-in",
		Host: "vpn2.example", Port: 8443, Region: "eu", PublicKey: testPublicKey, SNI: "sni.example", ShortID: "ab"})
	if err != nil || id != e.node {
		t.Fatalf("upsert = %d, %v; want %d", id, err, e.node)
	}
	n, err := e.s.GetNode(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if n.APIAddr != "127.0.0.1:10086" || n.Host != "vpn2.example" || n.Port != 8443 || n.Region != "eu" ||
		n.PublicKey != testPublicKey || n.SNI != "sni.example" || n.ShortID != "ab" {
		t.Errorf("environment's settings not taken: %+v", n)
	}
	if n.Capacity != 7 || n.State != store.NodeDraining {
		t.Errorf("operator's capacity/state overwritten: %d %s", n.Capacity, n.State)
	}
}

func TestNodeHealthAndUsage(t *testing.T) {
	e := newEnv(t)
	other := e.addNode("other", "", 10)
	e.mustTrialOn(1)
	e.mustTrialOn(2)
	e.exec(`UPDATE subscriptions SET status = 'expired' WHERE user_id = 2`)
	t0 := e.dbNow().Truncate(time.Microsecond)
	if err := e.s.RecordNodeHealth(e.ctx, []store.NodeHealth{
		{NodeID: e.node, At: t0}, {NodeID: other.ID, At: t0, Error: "connection refused"},
	}); err != nil {
		t.Fatal(err)
	}
	// Later: other answers; an older probe arriving late changes nothing.
	t1 := t0.Add(time.Minute)
	if err := e.s.RecordNodeHealth(e.ctx, []store.NodeHealth{{NodeID: other.ID, At: t1}}); err != nil {
		t.Fatal(err)
	}
	if err := e.s.RecordNodeHealth(e.ctx, []store.NodeHealth{{NodeID: other.ID, At: t0, Error: "stale"}}); err != nil {
		t.Fatal(err)
	}
	usage, err := e.s.NodeUsages(e.ctx)
	if err != nil || len(usage) != 2 {
		t.Fatalf("usages = %v, %v", usage, err)
	}
	users := 0
	for _, u := range usage {
		users += u.Users
		if u.CheckedAt == nil || u.HealthyAt == nil || u.HealthError != "" {
			t.Errorf("node %s: checked %v healthy %v error %q", u.Name, u.CheckedAt, u.HealthyAt, u.HealthError)
		}
		if u.ID == other.ID && !u.HealthyAt.Equal(t1) {
			t.Errorf("other healthy at %v, want %v", u.HealthyAt, t1)
		}
	}
	if users != 1 {
		t.Errorf("%d live users over the nodes, want 1 (the other expired)", users)
	}
	wantErr(t, e.s.RecordNodeHealth(e.ctx, []store.NodeHealth{{NodeID: other.ID}}), store.ErrInvalid)
}
