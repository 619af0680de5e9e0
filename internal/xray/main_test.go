package xray_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"vpnflow/internal/dev/stack"
	"vpnflow/internal/dev/testenv"
	"vpnflow/internal/xray"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// dial returns a client for srv's inbound, closed when the test ends.
func dial(tb testing.TB, srv *stack.XrayServer) *xray.Client {
	tb.Helper()
	return dialTag(tb, srv, srv.InboundTag)
}

func dialTag(tb testing.TB, srv *stack.XrayServer, tag string) *xray.Client {
	tb.Helper()
	c, err := xray.Dial(srv.APIAddr, tag, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// newUser makes a user with an email no other test uses, so tests can share
// one Xray.
func newUser(tb testing.TB, n int) xray.User {
	return xray.User{
		Email: fmt.Sprintf("%s-%d@test", uuid.NewString()[:8], n),
		UUID:  uuid.NewString(),
		Flow:  xray.FlowVision,
	}
}

func mustAdd(tb testing.TB, c *xray.Client, u xray.User) {
	tb.Helper()
	if err := c.AddUser(context.Background(), u); err != nil {
		tb.Fatalf("AddUser(%+v): %v", u, err)
	}
}
