package subfeed_test

import (
	"net/http"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"vpnflow/internal/subfeed"
	"vpnflow/internal/vless"
)

// TestEachAppGetsTheProfileItReads: Clash-based apps and sing-box's apps,
// which read no share links, get their own profile by their User-Agent;
// every other app (Hiddify too, whose agent mentions both) the base64
// list; ?format= overrides the agent. Each profile carries the same key
// and the same headers.
func TestEachAppGetsTheProfileItReads(t *testing.T) {
	e := newFeedEnv(t, testConfig(t), subfeed.Options{})
	sub := e.trial(401, "en")
	path := "/sub/" + sub.URLToken
	want := mustParse(t, links(t, e.fetch(sub.URLToken).body)[0])

	for _, c := range []struct{ agent, query, format string }{
		{"ClashMetaForAndroid/2.11.5.Meta", "", subfeed.FormatClash},
		{"clash-verge/v2.2.3", "", subfeed.FormatClash},
		{"FlClash/v0.8.80 clash-verge Platform/android", "", subfeed.FormatClash},
		{"mihomo/1.19.11", "", subfeed.FormatClash},
		{"Stash/2.4.6 Clash/1.9.0", "", subfeed.FormatClash},
		{"SFA/1.11.9 (Android 14; sing-box 1.11.9; language en_US)", "", subfeed.FormatSingBox},
		{"SFI/1.12.4 (iOS 18.5; sing-box 1.12.4; language en)", "", subfeed.FormatSingBox},
		{"sing-box 1.14.1", "", subfeed.FormatSingBox},
		{"HiddifyNext/2.5.7 (android) like ClashMeta v2ray sing-box", "", subfeed.FormatBase64},
		{"v2rayNG/1.9.45", "", subfeed.FormatBase64},
		{"Happ/3.6.0", "", subfeed.FormatBase64},
		{"Streisand/1.6", "", subfeed.FormatBase64},
		{"", "", subfeed.FormatBase64},
		{"ClashMetaForAndroid/2.11.5.Meta", "?format=base64", subfeed.FormatBase64},
		{"v2rayNG/1.9.45", "?format=clash", subfeed.FormatClash},
		{"v2rayNG/1.9.45", "?format=sing-box", subfeed.FormatSingBox},
	} {
		r := e.getAs(path+c.query, "", c.agent)
		if r.status != http.StatusOK {
			t.Fatalf("%q%s: status %d", c.agent, c.query, r.status)
		}
		if title(t, r.header) != "vpnflow" || userInfo(t, r.header)["expire"] != sub.ExpiresAt.Unix() {
			t.Errorf("%q%s: headers %v, want the profile's", c.agent, c.query, r.header)
		}
		var got vless.Link
		switch c.format {
		case subfeed.FormatClash:
			got = clashServer(t, r)
		case subfeed.FormatSingBox:
			if ct := r.header.Get("content-type"); ct != "application/json; charset=utf-8" {
				t.Errorf("%q%s: content type %q, want a sing-box profile", c.agent, c.query, ct)
				continue
			}
			got = want // internal/dev/singboxcheck reads it with sing-box itself
		default:
			got = mustParse(t, links(t, r.body)[0])
		}
		if got.UUID != want.UUID || got.Host != want.Host || got.Port != want.Port || got.PublicKey != want.PublicKey || got.ShortID != want.ShortID {
			t.Errorf("%q%s: server %+v, want %+v", c.agent, c.query, got, want)
		}
	}

	// Expired: the profiles are still ones the apps load, without servers.
	if _, err := e.store.ExpireSubscription(e.ctx, 401, time.Now().Add(100*time.Hour)); err != nil {
		t.Fatal(err)
	}
	r := e.getAs(path, "", "clash-verge/v2.2.3")
	var p clashProfile
	if err := yaml.Unmarshal([]byte(r.body), &p); err != nil || r.status != http.StatusOK || len(p.Proxies)+len(p.ProxyGroups)+len(p.Rules) != 0 || p.Mode != "rule" {
		t.Errorf("expired, Clash: %d %v %+v, want a profile without proxies", r.status, err, p)
	}
	if got := title(t, r.header); got != "Expired · vpnflow" {
		t.Errorf("expired, Clash: title %q", got)
	}
}

// clashProfile is the part of a Clash.Meta profile the test reads.
type clashProfile struct {
	Mode        string           `yaml:"mode"`
	Proxies     []map[string]any `yaml:"proxies"`
	ProxyGroups []struct {
		Name    string   `yaml:"name"`
		Type    string   `yaml:"type"`
		Proxies []string `yaml:"proxies"`
	} `yaml:"proxy-groups"`
	Rules []string `yaml:"rules"`
}

// clashServer reads the one server of a Clash.Meta profile under the keys
// mihomo's VLESS proxy takes (adapter/outbound/vless.go of MetaCubeX/mihomo;
// mihomo itself is not served here to parse it), and checks that the
// profile sends everything through the group that holds it.
func clashServer(t *testing.T, r response) vless.Link {
	t.Helper()
	if ct := r.header.Get("content-type"); ct != "text/yaml; charset=utf-8" {
		t.Errorf("content type %q, want a Clash profile", ct)
	}
	var p clashProfile
	if err := yaml.Unmarshal([]byte(r.body), &p); err != nil {
		t.Fatalf("not YAML: %v\n%s", err, r.body)
	}
	if len(p.Proxies) != 1 || len(p.ProxyGroups) != 1 || len(p.Rules) != 1 {
		t.Fatalf("profile %+v, want one proxy, one group, one rule", p)
	}
	px, g := p.Proxies[0], p.ProxyGroups[0]
	name, _ := px["name"].(string)
	if g.Name != "vpnflow" || g.Type != "select" || len(g.Proxies) != 1 || g.Proxies[0] != name || p.Rules[0] != "MATCH,vpnflow" {
		t.Errorf("group %+v and rules %q, want everything through a selector of %q", g, p.Rules, name)
	}
	for key, want := range map[string]any{"type": "vless", "network": "tcp", "tls": true, "udp": true,
		"flow": vless.FlowVision, "servername": "www.example.com", "client-fingerprint": vless.DefaultFingerprint} {
		if px[key] != want {
			t.Errorf("proxy %s = %v, want %v", key, px[key], want)
		}
	}
	reality, _ := px["reality-opts"].(map[string]any)
	str := func(v any) string { s, _ := v.(string); return s }
	port, _ := px["port"].(int)
	return vless.Link{UUID: str(px["uuid"]), Host: str(px["server"]), Port: port,
		PublicKey: str(reality["public-key"]), ShortID: str(reality["short-id"])}
}
