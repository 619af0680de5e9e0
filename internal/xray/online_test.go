package xray_test

import (
	"context"
	"errors"
	"testing"

	"vpnflow/internal/dev/stack"
	"vpnflow/internal/dev/testenv"
	"vpnflow/internal/dev/vlessclient"
	"vpnflow/internal/xray"
)

// A user with no session since Xray started is simply offline, and
// Disconnect after its removal ends nothing.
func TestNeverOnlineUser(t *testing.T) {
	ctx := context.Background()
	c := dial(t, testenv.Xray(t))
	u := newUser(t, 0)
	mustAdd(t, c, u)
	if ips, err := c.OnlineIPs(ctx, u.Email); err != nil || len(ips) != 0 {
		t.Fatalf("OnlineIPs = %v, %v; want none", ips, err)
	}
	if n, err := c.Online(ctx, u.Email); err != nil || n != 0 {
		t.Fatalf("Online = %d, %v; want 0", n, err)
	}
	if err := c.RemoveUser(ctx, u.Email); err != nil {
		t.Fatal(err)
	}
	if d, err := c.Disconnect(ctx, u.Email); err != nil || d.Connections != 0 || len(d.IPs) != 0 {
		t.Fatalf("Disconnect = %+v, %v; want nothing ended", d, err)
	}
}

// Without statsUserOnline Xray keeps no list of a user's sessions; a user
// who had traffic must then get ErrOnlineStatsOff, never "offline".
func TestOnlineStatsOff(t *testing.T) {
	ctx := context.Background()
	st := vlessclient.NewTarget(t)
	srv := testenv.NewXray(t, stack.XrayOptions{OnlineStatsOff: true, AllowPrivate: true, Target: vlessclient.LocalTLSTarget(t)})
	c := dial(t, srv)
	u := newUser(t, 0)
	mustAdd(t, c, u)
	hc := vlessclient.HTTP(vlessclient.Start(t, srv.Link(u.UUID, "u").String(), "127.0.0.2"), st.Roots())
	vlessclient.WaitFlowing(t, st.Download(t, hc, "download", false))

	_, errIPs := c.OnlineIPs(ctx, u.Email)
	_, errCount := c.Online(ctx, u.Email)
	if err := c.RemoveUser(ctx, u.Email); err != nil {
		t.Fatal(err)
	}
	_, errDisconnect := c.Disconnect(ctx, u.Email)
	for op, err := range map[string]error{"OnlineIPs": errIPs, "Online": errCount, "Disconnect": errDisconnect} {
		if !errors.Is(err, xray.ErrOnlineStatsOff) {
			t.Errorf("%s: %v, want ErrOnlineStatsOff", op, err)
		} else if xray.IsRetryable(err) {
			t.Errorf("%s: %v is retryable", op, err)
		}
	}
}
