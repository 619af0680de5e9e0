package deploytest

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"vpnflow/internal/config"
	"vpnflow/internal/dev/stack"
	"vpnflow/internal/dev/testenv"
	"vpnflow/internal/xray"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// nodeFile is the compose file of a node on another machine.
const nodeFile = "deploy/node/docker-compose.yml"

// nodeSecrets are the variables nodeFile requires.
var nodeSecrets = map[string]string{
	"NODE_PRIVATE_ADDR":        "10.0.0.5",
	"SESSION_AGENT_TOKEN":      strings.Repeat("s", 40),
	"XRAY_REALITY_PRIVATE_KEY": "reality-private-key",
	"VLESS_REALITY_SNI":        "www.example.com",
}

func loadNode(t *testing.T, env map[string]string) *types.Project {
	t.Helper()
	p, err := loadFile(t, nodeFile, maps.Clone(env)) // the loader adds to it
	if err != nil {
		t.Fatalf("%s does not load: %v", nodeFile, err)
	}
	return p
}

func TestNodeComposeLoadsWithItsSecretsAlone(t *testing.T) {
	p := loadNode(t, nodeSecrets)
	if got := p.ServiceNames(); !slices.Equal(got, []string{"session-agent", "xray"}) {
		t.Fatalf("services = %v, want session-agent and xray", got)
	}
	example := readFile(t, "deploy/node/.env.example")
	for name := range nodeSecrets {
		if !strings.Contains(example, "\n"+name+"=") {
			t.Errorf("deploy/node/.env.example does not name %s", name)
		}
		env := maps.Clone(nodeSecrets)
		delete(env, name)
		if _, err := loadFile(t, nodeFile, env); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("without %s: %v, want a refusal naming it", name, err)
		}
	}
}

// The agent shares Xray's network namespace with CAP_NET_ADMIN, runs
// `worker session-agent` from the image the root file builds, and its
// environment is one the agent starts with.
func TestNodeAgentRunsBesideItsXray(t *testing.T) {
	p := loadNode(t, nodeSecrets)
	agent := service(t, p, "session-agent")
	if agent.NetworkMode != "service:xray" || !slices.Contains(agent.CapAdd, "NET_ADMIN") {
		t.Errorf("session-agent: network_mode %q, cap_add %v; want xray's namespace and NET_ADMIN", agent.NetworkMode, agent.CapAdd)
	}
	if !slices.Equal(agent.Command, types.ShellCommand{"worker", "session-agent"}) {
		t.Errorf("session-agent runs %v", agent.Command)
	}
	root := service(t, mustLoad(t, nil), "worker")
	if agent.Image != root.Image || agent.Build == nil || root.Build == nil ||
		filepath.Clean(agent.Build.Context) != filepath.Clean(root.Build.Context) || agent.Build.Target != root.Build.Target {
		t.Errorf("session-agent image %q build %+v, want the root file's %q %+v", agent.Image, agent.Build, root.Image, root.Build)
	}
	cfg, err := config.LoadFrom(envOf(agent))
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.ForSessionAgent(); err != nil {
		t.Errorf("the agent's environment: %v", err)
	}
	_, port, _ := net.SplitHostPort(cfg.SessionAgentAddr)
	if !publishes(service(t, p, "xray"), port, nodeSecrets["NODE_PRIVATE_ADDR"]) {
		t.Errorf("the agent listens on %s, which xray does not publish on NODE_PRIVATE_ADDR", cfg.SessionAgentAddr)
	}
}

// Only VLESS is published on every address; the API and the agent on
// NODE_PRIVATE_ADDR alone.
func TestNodePublishesOnlyVLESSPublicly(t *testing.T) {
	p := loadNode(t, nodeSecrets)
	for name, s := range p.Services {
		for _, port := range s.Ports {
			public := port.HostIP == "" || port.HostIP == "0.0.0.0" || port.HostIP == "::"
			if public && (name != "xray" || port.Target != 443) {
				t.Errorf("%s publishes container port %d on all interfaces", name, port.Target)
			}
			if !public && port.HostIP != nodeSecrets["NODE_PRIVATE_ADDR"] {
				t.Errorf("%s publishes container port %d on %s", name, port.Target, port.HostIP)
			}
		}
	}
	if !publishes(service(t, p, "xray"), "10085", nodeSecrets["NODE_PRIVATE_ADDR"]) {
		t.Error("xray does not publish its API on NODE_PRIVATE_ADDR")
	}
}

// A node's Xray is the root file's: the same image, base config and
// inbound (with the node's own key).
func TestNodeXrayIsTheRootFiles(t *testing.T) {
	env := maps.Clone(secrets)
	maps.Copy(env, nodeSecrets)
	node, root := loadNode(t, env), mustLoad(t, env)
	nx, rx := service(t, node, "xray"), service(t, root, "xray")
	if nx.Image != rx.Image || len(nx.Command) < len(rx.Command) || !slices.Equal(nx.Command[:len(rx.Command)], rx.Command) {
		t.Errorf("node xray %q %v, root %q %v", nx.Image, nx.Command, rx.Image, rx.Command)
	}
	if node.Configs["xray-inbound"].Content != root.Configs["xray-inbound"].Content {
		t.Errorf("the node's inbound differs from the root file's:\n%s\n%s", node.Configs["xray-inbound"].Content, root.Configs["xray-inbound"].Content)
	}
	if len(nx.Volumes) != 1 || filepath.Clean(nx.Volumes[0].Source) != filepath.Join(repoRoot(t), "deploy/xray/config.json") {
		t.Errorf("node xray mounts %+v, want deploy/xray/config.json", nx.Volumes)
	}
}

// The node's three Xray config files, run by the real Xray (the pinned
// tool) in a network namespace of its own as the container's: the API
// answers on the namespace's own address, where the published port
// forwards, and only because of api.json (Xray replaces a top-level
// section with a later file's); VLESS listens on 443.
func TestNodeXrayAPIAnswersBeyondItsLoopback(t *testing.T) {
	bin, err := stack.Xray.Find()
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	env := maps.Clone(nodeSecrets)
	env["XRAY_REALITY_PRIVATE_KEY"] = base64.RawURLEncoding.EncodeToString(key.Bytes())
	p := loadNode(t, env)
	dir := testenv.Dir(t, "node-xray")
	files := map[string]string{
		"config.json":  readFile(t, "deploy/xray/config.json"),
		"inbound.json": p.Configs["xray-inbound"].Content,
		"api.json":     p.Configs["xray-api"].Content,
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name    string
		files   []string
		answers bool
	}{
		{"without api.json", []string{"config.json", "inbound.json"}, false},
		{"as the node runs it", []string{"config.json", "inbound.json", "api.json"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			ns := testenv.NewNetns(t)
			args := []string{"run"}
			for _, f := range c.files {
				args = append(args, "-c", filepath.Join(dir, f))
			}
			xr := testenv.Start(t, "node-xray", ns.Command(bin, args...), nil)
			vless := net.JoinHostPort(ns.NodeIP, "443")
			listening := func() bool {
				conn, err := net.Dial("tcp", vless)
				if err != nil {
					return false
				}
				conn.Close()
				return true
			}
			if !eventually(listening) {
				t.Fatalf("VLESS not listening on %s:\n%s", vless, xr.Output())
			}
			xc, err := xray.Dial(net.JoinHostPort(ns.NodeIP, "10085"), "vless-in", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer xc.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			_, err = xc.Uptime(ctx)
			if answered := err == nil; answered != c.answers {
				t.Errorf("API on %s:10085 answered %v (%v), want %v", ns.NodeIP, answered, err, c.answers)
			}
		})
	}
}

// publishes reports whether s publishes container port target on hostIP.
func publishes(s types.ServiceConfig, target, hostIP string) bool {
	for _, p := range s.Ports {
		if p.HostIP == hostIP && p.Published == target {
			return true
		}
	}
	return false
}

// eventually polls ok for up to 10 s.
func eventually(ok func() bool) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if ok() {
			return true
		}
	}
	return false
}
