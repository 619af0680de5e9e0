package subfeed

import (
	"encoding/base64"
	"net/http"
	"strings"

	"vpnflow/internal/vless"
)

// Formats of the body. ?format= chooses one; without it the app's
// User-Agent does (formatFor), and the default is base64, which every app
// that imports subscriptions reads.
const (
	FormatBase64  = "base64"   // standard base64 of the links, one a line
	FormatPlain   = "plain"    // the links as text, one a line
	FormatClash   = "clash"    // a Clash.Meta (mihomo) profile, YAML
	FormatSingBox = "sing-box" // a sing-box profile, JSON
)

// agentFormats maps the start of a User-Agent to the profile that app
// needs. Clash-based apps (Clash Verge, FlClash, Clash Meta for Android,
// Stash) and sing-box's own apps (SFA, SFI, SFM, SFT) read no share
// links. Only the start counts: Hiddify's agent says "like ClashMeta v2ray
// sing-box" and Hiddify reads the links, as do v2rayNG, Happ, Streisand and
// v2RayTun.
var agentFormats = []struct{ prefix, format string }{
	{"clash", FormatClash},
	{"mihomo", FormatClash},
	{"flclash", FormatClash},
	{"stash", FormatClash},
	{"sing-box", FormatSingBox},
	{"sfa/", FormatSingBox},
	{"sfi/", FormatSingBox},
	{"sfm/", FormatSingBox},
	{"sft/", FormatSingBox},
}

// formatFor is the format r asks for, and false for an unknown ?format=.
func formatFor(r *http.Request) (string, bool) {
	switch f := r.URL.Query().Get("format"); f {
	case FormatBase64, FormatPlain, FormatClash, FormatSingBox:
		return f, true
	case "":
	default:
		return "", false
	}
	agent := strings.ToLower(r.UserAgent())
	for _, a := range agentFormats {
		if strings.HasPrefix(agent, a.prefix) {
			return a.format, true
		}
	}
	return FormatBase64, true
}

// badFormat is the answer to an unknown ?format=.
const badFormat = "format must be base64, plain, clash or sing-box"

// Profile is the body of a subscription in format, with its content type.
// links is empty for a user without a live key: every format then gives
// a valid profile without servers. The profiles' selector of servers is
// named after title, the subscription's.
func Profile(format string, links []vless.Link, title string) ([]byte, string, error) {
	group := groupName(title, links)
	switch format {
	case FormatClash:
		b, err := clashProfile(links, group)
		return b, "text/yaml; charset=utf-8", err
	case FormatSingBox:
		b, err := singBoxProfile(links, group)
		return b, "application/json; charset=utf-8", err
	}
	lines := make([]string, len(links))
	for i, l := range links {
		lines[i] = l.String()
	}
	text := strings.Join(lines, "\n")
	if format == FormatPlain {
		return []byte(text), "text/plain; charset=utf-8", nil
	}
	return []byte(base64.StdEncoding.EncodeToString([]byte(text))), "text/plain; charset=utf-8", nil
}

// groupName is the profiles' selector's name: the subscription's title,
// unless a server or a name the clients reserve has it (Clash and
// sing-box want every proxy, group and outbound named once).
func groupName(title string, links []vless.Link) string {
	taken := func(n string) bool {
		switch strings.ToLower(n) {
		case "", "direct", "reject", "reject-drop", "pass", "compatible", singBoxRemote, singBoxLocal:
			return true
		}
		for _, l := range links {
			if l.Name == n {
				return true
			}
		}
		return false
	}
	name := title
	for taken(name) {
		name += " servers"
	}
	return name
}
