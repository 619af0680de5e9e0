package activities

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"vpnflow/internal/agentapp"
	"vpnflow/internal/dev/stack"
	"vpnflow/internal/dev/testenv"
	"vpnflow/internal/dev/vlessclient"
	"vpnflow/internal/sessionagent"
	"vpnflow/internal/xray"
)

// countingXray is the agent's Xray client, counting the agent's calls.
type countingXray struct {
	*xray.Client
	ends, checks atomic.Int64
}

func (c *countingXray) DisconnectUsers(ctx context.Context, emails []string) (xray.Disconnected, error) {
	c.ends.Add(1)
	return c.Client.DisconnectUsers(ctx, emails)
}

func (c *countingXray) CheckDisconnect(ctx context.Context) error {
	c.checks.Add(1)
	return c.Client.CheckDisconnect(ctx)
}

// A node whose row names a session agent (a node on another machine) has
// its revoked keys' sessions ended through the agent, against real
// PostgreSQL, Xray and VLESS clients: the revocation sweep's batch and
// EndSessions each make one call to it, and the health check asks it. An
// agent that refuses the worker's token is the operator's problem (Unable,
// and the node denied in the health check), not retried; an agent that is
// down is retried, and its node unknown to the health check.
func TestSessionsOfANodeWithAnAgentAreEndedThroughIt(t *testing.T) {
	e := &revokeEnv{dbEnv: newDBEnv(t)}
	srv := testenv.NewXray(t, stack.XrayOptions{Target: vlessclient.LocalTLSTarget(t), AllowPrivate: true})
	e.xc = e.useXray(srv)
	e.a.Config.XrayEmailDomain = "vpnflow"
	token := strings.Repeat("t", 40)
	e.a.Config.SessionAgentToken = token

	agentXray := &countingXray{Client: e.xc}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(e.ctx)
	served := make(chan error, 1)
	go func() { served <- agentapp.Serve(ctx, ln, sessionagent.NewServer(agentXray, token, nil)) }()
	t.Cleanup(stop)
	if _, err := e.pool.Exec(e.ctx, `UPDATE nodes SET agent_url = $1 WHERE id = $2`, "http://"+ln.Addr().String(), e.a.NodeID); err != nil {
		t.Fatal(err)
	}

	flows := e.downloading(srv, map[int64]string{1: "127.0.0.7", 2: "127.0.0.8", 3: "127.0.0.9"})

	e.expire(1)
	at := time.Now()
	if res := e.sweep(RevokeExpiredInput{Now: time.Now()}); res.Removed != 1 || res.SessionsEnded != 1 {
		t.Errorf("sweep = %+v, want 1 key removed and its 1 connection ended", res)
	}
	if n := agentXray.ends.Load(); n != 1 {
		t.Errorf("the sweep made %d calls to the agent, want 1", n)
	}
	last := vlessclient.LastByteAfter(t, flows[1], at, 30*time.Second)
	t.Logf("sweep through the agent: last byte %s after it started", last.Round(time.Millisecond))

	if _, err := e.run(e.a.RemoveVLESSUser, UserRef{UserID: 2}, nil); err != nil {
		t.Fatal(err)
	}
	out, err := e.run(e.a.EndSessions, EndSessionsInput{UserID: 2}, EndSessionsResult{})
	if got, _ := out.(EndSessionsResult); err != nil || got.Connections != 1 || got.Unable != "" {
		t.Errorf("EndSessions = %+v, %v; want 1 connection ended", out, err)
	}
	if n := agentXray.ends.Load(); n != 2 {
		t.Errorf("%d calls to the agent after EndSessions, want 2", n)
	}
	vlessclient.LastByteAfter(t, flows[2], at, 30*time.Second)
	vlessclient.KeepsFlowing(t, flows[3], 2*time.Second)

	if denied, unknown := e.a.checkDisconnectOnNodes(e.ctx); len(denied)+len(unknown) != 0 || agentXray.checks.Load() != 1 {
		t.Errorf("health check: denied %v unknown %v, %d checks by the agent; want it asked once and fine", denied, unknown, agentXray.checks.Load())
	}

	// The worker's token is not the agent's.
	e.a.Config.SessionAgentToken = strings.Repeat("x", 40)
	if _, err := e.run(e.a.RemoveVLESSUser, UserRef{UserID: 3}, nil); err != nil {
		t.Fatal(err)
	}
	out, err = e.run(e.a.EndSessions, EndSessionsInput{UserID: 3}, EndSessionsResult{})
	if got, _ := out.(EndSessionsResult); err != nil || !strings.Contains(got.Unable, "refused the token") {
		t.Errorf("EndSessions with a wrong token = %+v, %v; want Unable saying the agent refused the token", out, err)
	}
	if denied, _ := e.a.checkDisconnectOnNodes(e.ctx); len(denied) != 1 || !strings.Contains(denied[0], "refused the token") {
		t.Errorf("health check with a wrong token: denied %v, want the node", denied)
	}
	if n := agentXray.ends.Load(); n != 2 {
		t.Errorf("the agent ended sessions for a wrong token (%d calls)", n)
	}

	// The agent is down: for now, retried; the node's state unknown.
	e.a.Config.SessionAgentToken = token
	stop()
	if err := <-served; err != nil {
		t.Fatalf("agent shut down: %v", err)
	}
	_, err = e.run(e.a.EndSessions, EndSessionsInput{UserID: 3}, EndSessionsResult{})
	var app *temporal.ApplicationError
	if !errors.Is(err, sessionagent.ErrUnavailable) && !strings.Contains(fmt.Sprint(err), sessionagent.ErrUnavailable.Error()) || errors.As(err, &app) && app.NonRetryable() {
		t.Errorf("EndSessions with the agent down: %v, want a retryable error", err)
	}
	if _, unknown := e.a.checkDisconnectOnNodes(e.ctx); len(unknown) != 1 {
		t.Errorf("health check with the agent down: unknown %v, want the node", unknown)
	}
}
