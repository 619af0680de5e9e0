package xray_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"vpnflow/internal/dev/testenv"
	"vpnflow/internal/xray"
)

// TestBlackHoledXrayOpensTheCircuit freezes a real Xray (it accepts and
// never answers) while several activities call it, as they do when keys
// are being delivered. The calls time out at the cap, the circuit opens,
// and later calls fail at once with a retryable ErrCircuitOpen instead of
// each holding a slot for DefaultTimeout. After the thaw, one probe closes
// the circuit again. The bound for declaring a black-holed Xray
// down is 15 s.
func TestBlackHoledXrayOpensTheCircuit(t *testing.T) {
	srv := testenv.NewXray(t)
	c := dial(t, srv)
	if _, err := c.ListUsers(context.Background()); err != nil {
		t.Fatalf("ListUsers before the freeze: %v", err)
	}
	thaw := testenv.FreezeXray(t, srv)
	frozen := time.Now()

	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := c.AddUser(ctx, newUser(t, i)); err == nil {
				t.Errorf("call %d to a frozen xray succeeded", i)
			}
		}()
	}
	wg.Wait()
	if got := c.Circuit(); got != "open" {
		t.Fatalf("circuit %q after four calls timed out, want open", got)
	}
	declared := time.Since(frozen)
	t.Logf("black-holed xray declared down (circuit open) %s after the freeze", declared.Round(time.Millisecond))
	if declared > 15*time.Second {
		t.Errorf("declared down after %s, want within 15 s", declared)
	}

	start := time.Now()
	err := c.AddUser(context.Background(), newUser(t, 8))
	if !errors.Is(err, xray.ErrCircuitOpen) || !xray.IsRetryable(err) {
		t.Fatalf("call with the circuit open: %v, want a retryable ErrCircuitOpen", err)
	}
	t.Logf("a call with the circuit open failed after %s", time.Since(start).Round(time.Microsecond))

	thaw()
	start = time.Now()
	for {
		_, err = c.ListUsers(context.Background())
		if err == nil || time.Since(start) > 30*time.Second {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err != nil || c.Circuit() != "closed" {
		t.Fatalf("after the thaw: %v, circuit %s; want a probe to close it", err, c.Circuit())
	}
	t.Logf("circuit closed %s after the thaw (it stays open 10 s)", time.Since(start).Round(time.Millisecond))
	mustAdd(t, c, newUser(t, 9))
}
