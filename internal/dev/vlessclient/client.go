// Package vlessclient is a customer's side of the VPN for tests: a second
// Xray-core run as a VLESS+REALITY client from a share link, and a local
// web server with endless slow streams whose bytes a test counts, so it
// can tell whether a connection through the VPN still carries traffic.
// Tests of internal/xray and internal/e2e use it; production code never
// imports it (internal/deploytest checks).
package vlessclient

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
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
)

// LocalTLSTarget is a local TLS server for REALITY to borrow
// (stack.XrayOptions.Target): REALITY dials its target for every
// connection, so an unreachable www.example.com would break the tests when
// offline.
func LocalTLSTarget(t testing.TB) string { return TLSTargetAt(t, "127.0.0.1") }

// TLSTargetAt is LocalTLSTarget on host, for a server that does not share
// this machine's loopback (NewTargetAt).
func TLSTargetAt(t testing.TB, host string) string {
	t.Helper()
	return startAt(t, host, http.NotFoundHandler(), true).Listener.Addr().String()
}

// startAt starts an httptest server of h on host, over TLS or not; it is
// closed when the test ends.
func startAt(t testing.TB, host string, h http.Handler, overTLS bool) *httptest.Server {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("listen on %s: %v", host, err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	// REALITY relays rejected handshakes to its target, and the streams'
	// connections are cut on purpose: their errors are expected.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if overTLS {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv
}

// Start runs a second Xray as a customer's client configured from a share
// link, with a SOCKS inbound on a free loopback port, whose address it
// returns; it is stopped when the test ends. A non-empty from is the
// address the client connects to the server from: Xray's online-IP lists
// leave 127.0.0.1 out, and distinct addresses let a test tell customers
// apart, as their public IPs do.
func Start(t testing.TB, link, from string) (socksAddr string) {
	t.Helper()
	l, err := vless.Parse(link)
	if err != nil {
		t.Fatalf("the server's share link does not parse: %v", err)
	}
	port, err := stack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	outbound := map[string]any{
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
	}
	if from != "" {
		outbound["sendThrough"] = from
	}
	cfg := map[string]any{
		"log":       map[string]any{"loglevel": "warning"},
		"inbounds":  []any{map[string]any{"listen": "127.0.0.1", "port": port, "protocol": "socks"}},
		"outbounds": []any{outbound},
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
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("client xray not listening on %s (log %s): %v", addr, logFile.Name(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// HTTP is an HTTP client that goes through the SOCKS proxy at addr,
// trusting roots for TLS (nil: the system's). It has no overall timeout, so
// it can hold long streams; bound requests with their context.
func HTTP(addr string, roots *x509.CertPool) *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:           http.ProxyURL(&url.URL{Scheme: "socks5", Host: addr}),
		TLSClientConfig: &tls.Config{RootCAs: roots},
	}}
}
