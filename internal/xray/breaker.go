package xray

import (
	"context"
	"log/slog"

	"google.golang.org/grpc"

	"vpnflow/internal/circuit"
)

// ErrCircuitOpen: recent calls to Xray timed out or found it unreachable,
// so calls fail at once for a while instead of each waiting DefaultTimeout;
// one probe call at a time then tests whether Xray answers again. It is
// retryable (IsRetryable): the caller tries again later.
var ErrCircuitOpen = circuit.ErrOpen

// newBreaker is the client's circuit breaker. With the 5 s per-call cap, a
// black-holed Xray is declared down after circuit.Trips calls time out:
// within about 5 s of concurrent calls. Only errors that may go away by
// themselves (IsRetryable) count against Xray: an invalid user or a
// missing inbound is Xray answering.
func newBreaker(system string, log *slog.Logger) *circuit.Breaker {
	return circuit.New(system, log, IsRetryable)
}

// breakerInterceptor runs every unary call through b.
func breakerInterceptor(b *circuit.Breaker) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		return b.Do(func() error { return invoker(ctx, method, req, reply, cc, opts...) })
	}
}

// Circuit is the state of the client's breaker: "closed", "half-open" or
// "open" (Xray declared down).
func (c *Client) Circuit() string { return c.breaker.State() }

// Breaker is the client's circuit breaker, for its metric.
func (c *Client) Breaker() *circuit.Breaker { return c.breaker }
