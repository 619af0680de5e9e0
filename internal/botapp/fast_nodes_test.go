package botapp

import (
	"strings"
	"testing"
	"time"

	"vpnflow/internal/callback"
	faketg "vpnflow/internal/dev/fake/telegram"
	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

// nodeKey is a valid REALITY public key.
const nodeKey = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA"

// TestFastAdminManagesNodes: an admin adds, lists, changes, drains,
// disables and enables nodes with /node and /nodes; each change is in the
// node rows; bad input is refused saying what is wrong and changes
// nothing; a non-admin's /nodes is an unknown command.
func TestFastAdminManagesNodes(t *testing.T) {
	cfg := fastConfig(t)
	const adminID = 7_999_000_222
	cfg.AdminIDs = []int64{adminID}
	f := newFastBot(t, cfg)
	ann := f.newUser("Ann", "en")
	f.start(ann, "Ann", "en")
	f.send(ann, "/nodes", f.T("en", "unknown_command", nil))

	f.tg.SkipUserIDs(adminID - 1)
	root := f.newUser("Root", "en")
	if root != adminID {
		t.Fatalf("stand-in gave the admin id %d, want %d", root, adminID)
	}
	f.start(root, "Root", "en")
	// The user who wrote to the bot has a live trial on the first node.
	f.liveSubscription(ann)

	reply := func(text, contains string) faketg.Message {
		t.Helper()
		sent, err := f.tg.SendText(root, text)
		if err != nil {
			t.Fatal(err)
		}
		return f.waitFor(root, "a reply containing "+contains, func(m faketg.Message) bool {
			return m.ID > sent.ID && strings.Contains(m.Raw, contains)
		})
	}
	add := "/node add name=eu-2 region=eu api=10.0.0.2:10085 host=eu2.example.com pbk=" + nodeKey + " sni=www.example.com sid=0A1b capacity=500"
	reply(add, "node eu-2 added")
	n, err := f.store.NodeByName(f.ctx(), "eu-2")
	if err != nil {
		t.Fatal(err)
	}
	if n.Region != "eu" || n.APIAddr != "10.0.0.2:10085" || n.InboundTag != "vless-in" || n.Port != 443 || n.ShortID != "0a1b" ||
		n.Capacity != 500 || n.State != store.NodeEnabled || n.PublicKey != nodeKey {
		t.Errorf("added node = %+v", n)
	}
	reply(add, "a node of that name exists")

	// Bad input: each says what is wrong and writes nothing.
	for _, c := range []struct{ cmd, says string }{
		{"/node add name=x region=eu", "add needs api= host= pbk= sni= capacity="},
		{"/node add name=x region=eu api=10.0.0.3 host=h.example pbk=" + nodeKey + " sni=s.example capacity=5", "api: &quot;10.0.0.3&quot;: not host:port"},
		{"/node add name=x region=eu api=10.0.0.3:1 host=h.example pbk=short sni=s.example capacity=5", "is not a base64url X25519 key"},
		{"/node add name=x region=eu api=10.0.0.3:1 host=h.example pbk=" + nodeKey + " sni=s.example capacity=lots", "capacity=&quot;lots&quot; is not a whole number"},
		{"/node add name=x region=eu api=10.0.0.3:1 host=h.example pbk=" + nodeKey + " sni=s.example capacity=0", "capacity: 0 must be 1-"},
		{"/node add name=x color=blue", "unknown field &quot;color&quot;"},
		{"/node set eu-2 name=eu-3", "cannot be changed"},
		{"/node drain nowhere", "no node of that name"},
		{"/node reboot eu-2", "unknown operation"},
		{"/node", "say what to do"},
	} {
		reply(c.cmd, c.says)
	}
	if _, err := f.store.NodeByName(f.ctx(), "x"); err == nil {
		t.Error("a refused add wrote a node")
	}

	reply("/node set eu-2 capacity=800 region=eu-west", "node eu-2 changed: region=eu-west capacity=800")
	if n, _ := f.store.NodeByName(f.ctx(), "eu-2"); n.Capacity != 800 || n.Region != "eu-west" {
		t.Errorf("after set: %+v", n)
	}
	reply("/node drain eu-2", "node eu-2 is now draining")
	reply("/node drain eu-2", "node eu-2 is already draining")
	reply("/node disable n1", "node n1 is now disabled; 1 users still live on it")
	reply("/node enable n1", "node n1 is now enabled")

	// The list: both nodes, their users against capacity, their health.
	if err := f.store.RecordNodeHealth(f.ctx(), []store.NodeHealth{{NodeID: n.ID, At: dbNow(t, f), Error: "context deadline exceeded"}}); err != nil {
		t.Fatal(err)
	}
	list := reply("/nodes", "eu-west")
	for _, want := range []string{"n1", "1/10000", "not probed yet", "eu-2", "draining", "0/800", "DOWN", "context deadline exceeded",
		"eu-2: api 10.0.0.2:10085 inbound vless-in, links to eu2.example.com:443 sni www.example.com"} {
		if !strings.Contains(list.Raw, want) {
			t.Errorf("the list lacks %q:\n%s", want, list.Raw)
		}
	}
}

func dbNow(t *testing.T, f *fastBot) (now time.Time) {
	t.Helper()
	if err := f.app.pool.QueryRow(f.ctx(), `SELECT now()`).Scan(&now); err != nil {
		t.Fatal(err)
	}
	return now
}

// TestFastRegionChoiceBeforeTheFirstKey: with enabled nodes in two
// regions, the trial and the first purchase ask where the server should
// be; the choice is stored for placement and the request goes on. With one
// region, or once a user has a subscription, nobody is asked.
func TestFastRegionChoiceBeforeTheFirstKey(t *testing.T) {
	cfg := fastConfig(t)
	f := newFastBot(t, cfg)
	f.temporal.setAnswer(func(tcall) tresult {
		return tresult{Value: shop.TrialResult{ExpiresAt: time.Now().Add(cfg.TrialDuration)}}
	})
	addNode := func(name, region string) {
		t.Helper()
		if _, err := f.store.AddNode(f.ctx(), store.Node{Name: name, Region: region, APIAddr: "10.0.0.9:10085", InboundTag: "vless-in",
			Host: name + ".example.com", Port: 443, PublicKey: nodeKey, SNI: "www.example.com", Capacity: 10, State: store.NodeEnabled}); err != nil {
			t.Fatal(err)
		}
	}
	// One region: the trial goes straight on.
	addNode("eu-1", "eu")
	ann := f.newUser("Ann", "en")
	menu := f.start(ann, "Ann", "en")
	f.press(ann, menu, callback.Data{Action: callback.Trial})
	f.waitText(ann, f.T("en", "working", nil))
	f.waitCalls(1)

	// Two regions: Bob is asked, chooses us, and the trial goes on.
	addNode("us-1", "us")
	bob := f.newUser("Bob", "en")
	menu = f.start(bob, "Bob", "en")
	f.press(bob, menu, callback.Data{Action: callback.Trial})
	choice := f.waitEdit(bob, menu.ID, f.T("en", "region_choose", nil))
	for _, d := range []callback.Data{
		{Action: callback.Region, Then: callback.Trial, Region: "eu"},
		{Action: callback.Region, Then: callback.Trial, Region: "us"},
		{Action: callback.Region, Then: callback.Trial, Region: callback.RegionAny},
	} {
		if !hasButton(choice, d) {
			t.Errorf("the choice lacks %+v", d)
		}
	}
	if len(f.temporal.Calls("")) != 1 {
		t.Fatal("the trial was handed over before the region was chosen")
	}
	f.press(bob, choice, callback.Data{Action: callback.Region, Then: callback.Trial, Region: "us"})
	f.waitText(bob, f.T("en", "working", nil))
	f.waitCalls(2)
	if u, _ := f.store.GetUser(f.ctx(), bob); u.Region != "us" {
		t.Errorf("Bob's region = %q, want us", u.Region)
	}

	// Buying: Cat is asked too, picks any, and gets the plans.
	cat := f.newUser("Cat", "en")
	menu = f.start(cat, "Cat", "en")
	f.press(cat, menu, callback.Data{Action: callback.Buy})
	choice = f.waitEdit(cat, menu.ID, f.T("en", "region_choose", nil))
	f.press(cat, choice, callback.Data{Action: callback.Region, Then: callback.Buy, Region: callback.RegionAny})
	f.waitEdit(cat, menu.ID, f.T("en", "plans_title", nil))
	// Having chosen, Cat is not asked again.
	menu = f.start(cat, "Cat", "en")
	f.press(cat, menu, callback.Data{Action: callback.Buy})
	f.waitEdit(cat, menu.ID, f.T("en", "plans_title", nil))

	// A user with a subscription is never asked.
	dan := f.newUser("Dan", "en")
	menu = f.start(dan, "Dan", "en")
	f.liveSubscription(dan)
	f.press(dan, menu, callback.Data{Action: callback.Buy})
	f.waitEdit(dan, menu.ID, f.T("en", "plans_title", nil))
}
