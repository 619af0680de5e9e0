// Package xray manages VLESS users on a running Xray-core through its gRPC
// API (HandlerService and StatsService), using Xray's own generated clients.
//
// Users added through the API live in Xray's memory only: a restart of Xray
// drops them all, so the caller must be able to re-add every user (the
// reconciliation workflow does). All calls are idempotent where the API is
// not: adding a user that is already there with the same UUID, or removing
// one that is gone, succeeds.
package xray

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	handlercmd "github.com/xtls/xray-core/app/proxyman/command"
	statscmd "github.com/xtls/xray-core/app/stats/command"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"

	"vpnflow/internal/circuit"
)

// DefaultTimeout bounds every call, also when the context has a later
// deadline of its own: activities carry deadlines of 10 s and more, and a
// hung Xray (it accepts TCP and never answers) keeps its connection READY,
// so without this cap every call would run to the activity's deadline.
const DefaultTimeout = 5 * time.Second

// maxRecvMsgSize lets ListUsers read large inbounds: 100,000 users come back
// as about 9 MB, over gRPC's default 4 MB limit.
const maxRecvMsgSize = 64 << 20

// Client talks to one Xray instance and manages the users of one inbound.
// It is safe for concurrent use.
type Client struct {
	addr     string
	tag      string
	conn     *grpc.ClientConn
	handlers handlercmd.HandlerServiceClient
	stats    statscmd.StatsServiceClient
	breaker  *circuit.Breaker
}

// Dial prepares a client for the Xray API at addr (host:port, plaintext,
// normally loopback) and the inbound tagged tag. It does not connect: the
// first call does, so Dial succeeds while Xray is down. Every call goes
// through a circuit breaker (breaker.go), whose changes go to log (nil:
// slog's default).
func Dial(addr, tag string, log *slog.Logger) (*Client, error) {
	return dial(addr, tag, "xray", log)
}

// dial is Dial with the name the client's circuit breaker logs under.
func dial(addr, tag, system string, log *slog.Logger) (*Client, error) {
	if tag == "" {
		return nil, fmt.Errorf("dial xray api %s: empty inbound tag", addr)
	}
	if log == nil {
		log = slog.Default()
	}
	breaker := newBreaker(system, log)
	conn, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithUnaryInterceptor(breakerInterceptor(breaker)),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxRecvMsgSize)),
		// gRPC's default reconnect backoff grows to two minutes, and calls
		// fail fast meanwhile; after an Xray restart the client would keep
		// failing long after Xray is back. Local Xray is cheap to redial.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: 2 * time.Second,
		}),
		// No gRPC keepalive: Xray's API server (app/commander) is a plain
		// grpc.NewServer(), whose enforcement policy allows one ping per
		// 5 minutes and none on an idle connection; a 10 s keepalive got
		// GOAWAY "too_many_pings" after 30 s idle. A hung Xray is cut short
		// by the per-call cap in bound instead.
	)
	if err != nil {
		return nil, fmt.Errorf("dial xray api %s: %w", addr, err)
	}
	return &Client{
		addr:     addr,
		tag:      tag,
		conn:     conn,
		handlers: handlercmd.NewHandlerServiceClient(conn),
		stats:    statscmd.NewStatsServiceClient(conn),
		breaker:  breaker,
	}, nil
}

// Close releases the connection.
func (c *Client) Close() error {
	return c.conn.Close()
}

// Tag is the inbound the client manages.
func (c *Client) Tag() string { return c.tag }

// Addr is the API address the client talks to.
func (c *Client) Addr() string { return c.addr }

// bound gives ctx the earlier of its own deadline and DefaultTimeout from now.
// (context.WithTimeout keeps the parent's deadline when that is earlier.)
func bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, DefaultTimeout)
}
