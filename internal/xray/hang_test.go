package xray_test

import (
	"context"
	"testing"
	"time"

	"vpnflow/internal/dev/testenv"
	"vpnflow/internal/xray"
)

// TestHungXrayCallsFailWithinCap freezes a real Xray with SIGSTOP after the
// client connected: the kernel still accepts and buffers, nothing answers,
// and the gRPC connection stays READY. Each call must still fail within
// DefaultTimeout although its context (like an activity's) allows 30 s, and
// the client must work again once Xray is thawed.
func TestHungXrayCallsFailWithinCap(t *testing.T) {
	srv := testenv.NewXray(t)
	c := dial(t, srv)
	if _, err := c.ListUsers(context.Background()); err != nil {
		t.Fatalf("ListUsers before the freeze: %v", err)
	}
	thaw := testenv.FreezeXray(t, srv)

	// A generous bound: the cap is 5 s, a noisy 2-core machine adds little.
	const limit = 8 * time.Second
	for i := range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		start := time.Now()
		err := c.AddUser(ctx, newUser(t, i))
		took := time.Since(start)
		cancel()
		if err == nil {
			t.Fatalf("call %d to a frozen xray succeeded", i)
		}
		t.Logf("call %d to frozen xray failed after %v (cap %v): %v", i, took.Round(time.Millisecond), xray.DefaultTimeout, err)
		if took > limit {
			t.Fatalf("call %d took %v, want < %v", i, took, limit)
		}
	}
	t.Logf("connection state while xray is frozen: %v", c.ConnState())

	thaw()
	start := time.Now()
	var err error
	for time.Since(start) < 20*time.Second {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err = c.ListUsers(ctx)
		cancel()
		if err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("client did not recover after SIGCONT: %v", err)
	}
	t.Logf("recovered %v after SIGCONT", time.Since(start).Round(time.Millisecond))
	u := newUser(t, 9)
	mustAdd(t, c, u)
}
