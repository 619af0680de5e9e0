package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Registry returns the private Prometheus registry behind MetricsHandler:
// OpenTelemetry instruments, Go runtime and process metrics. Code that uses
// the Prometheus client directly registers here, never on the default
// registry.
func (t *Telemetry) Registry() *prometheus.Registry { return t.registry }

// MetricsHandler serves Registry in the Prometheus exposition format; mount
// it at /metrics.
func (t *Telemetry) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(t.registry, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(t.logger.Handler(), slog.LevelError),
		// Count failed scrapes in the same registry.
		Registry: t.registry,
	})
}

// shutdownGrace is how long in-flight requests get once Serve's context ends.
const shutdownGrace = 5 * time.Second

// Serve serves h on addr (host:port) until ctx ends, then shuts the server
// down, giving in-flight requests shutdownGrace. It returns nil after a clean
// shutdown. The worker uses it for /metrics; the bot mounts MetricsHandler on
// its own server instead.
func Serve(ctx context.Context, addr string, h http.Handler) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	return serve(ctx, ln, h)
}

func serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down server on %s: %w", ln.Addr(), err)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	}
	return nil
}
