package subfeed_test

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"vpnflow/internal/store"
	"vpnflow/internal/subfeed"
	"vpnflow/internal/vless"
)

// TestServesTheUsersLinksWithTheAppsHeaders: the token gives the user's
// key on their node as a base64 list (plain on request), with every header
// the apps read, parsed as they parse it.
func TestServesTheUsersLinksWithTheAppsHeaders(t *testing.T) {
	e := newFeedEnv(t, testConfig(t, "SUBSCRIPTION_SUPPORT_URL", "https://t.me/vpnflow_support"), subfeed.Options{})
	sub := e.trial(101, "en")
	// Traffic as the traffic workflow records it from Xray's counters.
	if _, err := e.store.AddTrafficBatch(e.ctx, store.TrafficBatch{ID: "batch-1", Deltas: []store.TrafficDelta{{Email: sub.XrayEmail, Up: 1234, Down: 567890}}}); err != nil {
		t.Fatal(err)
	}

	r := e.fetch(sub.URLToken)
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	got := links(t, r.body)
	if len(got) != 1 {
		t.Fatalf("links %q, want the one node's", got)
	}
	l, err := vless.Parse(got[0])
	if err != nil {
		t.Fatal(err)
	}
	if l.UUID != sub.VLESSUUID.String() || l.Host != "node1.example.com" || l.Port != 8443 ||
		l.PublicKey != e.cfg.VLESSRealityPubKey || l.ServerName != "www.example.com" || l.ShortID != "0123abcd" ||
		l.Flow != vless.FlowVision || l.Name != "vpnflow-101" {
		t.Errorf("link %+v does not carry the user's key on the node", l)
	}

	info := userInfo(t, r.header)
	if info["upload"] != 1234 || info["download"] != 567890 || info["total"] != 0 || info["expire"] != sub.ExpiresAt.Unix() {
		t.Errorf("subscription-userinfo %v, want upload 1234, download 567890, total 0 (no cap), expire %d", info, sub.ExpiresAt.Unix())
	}
	if h, err := strconv.Atoi(r.header.Get("profile-update-interval")); err != nil || h != 12 {
		t.Errorf("profile-update-interval %q, want 12 (hours)", r.header.Get("profile-update-interval"))
	}
	if !strings.HasPrefix(r.header.Get("profile-title"), "base64:") || title(t, r.header) != "vpnflow" {
		t.Errorf("profile-title %q, want base64:<vpnflow>", r.header.Get("profile-title"))
	}
	for name, want := range map[string]string{
		"support-url":          "https://t.me/vpnflow_support", // configured
		"profile-web-page-url": botURL,                         // not configured: the bot
		"content-disposition":  `attachment; filename="vpnflow"`,
		"content-type":         "text/plain; charset=utf-8",
		"cache-control":        "no-store",
	} {
		if got := r.header.Get(name); got != want {
			t.Errorf("%s %q, want %q", name, got, want)
		}
	}

	plain := e.get("/sub/"+sub.URLToken+"?format=plain", "")
	if plain.status != http.StatusOK || plain.body != got[0] {
		t.Errorf("format=plain: %d %q, want the link as text", plain.status, plain.body)
	}
	if r := e.get("/sub/"+sub.URLToken+"?format=v2ray-json", ""); r.status != http.StatusBadRequest || !strings.Contains(r.body, "clash or sing-box") {
		t.Errorf("format=v2ray-json: %d %q, want 400 naming the formats", r.status, r.body)
	}

	// The names go on the wire in lower case, as the panels apps are
	// tested against send them.
	names := e.wireHeaderNames("/sub/" + sub.URLToken)
	for _, want := range []string{"subscription-userinfo", "profile-update-interval", "profile-title", "support-url", "profile-web-page-url", "content-disposition"} {
		if !slices.Contains(names, want) {
			t.Errorf("header %s not on the wire as such; got %q", want, names)
		}
	}
}

// TestUnknownTokenIsNotFound: a well-formed token nobody holds, a
// malformed one and a prefix of a real one are all a plain 404, with none
// of the profile's headers.
func TestUnknownTokenIsNotFound(t *testing.T) {
	e := newFeedEnv(t, testConfig(t), subfeed.Options{})
	sub := e.trial(102, "en")
	for name, path := range map[string]string{
		"unknown":   "/sub/" + store.NewURLToken(),
		"malformed": "/sub/not-a-token",
		"prefix":    "/sub/" + sub.URLToken[:42],
		"longer":    "/sub/" + sub.URLToken + "A",
		"no token":  "/sub/",
	} {
		r := e.get(path, "")
		if r.status != http.StatusNotFound || r.header.Get("subscription-userinfo") != "" || strings.Contains(r.body, "vless://") {
			t.Errorf("%s: %d %q with userinfo %q, want a bare 404", name, r.status, r.body, r.header.Get("subscription-userinfo"))
		}
	}
	if r := e.fetch(sub.URLToken); r.status != http.StatusOK {
		t.Fatalf("the real token: %d", r.status)
	}
}

// TestRateLimitedPerTokenAndPerAddress: a token's bucket empties whoever
// asks, and an address's bucket empties whatever it asks for; each then
// gets 429 with Retry-After while other tokens and addresses are served.
// Behind a proxy the address is the last X-Forwarded-For entry.
func TestRateLimitedPerTokenAndPerAddress(t *testing.T) {
	e := newFeedEnv(t, testConfig(t, "SUBSCRIPTION_CLIENT_IP_HEADER", "X-Forwarded-For"), subfeed.Options{
		PerToken:   subfeed.Rate{Every: time.Hour, Burst: 3},
		PerAddress: subfeed.Rate{Every: time.Hour, Burst: 5},
	})
	a, b := e.trial(103, "en"), e.trial(104, "en")

	// Token a from three addresses: three served, the fourth refused.
	for i, from := range []string{"203.0.113.1", "203.0.113.2", "203.0.113.3"} {
		if r := e.get("/sub/"+a.URLToken, from); r.status != http.StatusOK {
			t.Fatalf("request %d of token a: %d", i+1, r.status)
		}
	}
	r := e.get("/sub/"+a.URLToken, "203.0.113.4")
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("fourth request of token a: %d, want 429", r.status)
	}
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 || s > 3600 {
		t.Errorf("Retry-After %q, want 1-3600 seconds", r.header.Get("Retry-After"))
	}
	if r := e.get("/sub/"+b.URLToken, "203.0.113.4"); r.status != http.StatusOK {
		t.Fatalf("token b while a is limited: %d", r.status)
	}

	// One address, many tokens (unknown ones count too): five, then 429.
	from := "2001:db8:1:2::10"
	for i := range 5 {
		token := store.NewURLToken()
		if i == 0 {
			token = b.URLToken
		}
		if r := e.get("/sub/"+token, from); r.status == http.StatusTooManyRequests {
			t.Fatalf("request %d from %s refused early", i+1, from)
		}
	}
	// Another address of the same /64 shares the bucket.
	if r := e.get("/sub/"+store.NewURLToken(), "2001:db8:1:2::99"); r.status != http.StatusTooManyRequests {
		t.Fatalf("sixth request from the /64: %d, want 429", r.status)
	}
	if r := e.get("/sub/"+b.URLToken, "2001:db8:1:3::10"); r.status != http.StatusOK {
		t.Fatalf("token b from another /64: %d", r.status)
	}
}
