package deploytest

import (
	"encoding/json"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
)

type xrayConfig struct {
	API *struct {
		Listen   string   `json:"listen"`
		Services []string `json:"services"`
	} `json:"api"`
	Inbounds []struct {
		Tag            string `json:"tag"`
		Port           int    `json:"port"`
		Protocol       string `json:"protocol"`
		StreamSettings struct {
			Security        string `json:"security"`
			RealitySettings struct {
				Target      string   `json:"target"`
				ServerNames []string `json:"serverNames"`
				PrivateKey  string   `json:"privateKey"`
			} `json:"realitySettings"`
		} `json:"streamSettings"`
	} `json:"inbounds"`
	Policy struct {
		Levels map[string]map[string]bool `json:"levels"`
	} `json:"policy"`
	Routing struct {
		DomainStrategy string `json:"domainStrategy"`
		Rules          []struct {
			IP          []string `json:"ip"`
			OutboundTag string   `json:"outboundTag"`
		} `json:"rules"`
	} `json:"routing"`
	Outbounds []struct {
		Tag      string `json:"tag"`
		Protocol string `json:"protocol"`
	} `json:"outbounds"`
}

func decodeXray(t *testing.T, name, text string) xrayConfig {
	t.Helper()
	var c xrayConfig
	if err := json.Unmarshal([]byte(text), &c); err != nil {
		t.Fatalf("%s is not valid JSON: %v", name, err)
	}
	return c
}

// The worker reaches Xray's unauthenticated API on loopback inside the
// namespace it shares with xray; nothing else can.
func TestXrayAPIIsPrivateToTheWorker(t *testing.T) {
	p := mustLoad(t, nil)
	worker := envOf(service(t, p, "worker"))
	if nm := service(t, p, "worker").NetworkMode; nm != "service:xray" {
		t.Fatalf("worker network_mode = %q, want service:xray", nm)
	}
	base := decodeXray(t, "deploy/xray/config.json", readFile(t, "deploy/xray/config.json"))
	if base.API == nil {
		t.Fatal("deploy/xray/config.json has no api section")
	}
	if base.API.Listen != worker["XRAY_API_ADDR"] {
		t.Errorf("Xray API listens on %q, the worker dials XRAY_API_ADDR=%q", base.API.Listen, worker["XRAY_API_ADDR"])
	}
	host, port, err := net.SplitHostPort(base.API.Listen)
	if err != nil || !net.ParseIP(host).IsLoopback() {
		t.Errorf("Xray API listens on %q, want a loopback address", base.API.Listen)
	}
	for _, svc := range []string{"HandlerService", "StatsService"} {
		if !slices.Contains(base.API.Services, svc) {
			t.Errorf("Xray API lacks %s", svc)
		}
	}
	for name, s := range p.Services {
		for _, pc := range s.Ports {
			if strconv.Itoa(int(pc.Target)) == port {
				t.Errorf("%s publishes the Xray API port %s", name, port)
			}
		}
	}
}

// VPN clients must not reach the API on loopback or the stack's services
// on the compose network through the proxy.
func TestXrayBlocksPrivateDestinations(t *testing.T) {
	c := decodeXray(t, "deploy/xray/config.json", readFile(t, "deploy/xray/config.json"))
	blackholes := map[string]bool{}
	for _, o := range c.Outbounds {
		if o.Protocol == "blackhole" {
			blackholes[o.Tag] = true
		}
	}
	blocked := map[string]bool{}
	for _, r := range c.Routing.Rules {
		if blackholes[r.OutboundTag] {
			for _, ip := range r.IP {
				blocked[ip] = true
			}
		}
	}
	for _, cidr := range []string{"127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "::1/128", "fc00::/7"} {
		if !blocked[cidr] {
			t.Errorf("deploy/xray/config.json does not block %s", cidr)
		}
	}
	// Without resolving, a client asking for "postgres:5432" by name would
	// slip past the IP rules.
	if c.Routing.DomainStrategy != "IPIfNonMatch" && c.Routing.DomainStrategy != "IPOnDemand" {
		t.Errorf("routing domainStrategy = %q: domain requests are not checked against the blocked ranges", c.Routing.DomainStrategy)
	}
}

func TestXrayInboundMatchesWorkerSettings(t *testing.T) {
	p := mustLoad(t, nil)
	cfg, ok := p.Configs["xray-inbound"]
	if !ok {
		t.Fatal("docker-compose.yml has no xray-inbound config")
	}
	mounted := false
	for _, c := range service(t, p, "xray").Configs {
		if c.Source == "xray-inbound" && slices.Contains(service(t, p, "xray").Command, c.Target) {
			mounted = true
		}
	}
	if !mounted {
		t.Error("xray does not load the xray-inbound config it mounts")
	}

	in := decodeXray(t, "the xray-inbound config", cfg.Content)
	worker := envOf(service(t, p, "worker"))
	if len(in.Inbounds) != 1 {
		t.Fatalf("xray-inbound has %d inbounds, want 1", len(in.Inbounds))
	}
	ib := in.Inbounds[0]
	if ib.Tag != worker["XRAY_INBOUND_TAG"] {
		t.Errorf("inbound tag %q, worker's XRAY_INBOUND_TAG %q", ib.Tag, worker["XRAY_INBOUND_TAG"])
	}
	if ib.Protocol != "vless" || ib.StreamSettings.Security != "reality" {
		t.Errorf("inbound is %s/%s, want vless/reality", ib.Protocol, ib.StreamSettings.Security)
	}
	rs := ib.StreamSettings.RealitySettings
	if rs.PrivateKey != secrets["XRAY_REALITY_PRIVATE_KEY"] {
		t.Errorf("REALITY private key = %q, want XRAY_REALITY_PRIVATE_KEY", rs.PrivateKey)
	}
	if !slices.Contains(rs.ServerNames, worker["VLESS_REALITY_SNI"]) {
		t.Errorf("REALITY serverNames %v lack the SNI clients are given, %q", rs.ServerNames, worker["VLESS_REALITY_SNI"])
	}
	published := false
	for _, pc := range service(t, p, "xray").Ports {
		if int(pc.Target) == ib.Port {
			published = true
		}
	}
	if !published {
		t.Errorf("the VLESS inbound's port %d is not published", ib.Port)
	}
}

// Users added through the API get policy level 0: the worker reads their
// traffic counters, and the list of addresses they are online from, which
// is how a revocation is checked and how xray.Client.Disconnect finds the
// sessions to end.
func TestXrayCountsUsersAndTheirSessions(t *testing.T) {
	c := decodeXray(t, "deploy/xray/config.json", readFile(t, "deploy/xray/config.json"))
	for _, stat := range []string{"statsUserUplink", "statsUserDownlink", "statsUserOnline"} {
		if !c.Policy.Levels["0"][stat] {
			t.Errorf("deploy/xray/config.json: policy level 0 lacks %s", stat)
		}
	}
}

// Ending revoked keys' sessions needs CAP_NET_ADMIN in xray's network
// namespace: the worker joins it, is granted the capability, and its
// binary carries it as a permitted file capability, so the non-root user
// the image runs as can use it. Nothing may switch file capabilities off.
func TestWorkerCanEndSessionsInXrayNamespace(t *testing.T) {
	p := mustLoad(t, nil)
	w := service(t, p, "worker")
	if w.NetworkMode != "service:xray" {
		t.Errorf("worker network_mode = %q, want service:xray", w.NetworkMode)
	}
	if !slices.Contains(w.CapAdd, "NET_ADMIN") {
		t.Errorf("worker cap_add = %v, want NET_ADMIN", w.CapAdd)
	}
	for _, o := range w.SecurityOpt {
		if strings.HasPrefix(o, "no-new-privileges") {
			t.Errorf("worker security_opt %q keeps the binary's file capability from applying", o)
		}
	}
	stages := parseDockerfile(t)
	found := false
	for _, ins := range stages[len(stages)-1].lines {
		if strings.Contains(ins, "setcap cap_net_admin=p /usr/local/bin/worker") {
			found = true
		}
	}
	if !found {
		t.Error("the runtime stage does not give /usr/local/bin/worker cap_net_admin=p")
	}
}
