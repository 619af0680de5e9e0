package subfeed

import (
	"fmt"

	"go.yaml.in/yaml/v3"

	"vpnflow/internal/vless"
)

// A Clash.Meta (mihomo) profile: the user's servers as VLESS proxies, one
// selector of them named after the subscription, and every connection
// through it. The keys are mihomo's (docs/config.yaml and
// adapter/outbound/vless.go of MetaCubeX/mihomo); the original Clash has
// no VLESS. A user without a live key gets the same profile without
// proxies, groups or rules.
type clashConfig struct {
	MixedPort   int          `yaml:"mixed-port"`
	Mode        string       `yaml:"mode"`
	LogLevel    string       `yaml:"log-level"`
	Proxies     []clashProxy `yaml:"proxies"`
	ProxyGroups []clashGroup `yaml:"proxy-groups"`
	Rules       []string     `yaml:"rules"`
}

type clashProxy struct {
	Name              string       `yaml:"name"`
	Type              string       `yaml:"type"`
	Server            string       `yaml:"server"`
	Port              int          `yaml:"port"`
	UUID              string       `yaml:"uuid"`
	Network           string       `yaml:"network"`
	TLS               bool         `yaml:"tls"`
	UDP               bool         `yaml:"udp"`
	Flow              string       `yaml:"flow,omitempty"`
	ServerName        string       `yaml:"servername"`
	ClientFingerprint string       `yaml:"client-fingerprint"`
	RealityOpts       clashReality `yaml:"reality-opts"`
}

type clashReality struct {
	PublicKey string `yaml:"public-key"`
	ShortID   string `yaml:"short-id"`
}

type clashGroup struct {
	Name    string   `yaml:"name"`
	Type    string   `yaml:"type"`
	Proxies []string `yaml:"proxies"`
}

// clashPort is the local proxy port Clash apps expect by default.
const clashPort = 7890

func clashProfile(links []vless.Link, group string) ([]byte, error) {
	c := clashConfig{MixedPort: clashPort, Mode: "rule", LogLevel: "warning",
		Proxies: []clashProxy{}, ProxyGroups: []clashGroup{}, Rules: []string{}}
	if len(links) > 0 {
		names := make([]string, len(links))
		for i, l := range links {
			names[i] = l.Name
			c.Proxies = append(c.Proxies, clashProxy{
				Name: l.Name, Type: "vless", Server: l.Host, Port: l.Port, UUID: l.UUID,
				Network: "tcp", TLS: true, UDP: true, Flow: l.Flow,
				ServerName: l.ServerName, ClientFingerprint: l.EffectiveFingerprint(),
				RealityOpts: clashReality{PublicKey: l.PublicKey, ShortID: l.ShortID},
			})
		}
		c.ProxyGroups = []clashGroup{{Name: group, Type: "select", Proxies: names}}
		c.Rules = []string{"MATCH," + group}
	}
	b, err := yaml.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("clash profile: %w", err)
	}
	return b, nil
}
