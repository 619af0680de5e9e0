package accesskey

import (
	"testing"

	"github.com/google/uuid"

	"vpnflow/internal/config"
	"vpnflow/internal/store"
	"vpnflow/internal/vless"
)

func testConfig(t *testing.T) config.Config {
	t.Helper()
	cfg, err := config.LoadFrom(map[string]string{
		"VLESS_HOST":               "vpn.example.com",
		"VLESS_PORT":               "8443",
		"VLESS_REALITY_PUBLIC_KEY": "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA",
		"VLESS_REALITY_SNI":        "www.example.com",
		"SUBSCRIPTION_BASE_URL":    "https://sub.example.com/",
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestKeyAndFeedAgree: on the configured node the subscription URL serves
// exactly the link the key message shows (same name, so an app holding
// both shows one server); on several nodes each link carries its node's
// address and name.
func TestKeyAndFeedAgree(t *testing.T) {
	cfg := testConfig(t)
	id := uuid.New()
	node := store.Node{ID: 1, Name: "default", Host: "vpn.example.com", Port: 8443}
	sub := store.Subscription{UserID: 42, NodeID: 1, VLESSUUID: id, XrayEmail: "tg42@vpnflow", URLToken: store.NewURLToken()}
	key, err := Build(cfg, node, sub)
	if err != nil {
		t.Fatal(err)
	}
	if key.URL != "https://sub.example.com/sub/"+sub.URLToken {
		t.Errorf("URL %q", key.URL)
	}
	one := store.Feed{UserID: 42, VLESSUUID: id, Nodes: []store.Node{node}}
	links, err := FeedLinks(cfg, one)
	if err != nil {
		t.Fatal(err)
	}
	if len(links) != 1 || links[0].String() != key.Link {
		t.Fatalf("feed %q, key message %q: want the same link", links, key.Link)
	}

	two := one
	two.Nodes = append(two.Nodes, store.Node{Name: "fra", Host: "fra.example.com", Port: 443})
	links, err = FeedLinks(cfg, two)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []struct {
		host string
		port int
		name string
	}{{"vpn.example.com", 8443, "vpnflow-42-default"}, {"fra.example.com", 443, "vpnflow-42-fra"}} {
		l, err := vless.Parse(links[i].String())
		if err != nil {
			t.Fatal(err)
		}
		if l.UUID != id.String() || l.Host != want.host || l.Port != want.port || l.Name != want.name {
			t.Errorf("link %d: %s:%d %q, want %s:%d %q with the user's key", i, l.Host, l.Port, l.Name, want.host, want.port, want.name)
		}
	}

	if _, err := Build(cfg, node, store.Subscription{UserID: 42, NodeID: 1, VLESSUUID: id}); err == nil {
		t.Error("a subscription without a URL token built a key")
	}
}
