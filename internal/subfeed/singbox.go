package subfeed

import (
	"encoding/json"
	"fmt"

	"vpnflow/internal/vless"
)

// A sing-box profile (sing-box 1.12 and later: the DNS server and rule
// action formats): a TUN inbound that takes the device's traffic, the
// user's servers as VLESS outbounds under one selector named after the
// subscription, DNS over HTTPS through the selected server, and the local
// network left direct. A user without a live key gets a profile without
// inbounds or outbounds. internal/dev/singboxcheck decodes it with
// sing-box's own option types and runs it with sing-box itself.
type singBoxConfig struct {
	Log       singBoxLog    `json:"log"`
	DNS       *singBoxDNS   `json:"dns,omitempty"`
	Inbounds  []any         `json:"inbounds"`
	Outbounds []any         `json:"outbounds"`
	Route     *singBoxRoute `json:"route,omitempty"`
}

type singBoxLog struct {
	Level string `json:"level"`
}

type singBoxDNS struct {
	Servers []map[string]any `json:"servers"`
	Final   string           `json:"final"`
}

type singBoxRoute struct {
	Rules                 []map[string]any `json:"rules"`
	Final                 string           `json:"final"`
	AutoDetectInterface   bool             `json:"auto_detect_interface"`
	DefaultDomainResolver string           `json:"default_domain_resolver"`
}

type singBoxVLESS struct {
	Type       string            `json:"type"`
	Tag        string            `json:"tag"`
	Server     string            `json:"server"`
	ServerPort int               `json:"server_port"`
	UUID       string            `json:"uuid"`
	Flow       string            `json:"flow,omitempty"`
	TLS        singBoxRealityTLS `json:"tls"`
}

type singBoxRealityTLS struct {
	Enabled    bool   `json:"enabled"`
	ServerName string `json:"server_name"`
	UTLS       struct {
		Enabled     bool   `json:"enabled"`
		Fingerprint string `json:"fingerprint"`
	} `json:"utls"`
	Reality struct {
		Enabled   bool   `json:"enabled"`
		PublicKey string `json:"public_key"`
		ShortID   string `json:"short_id"`
	} `json:"reality"`
}

// The profile's fixed parts: the TUN's addresses are sing-box's own
// examples, and the resolvers' tags are the profile's.
const (
	singBoxTunV4   = "172.19.0.1/30"
	singBoxTunV6   = "fdfe:dcba:9876::1/126"
	singBoxDoH     = "1.1.1.1"
	singBoxRemote  = "remote"
	singBoxLocal   = "local"
	singBoxDirect  = "direct"
	singBoxTunName = "tun-in"
)

func singBoxProfile(links []vless.Link, group string) ([]byte, error) {
	c := singBoxConfig{Log: singBoxLog{Level: "warn"}, Inbounds: []any{}, Outbounds: []any{}}
	if len(links) > 0 {
		names := make([]string, len(links))
		servers := make([]any, len(links))
		for i, l := range links {
			names[i] = l.Name
			v := singBoxVLESS{Type: "vless", Tag: l.Name, Server: l.Host, ServerPort: l.Port, UUID: l.UUID, Flow: l.Flow}
			v.TLS.Enabled, v.TLS.ServerName = true, l.ServerName
			v.TLS.UTLS.Enabled, v.TLS.UTLS.Fingerprint = true, l.EffectiveFingerprint()
			v.TLS.Reality.Enabled, v.TLS.Reality.PublicKey, v.TLS.Reality.ShortID = true, l.PublicKey, l.ShortID
			servers[i] = v
		}
		c.Inbounds = []any{map[string]any{"type": "tun", "tag": singBoxTunName,
			"address": []string{singBoxTunV4, singBoxTunV6}, "auto_route": true, "strict_route": true}}
		c.Outbounds = append(c.Outbounds, map[string]any{"type": "selector", "tag": group, "outbounds": names, "default": names[0]})
		c.Outbounds = append(c.Outbounds, servers...)
		c.Outbounds = append(c.Outbounds, map[string]any{"type": "direct", "tag": singBoxDirect})
		c.DNS = &singBoxDNS{Final: singBoxRemote, Servers: []map[string]any{
			{"type": "https", "tag": singBoxRemote, "server": singBoxDoH, "detour": group},
			{"type": "local", "tag": singBoxLocal},
		}}
		c.Route = &singBoxRoute{Final: group, AutoDetectInterface: true, DefaultDomainResolver: singBoxLocal,
			Rules: []map[string]any{
				{"action": "sniff"},
				{"protocol": "dns", "action": "hijack-dns"},
				{"ip_is_private": true, "outbound": singBoxDirect},
			}}
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("sing-box profile: %w", err)
	}
	return b, nil
}
