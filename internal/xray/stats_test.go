package xray_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"vpnflow/internal/dev/stack"
	"vpnflow/internal/dev/testenv"
	"vpnflow/internal/vless"
	"vpnflow/internal/xray"
)

const pageSize = 64 << 10

// trafficServer is an Xray whose customers can reach a local web page: the
// REALITY target is a local TLS server (REALITY dials it for every
// connection, so an unreachable www.example.com would break the test when
// offline) and private destinations are allowed.
func trafficServer(t *testing.T) (srv *stack.XrayServer, pageURL string) {
	t.Helper()
	target := httptest.NewUnstartedServer(http.NotFoundHandler())
	// REALITY relays rejected handshakes here; their errors are expected.
	target.Config.ErrorLog = log.New(io.Discard, "", 0)
	target.StartTLS()
	t.Cleanup(target.Close)
	page := bytes.Repeat([]byte("v"), pageSize)
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(page) }))
	t.Cleanup(web.Close)
	srv = testenv.NewXray(t, stack.XrayOptions{Target: target.Listener.Addr().String(), AllowPrivate: true})
	return srv, web.URL
}

// vlessClient runs a second Xray as a customer's client configured from a
// share link, and returns an HTTP client that goes through it.
func vlessClient(t *testing.T, link string) *http.Client {
	t.Helper()
	l, err := vless.Parse(link)
	if err != nil {
		t.Fatalf("the server's share link does not parse: %v", err)
	}
	port, err := stack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cfg := map[string]any{
		"log":      map[string]any{"loglevel": "warning"},
		"inbounds": []any{map[string]any{"listen": "127.0.0.1", "port": port, "protocol": "socks"}},
		"outbounds": []any{map[string]any{
			"protocol": "vless",
			"settings": map[string]any{"vnext": []any{map[string]any{
				"address": l.Host, "port": l.Port,
				"users": []any{map[string]any{"id": l.UUID, "encryption": "none", "flow": l.Flow}},
			}}},
			"streamSettings": map[string]any{
				"network": "tcp", "security": "reality",
				"realitySettings": map[string]any{
					"serverName": l.ServerName, "fingerprint": l.Fingerprint,
					"publicKey": l.PublicKey, "shortId": l.ShortID, "spiderX": l.SpiderX,
				},
			},
		}},
	}
	dir := testenv.Dir(t, "xray-client")
	raw, _ := json.Marshal(cfg)
	cfgPath := filepath.Join(dir, "client.json")
	if err := os.WriteFile(cfgPath, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	bin, err := stack.Xray.Find()
	if err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "client.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "-c", cfgPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); logFile.Close() })
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			conn.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("client xray not listening on %s (log %s): %v", addr, logFile.Name(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "socks5", Host: addr})},
	}
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
