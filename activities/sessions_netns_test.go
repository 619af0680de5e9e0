package activities

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"vpnflow/internal/dev/stack"
	"vpnflow/internal/dev/testenv"
	"vpnflow/internal/dev/vlessclient"
	"vpnflow/internal/sessionagent"
)

// A node in a network namespace of its own stands for a node on another
// machine: the worker reaches its Xray API and its VLESS port over the
// network, but the worker's kernel holds none of that Xray's connections.
// Against real PostgreSQL, Xray (in the namespace) and a VLESS client
// (outside it):
//   - without an agent, the worker cannot end the revoked key's
//     connection: EndSessions answers Unable, saying the worker is not in
//     Xray's network namespace, the health check names the node, and the
//     download goes on;
//   - with `worker session-agent` beside that Xray (this test binary as
//     the agent, run inside the namespace), the same call ends it.
//
// This is why a node on another machine needs the agent, shown rather
// than assumed.
func TestSessionsOfANodeElsewhereEndOnlyThroughItsAgent(t *testing.T) {
	ns := testenv.NewNetns(t)
	e := &revokeEnv{dbEnv: newDBEnv(t)}
	srv := testenv.NewXray(t, stack.XrayOptions{Netns: ns.Name, Host: ns.NodeIP,
		Target: vlessclient.TLSTargetAt(t, ns.HostIP), AllowPrivate: true})
	e.xc = e.useXray(srv)
	e.a.Config.XrayEmailDomain = "vpnflow"
	token := strings.Repeat("n", 40)
	e.a.Config.SessionAgentToken = token
	flows := e.downloadingVia(vlessclient.NewTargetAt(t, ns.HostIP), srv, map[int64]string{1: ns.HostIP})

	if _, err := e.run(e.a.RemoveVLESSUser, UserRef{UserID: 1}, nil); err != nil {
		t.Fatal(err)
	}
	out, err := e.run(e.a.EndSessions, EndSessionsInput{UserID: 1}, EndSessionsResult{})
	if got, _ := out.(EndSessionsResult); err != nil || got.Connections != 0 || !strings.Contains(got.Unable, "network namespace") {
		t.Errorf("EndSessions from outside the node's namespace = %+v, %v; want Unable, naming the namespace", out, err)
	}
	if denied, _ := e.a.checkDisconnectOnNodes(e.ctx); len(denied) != 1 {
		t.Errorf("health check without an agent: denied %v, want the node", denied)
	}
	vlessclient.KeepsFlowing(t, flows[1], 2*time.Second)

	url := sessionAgentIn(t, ns, srv, token)
	if _, err := e.pool.Exec(e.ctx, `UPDATE nodes SET agent_url = $1 WHERE id = $2`, url, e.a.NodeID); err != nil {
		t.Fatal(err)
	}
	e.a.Nodes.Close() // its view of the nodes predates the agent
	e.a.Nodes = nodeRegistry(e.s)
	t.Cleanup(e.a.Nodes.Close)

	at := time.Now()
	out, err = e.run(e.a.EndSessions, EndSessionsInput{UserID: 1}, EndSessionsResult{})
	if got, _ := out.(EndSessionsResult); err != nil || got.Connections != 1 || got.Unable != "" {
		t.Errorf("EndSessions through the agent = %+v, %v; want 1 connection ended", out, err)
	}
	last := vlessclient.LastByteAfter(t, flows[1], at, 30*time.Second)
	t.Logf("through the agent in the node's namespace: last byte %s after EndSessions began; %s",
		last.Round(time.Millisecond), vlessclient.EndedAfter(flows[1], at))
	if denied, unknown := e.a.checkDisconnectOnNodes(e.ctx); len(denied)+len(unknown) != 0 {
		t.Errorf("health check with the agent: denied %v unknown %v, want none", denied, unknown)
	}
}

// sessionAgentIn runs `worker session-agent` (this test binary, see
// TestMain) inside ns beside srv, configured from its environment as an
// operator configures it, and returns its URL once it answers. It is
// stopped with SIGTERM when the test ends; its log is kept with the
// test's state.
func sessionAgentIn(t *testing.T, ns *testenv.Netns, srv *stack.XrayServer, token string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort(ns.NodeIP, "10086") // the namespace's ports are all free
	cmd := ns.Command(self)
	cmd.Env = []string{asSessionAgent + "=1", "PATH=" + os.Getenv("PATH"),
		"XRAY_API_ADDR=" + srv.APIAddr, "XRAY_INBOUND_TAG=" + srv.InboundTag,
		"SESSION_AGENT_TOKEN=" + token, "SESSION_AGENT_ADDR=" + addr}
	var agent *testenv.Process
	agent = testenv.Start(t, "session-agent", cmd, func(exit error, timedOut bool) {
		if exit != nil || timedOut {
			t.Errorf("session agent stopped with %v (not within 10 s of SIGTERM: %v; log %s)", exit, timedOut, agent.Log)
		}
	})

	url := "http://" + addr
	c, err := sessionagent.NewClient(url, token)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err = c.CheckDisconnect(context.Background())
		if err == nil {
			return url
		}
		select {
		case <-agent.Exited:
			t.Fatalf("session agent exited (%v) before it answered:\n%s", agent.Err(), agent.Output())
		default:
		}
		if !errors.Is(err, sessionagent.ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("session agent in %s: %v\n%s", ns.Name, err, agent.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
