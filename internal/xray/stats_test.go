package xray_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"vpnflow/internal/dev/stack"
	"vpnflow/internal/dev/testenv"
	"vpnflow/internal/xray"
)

const pageSize = 64 << 10

// trafficServer is an Xray whose customers can reach a local web page.
func trafficServer(t *testing.T) (srv *stack.XrayServer, pageURL string) {
	t.Helper()
	page := bytes.Repeat([]byte("v"), pageSize)
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(page) }))
	t.Cleanup(web.Close)
	return localRealityXray(t), web.URL
}

func fetch(hc *http.Client, pageURL string) error {
	resp, err := hc.Get(pageURL)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return err
	}
	if n != pageSize {
		return fmt.Errorf("read %d bytes, want %d", n, pageSize)
	}
	return nil
}

// TestTrafficThroughRealityLink sends real traffic through a user added
// over the API, with a client set up only from the user's share link, and
// checks the counters, their reset, and that removal revokes access.
func TestTrafficThroughRealityLink(t *testing.T) {
	ctx := context.Background()
	srv, pageURL := trafficServer(t)
	c := dial(t, srv)
	u := newUser(t, 0)
	stranger := newUser(t, 1)
	mustAdd(t, c, u)

	if err := fetch(vlessClient(t, srv.Link(stranger.UUID, "stranger").String()), pageURL); err == nil {
		t.Fatal("a user never added reached the page")
	}

	hc := vlessClient(t, srv.Link(u.UUID, "Германия #1").String())
	if err := fetch(hc, pageURL); err != nil {
		t.Fatalf("fetch through the VLESS link: %v (server log: %s)", err, srv.LogPath)
	}

	all, err := c.Traffic(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	first := all[u.Email]
	if first.Uplink <= 0 || first.Downlink < pageSize {
		t.Fatalf("traffic of %s = %+v, want uplink > 0 and downlink >= %d", u.Email, first, pageSize)
	}
	if _, ok := all[stranger.Email]; ok {
		t.Errorf("a rejected user has counters: %+v", all)
	}
	if one, err := c.UserTraffic(ctx, u.Email, false); err != nil || one != first {
		t.Fatalf("UserTraffic = %+v, %v; want %+v", one, err, first)
	}

	// The connection stays open but idle, so nothing moves between reads.
	reset, err := c.Traffic(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if reset[u.Email] != first {
		t.Fatalf("a resetting read returned %+v, want the values before the reset %+v", reset[u.Email], first)
	}
	if after, err := c.UserTraffic(ctx, u.Email, false); err != nil || after != (xray.Traffic{}) {
		t.Fatalf("after reset, traffic = %+v, %v; want zero", after, err)
	}

	if err := fetch(hc, pageURL); err != nil {
		t.Fatal(err)
	}
	second, err := c.UserTraffic(ctx, u.Email, true)
	if err != nil {
		t.Fatal(err)
	}
	if second.Downlink < pageSize || second.Downlink >= first.Downlink+pageSize {
		t.Fatalf("second fetch counted %+v; want only its own bytes (first fetch %+v)", second, first)
	}

	if err := c.RemoveUser(ctx, u.Email); err != nil {
		t.Fatal(err)
	}
	hc.CloseIdleConnections() // Xray keeps connections opened before the removal
	if err := fetch(hc, pageURL); err == nil {
		t.Fatal("a removed user still reached the page over a new connection")
	}
}

func TestRestartDropsUsersAndUptimeGoesBack(t *testing.T) {
	ctx := context.Background()
	srv := testenv.NewXray(t)
	c := dial(t, srv)
	mustAdd(t, c, newUser(t, 0))
	mustAdd(t, c, newUser(t, 1))

	// Uptime counts whole seconds; wait for a positive one.
	var before time.Duration
	for deadline := time.Now().Add(10 * time.Second); before < time.Second; {
		var err error
		if before, err = c.Uptime(ctx); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("uptime still %s", before)
		}
		time.Sleep(100 * time.Millisecond)
	}

	restarted := time.Now()
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := c.Uptime(ctx) // the same client reconnects
	if err != nil {
		t.Fatalf("Uptime after restart: %v", err)
	}
	// The old process would now report at least before+elapsed; a new
	// one cannot report more than elapsed.
	elapsed := time.Since(restarted)
	if after > elapsed {
		t.Fatalf("uptime %s after a restart %s ago: not a new process (before: %s)", after, elapsed, before)
	}
	if users, err := c.ListUsers(ctx); err != nil || len(users) != 0 {
		t.Fatalf("after restart ListUsers = %+v, %v; want none", users, err)
	}
	if n, err := c.CountUsers(ctx); err != nil || n != 0 {
		t.Fatalf("after restart CountUsers = %d, %v; want 0", n, err)
	}
	mustAdd(t, c, newUser(t, 2)) // and it takes users again
}

func TestCallsAgainstStoppedXrayAreRetryable(t *testing.T) {
	for name, stop := range map[string]func(*stack.XrayServer){
		"stopped": (*stack.XrayServer).Stop,
		"killed":  (*stack.XrayServer).Kill,
	} {
		t.Run(name, func(t *testing.T) {
			srv := testenv.NewXray(t)
			c := dial(t, srv)
			u := newUser(t, 0)
			mustAdd(t, c, u) // connected before the stop
			stop(srv)

			// No deadline of our own: DefaultTimeout must bound each call.
			ctx := context.Background()
			_, errList := c.ListUsers(ctx)
			_, errUptime := c.Uptime(ctx)
			_, errTraffic := c.Traffic(ctx, false)
			for op, err := range map[string]error{
				"add":     c.AddUser(ctx, newUser(t, 1)),
				"remove":  c.RemoveUser(ctx, u.Email),
				"list":    errList,
				"uptime":  errUptime,
				"traffic": errTraffic,
			} {
				if err == nil {
					t.Errorf("%s against a %s Xray succeeded", op, name)
				} else if !xray.IsRetryable(err) {
					t.Errorf("%s against a %s Xray: non-retryable %v", op, name, err)
				}
			}

			if err := srv.Restart(context.Background()); err != nil {
				t.Fatal(err)
			}
			// The same client reconnects by itself once Xray is back (its
			// reconnect backoff is capped at a second); callers just retry,
			// as activities do.
			deadline := time.Now().Add(15 * time.Second)
			for {
				err := c.AddUser(ctx, u)
				if err == nil {
					break
				}
				if !xray.IsRetryable(err) || time.Now().After(deadline) {
					t.Fatalf("AddUser after Xray came back: %v", err)
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
}
