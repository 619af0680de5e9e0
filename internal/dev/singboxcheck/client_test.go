package singboxcheck

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"vpnflow/internal/dev/stack"
	"vpnflow/internal/dev/testenv"
	"vpnflow/internal/dev/vlessclient"
	"vpnflow/internal/subfeed"
	"vpnflow/internal/vless"
	"vpnflow/internal/xray"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// sing-box itself, the binary sing-box's apps embed (a pinned tool),
// takes the profiles as served (`sing-box check`), and with the user's
// profile moves traffic through a real Xray's VLESS+REALITY inbound.
func TestSingBoxConnectsWithTheProfile(t *testing.T) {
	bin, err := stack.SingBox.Find()
	if err != nil {
		t.Fatal(err)
	}
	srv := testenv.NewXray(t, stack.XrayOptions{Target: vlessclient.LocalTLSTarget(t), AllowPrivate: true})
	xc, err := xray.Dial(srv.APIAddr, srv.InboundTag, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { xc.Close() })
	ctx := context.Background()
	email := "tg7@vpnflow"
	id := uuid.NewString()
	if err := xc.AddUser(ctx, xray.User{Email: email, UUID: id, Flow: vless.FlowVision}); err != nil {
		t.Fatal(err)
	}
	served, _, err := subfeed.Profile(subfeed.FormatSingBox, []vless.Link{srv.Link(id, "vpnflow-7")}, "vpnflow")
	if err != nil {
		t.Fatal(err)
	}
	empty, _, err := subfeed.Profile(subfeed.FormatSingBox, nil, "vpnflow")
	if err != nil {
		t.Fatal(err)
	}
	dir := testenv.Dir(t, "sing-box")
	for name, body := range map[string][]byte{"served.json": served, "empty.json": empty} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, body, 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(bin, "check", "-c", path).CombinedOutput(); err != nil {
			t.Errorf("sing-box check %s: %v\n%s\n%s", name, err, out, body)
		}
	}

	// To run here without a TUN (root and the machine's routes), the
	// profile's inbound becomes a local proxy, and the rule that sends
	// private addresses direct goes: the test's target is on loopback.
	// The servers, the selector and DNS stay as served.
	var p map[string]any
	if err := json.Unmarshal(served, &p); err != nil {
		t.Fatal(err)
	}
	port, err := stack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	p["inbounds"] = []any{map[string]any{"type": "mixed", "tag": "mixed-in", "listen": "127.0.0.1", "listen_port": port}}
	route := p["route"].(map[string]any)
	var rules []any
	for _, r := range route["rules"].([]any) {
		if _, private := r.(map[string]any)["ip_is_private"]; !private {
			rules = append(rules, r)
		}
	}
	route["rules"] = rules
	local, _ := json.MarshalIndent(p, "", "  ")
	cfg := filepath.Join(dir, "local.json")
	if err := os.WriteFile(cfg, local, 0o600); err != nil {
		t.Fatal(err)
	}
	sb := testenv.Start(t, "sing-box", exec.Command(bin, "run", "-c", cfg, "-D", dir), nil)
	proxy := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", proxy); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sing-box not listening on %s after 15 s:\n%s", proxy, sb.Output())
		}
	}

	target := vlessclient.NewTarget(t)
	flow := target.Download(t, vlessclient.HTTP(proxy, nil), "sing-box", false)
	vlessclient.WaitFlowing(t, flow)
	tr, err := xc.UserTraffic(ctx, email, false)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Downlink < flow.Bytes() {
		t.Errorf("Xray counted %d bytes down for the user, the client received %d: not through the VLESS server\n%s", tr.Downlink, flow.Bytes(), sb.Output())
	}
	t.Logf("through sing-box and Xray: %d bytes received, Xray counted %d down, %d up", flow.Bytes(), tr.Downlink, tr.Uplink)
}
