// Package agentapp is the wiring of `worker session-agent`: the session agent
// of a node on another machine (internal/sessionagent).
package agentapp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"vpnflow/internal/config"
	"vpnflow/internal/sessionagent"
	"vpnflow/internal/telemetry"
	"vpnflow/internal/xray"
)

// Run is `worker session-agent`: it serves the agent's API on
// SESSION_AGENT_ADDR over the Xray at XRAY_API_ADDR until ctx ends. It
// must run in that Xray's network namespace with CAP_NET_ADMIN there, as
// a worker beside its Xray does; it says at start if it cannot.
func Run(ctx context.Context, cfg config.Config, tel *telemetry.Telemetry) error {
	log := tel.Logger()
	if err := cfg.ForSessionAgent(); err != nil {
		return err
	}
	log.Info("session agent starting", "listen", cfg.SessionAgentAddr, "xray", cfg.XrayAPIAddr+"#"+cfg.XrayInboundTag)
	if ok, err := xray.EnableNetAdmin(); err != nil || !ok {
		// Kept running: the worker's health check asks the agent and tells
		// the admins why revoked keys' sessions are not ended.
		log.Error("session agent cannot end sessions: no effective CAP_NET_ADMIN (grant it to this process)", "error", err)
	}
	xc, err := xray.Dial(cfg.XrayAPIAddr, cfg.XrayInboundTag, log)
	if err != nil {
		return err
	}
	defer xc.Close()
	ln, err := net.Listen("tcp", cfg.SessionAgentAddr)
	if err != nil {
		return fmt.Errorf("session agent: listen on %s: %w", cfg.SessionAgentAddr, err)
	}
	return Serve(ctx, ln, sessionagent.NewServer(xc, cfg.SessionAgentToken, log))
}

// Serve serves s on ln until ctx ends, then shuts down within a few
// seconds.
func Serve(ctx context.Context, ln net.Listener, s *sessionagent.Server) error {
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		// An end-sessions call looks each key up in Xray first.
		WriteTimeout: 2 * sessionagent.CallTimeout,
		IdleTimeout:  2 * time.Minute,
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("session agent: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("session agent: shut down: %w", err)
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("session agent: %w", err)
	}
	return nil
}
