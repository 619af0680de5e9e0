package agentapp_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"vpnflow/internal/agentapp"
	"vpnflow/internal/config"
	"vpnflow/internal/dev/testenv"
	"vpnflow/internal/sessionagent"
	"vpnflow/internal/telemetry"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// `worker session-agent` as an operator starts it: configured from the
// environment, against a real Xray, it answers the workers' check with the
// right token only, and stops when its context ends. Without a token it
// refuses to start and names the variable.
func TestSessionAgentRunsFromItsEnvironment(t *testing.T) {
	srv := testenv.Xray(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	token := strings.Repeat("k", 40)
	env := map[string]string{"XRAY_API_ADDR": srv.APIAddr, "XRAY_INBOUND_TAG": srv.InboundTag, "SESSION_AGENT_ADDR": addr}

	tel, err := telemetry.Setup(context.Background(), telemetry.Options{Service: "session-agent-test", Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadFrom(env)
	if err != nil {
		t.Fatal(err)
	}
	if err := agentapp.Run(context.Background(), cfg, tel); err == nil || !strings.Contains(err.Error(), "SESSION_AGENT_TOKEN") {
		t.Fatalf("started without a token: %v", err)
	}
	env["SESSION_AGENT_TOKEN"] = "short"
	if _, err := config.LoadFrom(env); err == nil || !strings.Contains(err.Error(), "SESSION_AGENT_TOKEN") {
		t.Fatalf("a short token: %v", err)
	}

	env["SESSION_AGENT_TOKEN"] = token
	cfg, err = config.LoadFrom(env)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- agentapp.Run(ctx, cfg, tel) }()
	c, _ := sessionagent.NewClient("http://"+addr, token)
	deadline := time.Now().Add(10 * time.Second)
	for {
		err = c.CheckDisconnect(context.Background())
		if !errors.Is(err, sessionagent.ErrUnavailable) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("check through the agent: %v (the test runs as root, in Xray's namespace)", err)
	}
	wrong, _ := sessionagent.NewClient("http://"+addr, strings.Repeat("w", 40))
	if err := wrong.CheckDisconnect(context.Background()); !errors.Is(err, sessionagent.ErrUnauthorized) {
		t.Errorf("a wrong token: %v, want ErrUnauthorized", err)
	}
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("agent stopped with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("agent did not stop")
	}
}
