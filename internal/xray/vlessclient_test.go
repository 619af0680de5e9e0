package xray_test

import (
	"net/http"
	"testing"
	"time"

	"vpnflow/internal/dev/stack"
	"vpnflow/internal/dev/testenv"
	"vpnflow/internal/dev/vlessclient"
)

// localRealityXray is an Xray whose customers can reach local servers:
// private destinations are allowed, and REALITY's target is local.
func localRealityXray(t *testing.T) *stack.XrayServer {
	t.Helper()
	return testenv.NewXray(t, stack.XrayOptions{Target: vlessclient.LocalTLSTarget(t), AllowPrivate: true})
}

// vlessClient runs a second Xray as a customer's client configured from a
// share link, and returns an HTTP client that goes through it.
func vlessClient(t *testing.T, link string) *http.Client {
	t.Helper()
	hc := vlessclient.HTTP(vlessclient.Start(t, link, ""), nil)
	hc.Timeout = 10 * time.Second
	return hc
}
