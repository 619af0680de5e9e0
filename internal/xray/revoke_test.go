package xray_test

import (
	"context"
	"testing"
	"time"

	"vpnflow/internal/dev/vlessclient"
)

// TestRemoveUserLeavesLiveSessionsOpen pins down the Xray behaviour that
// Disconnect exists for: RemoveUser only takes the user out of the
// inbound's validator, consulted once per connection, at the handshake
// (proxy/vless/inbound). New connections fail; one opened before goes on
// for as long as it carries traffic (connIdle, 300 s at level 0, only ends
// idle ones). If a later Xray ends such sessions itself, this test fails
// and Disconnect may become unnecessary.
func TestRemoveUserLeavesLiveSessionsOpen(t *testing.T) {
	ctx := context.Background()
	srv := localRealityXray(t)
	st := vlessclient.NewTarget(t)
	c := dial(t, srv)
	u := newUser(t, 0)
	mustAdd(t, c, u)
	hc := vlessclient.HTTP(vlessclient.Start(t, srv.Link(u.UUID, "u").String(), "127.0.0.2"), st.Roots())

	plain := st.Download(t, hc, "plain download", false)
	spliced := st.Download(t, hc, "TLS download", true)
	up := st.Upload(t, hc, "upload")
	vlessclient.WaitFlowing(t, plain, spliced, up)

	removed := time.Now()
	if err := c.RemoveUser(ctx, u.Email); err != nil {
		t.Fatal(err)
	}
	atRemoval, err := c.UserTraffic(ctx, u.Email, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := vlessclient.NewStream(hc, st); err == nil {
		t.Fatal("a removed user opened a new connection")
	}
	const watch = 2 * time.Second
	for _, f := range []*vlessclient.Flow{plain, spliced, up} {
		vlessclient.KeepsFlowing(t, f, watch)
	}
	time.Sleep(time.Until(removed.Add(watch)))
	for _, f := range []*vlessclient.Flow{plain, spliced, up} {
		vlessclient.KeepsFlowing(t, f, time.Second)
		t.Logf("%s still carries traffic %s after RemoveUser (%d bytes so far)", f.Name, time.Since(removed).Round(time.Millisecond), f.Bytes())
	}
	// Xray still lists the user online, and the counters keep growing: the
	// signs a revocation check looks for. (Only the plain streams count
	// while they run: Xray adds a spliced stream's bytes when it ends.)
	if n, err := c.Online(ctx, u.Email); err != nil || n != 1 {
		t.Fatalf("Online after RemoveUser = %d, %v; want 1 (the live sessions' one address)", n, err)
	}
	later, err := c.UserTraffic(ctx, u.Email, false)
	if err != nil {
		t.Fatal(err)
	}
	if later.Uplink <= atRemoval.Uplink || later.Downlink <= atRemoval.Downlink {
		t.Fatalf("counters of a removed user with live sessions: %+v at removal, %+v later; want both growing", atRemoval, later)
	}
	t.Logf("counters grew by %d up, %d down after RemoveUser (%+v -> %+v)", later.Uplink-atRemoval.Uplink, later.Downlink-atRemoval.Downlink, atRemoval, later)
}
