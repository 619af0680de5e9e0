package xray_test

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"vpnflow/internal/dev/vlessclient"
	"vpnflow/internal/xray"
)

// revokeBound is how long a revoked user's open connection may go on
// carrying traffic before the test calls revocation broken. It is a
// correctness limit, far above what is measured (logged below).
const revokeBound = 15 * time.Second

// TestDisconnectEndsLiveSessions revokes a user with streams open in both
// directions, one of them TLS (which Vision splices in the kernel), and
// checks that every one of them stops, that another user's streams go on,
// that Xray then lists the user offline and that the user's counters stop.
func TestDisconnectEndsLiveSessions(t *testing.T) {
	ctx := context.Background()
	srv := localRealityXray(t)
	st := vlessclient.NewTarget(t)
	c := dial(t, srv)
	revoked, other, neighbour := newUser(t, 0), newUser(t, 1), newUser(t, 2)
	for _, u := range []xray.User{revoked, other, neighbour} {
		mustAdd(t, c, u)
	}
	// neighbour connects from the revoked user's address, as customers
	// behind one NAT do; other from an address of its own.
	const revokedIP, otherIP = "127.0.0.2", "127.0.0.3"
	revokedHC := vlessclient.HTTP(vlessclient.Start(t, srv.Link(revoked.UUID, "r").String(), revokedIP), st.Roots())
	otherHC := vlessclient.HTTP(vlessclient.Start(t, srv.Link(other.UUID, "o").String(), otherIP), st.Roots())
	neighbourHC := vlessclient.HTTP(vlessclient.Start(t, srv.Link(neighbour.UUID, "n").String(), revokedIP), st.Roots())

	revokedFlows := []*vlessclient.Flow{
		st.Download(t, revokedHC, "revoked plain download", false),
		st.Download(t, revokedHC, "revoked TLS download", true),
		st.Upload(t, revokedHC, "revoked-upload"),
	}
	otherFlows := []*vlessclient.Flow{
		st.Download(t, otherHC, "other plain download", false),
		st.Download(t, otherHC, "other TLS download", true),
	}
	neighbourFlow := st.Download(t, neighbourHC, "neighbour plain download", false)
	vlessclient.WaitFlowing(t, slices.Concat(revokedFlows, otherFlows, []*vlessclient.Flow{neighbourFlow})...)

	if _, err := c.Disconnect(ctx, revoked.Email); !errors.Is(err, xray.ErrUserPresent) {
		t.Fatalf("Disconnect of a user still in the inbound: %v, want ErrUserPresent", err)
	}
	if ips, err := c.OnlineIPs(ctx, revoked.Email); err != nil || !slices.Equal(ips, []netip.Addr{netip.MustParseAddr(revokedIP)}) {
		t.Fatalf("OnlineIPs before revocation = %v, %v; want [%s]", ips, err, revokedIP)
	}

	revokedAt := time.Now()
	if err := c.RemoveUser(ctx, revoked.Email); err != nil {
		t.Fatal(err)
	}
	d, err := c.Disconnect(ctx, revoked.Email)
	if err != nil {
		t.Fatalf("Disconnect: %v", err)
	}
	t.Logf("RemoveUser+Disconnect took %s: ended %d connections from %v", time.Since(revokedAt).Round(time.Microsecond), d.Connections, d.IPs)
	// Three streams of the revoked user, one of its neighbour's.
	if d.Connections != 4 || !slices.Equal(d.IPs, []netip.Addr{netip.MustParseAddr(revokedIP)}) {
		t.Errorf("Disconnect = %+v, want 4 connections from %s", d, revokedIP)
	}

	for _, f := range revokedFlows {
		last := vlessclient.LastByteAfter(t, f, revokedAt, revokeBound)
		t.Logf("%s: last byte %s after revocation; %s", f.Name, last.Round(time.Millisecond), vlessclient.EndedAfter(f, revokedAt))
	}
	for _, f := range otherFlows {
		vlessclient.KeepsFlowing(t, f, 2*time.Second)
	}
	last := vlessclient.LastByteAfter(t, neighbourFlow, revokedAt, revokeBound)
	t.Logf("cost: %s (same address): last byte %s after revocation; %s", neighbourFlow.Name, last.Round(time.Millisecond), vlessclient.EndedAfter(neighbourFlow, revokedAt))
	if err := vlessclient.NewStream(neighbourHC, st); err != nil {
		t.Errorf("the neighbour cannot reconnect: %v", err)
	}

	waitOffline(t, c, revoked.Email, revokedAt)
	if err := vlessclient.NewStream(revokedHC, st); err == nil {
		t.Fatal("the revoked user opened a new connection")
	}

	// Once Xray lists the user offline, its counters must not move: a
	// spliced stream adds its bytes when it ends, so the first read comes
	// after that. The other user's counters moving in the same second show
	// that the counters were live.
	r0, o0 := userTraffic(t, c, revoked.Email), userTraffic(t, c, other.Email)
	time.Sleep(vlessclient.QuietFor)
	r1, o1 := userTraffic(t, c, revoked.Email), userTraffic(t, c, other.Email)
	if r1 != r0 {
		t.Errorf("revoked user's counters moved after it went offline: %+v, then %+v", r0, r1)
	}
	if o1.Downlink <= o0.Downlink {
		t.Errorf("other user's downlink did not move (%+v, then %+v): the check above proves nothing", o0, o1)
	}
}

// waitOffline waits until Xray lists no live session of email.
func waitOffline(t *testing.T, c *xray.Client, email string, since time.Time) {
	t.Helper()
	deadline := time.Now().Add(revokeBound)
	for {
		n, err := c.Online(context.Background(), email)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Logf("%s offline in Xray's list %s after revocation", email, time.Since(since).Round(time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still online from %d addresses %s after revocation", email, n, time.Since(since))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func userTraffic(t *testing.T, c *xray.Client, email string) xray.Traffic {
	t.Helper()
	tr, err := c.UserTraffic(context.Background(), email, false)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestDisconnectUsersSkipsPresentUsers: the batch form ends the sessions
// of the removed users with one look at the sockets, and leaves alone a
// user that is in the inbound again (a sweep put a renewed key back).
func TestDisconnectUsersSkipsPresentUsers(t *testing.T) {
	ctx := context.Background()
	srv := localRealityXray(t)
	st := vlessclient.NewTarget(t)
	c := dial(t, srv)
	if err := c.CheckDisconnect(ctx); err != nil {
		t.Fatalf("CheckDisconnect in Xray's network namespace, as root: %v", err)
	}
	gone, back, never := newUser(t, 0), newUser(t, 1), newUser(t, 2)
	for _, u := range []xray.User{gone, back, never} {
		mustAdd(t, c, u)
	}
	goneFlow := st.Download(t, vlessclient.HTTP(vlessclient.Start(t, srv.Link(gone.UUID, "g").String(), "127.0.0.4"), nil), "removed user's download", false)
	backFlow := st.Download(t, vlessclient.HTTP(vlessclient.Start(t, srv.Link(back.UUID, "b").String(), "127.0.0.5"), nil), "present user's download", false)
	vlessclient.WaitFlowing(t, goneFlow, backFlow)
	for _, u := range []xray.User{gone, never} {
		if err := c.RemoveUser(ctx, u.Email); err != nil {
			t.Fatal(err)
		}
	}
	at := time.Now()
	d, err := c.DisconnectUsers(ctx, []string{gone.Email, back.Email, never.Email})
	if err != nil {
		t.Fatalf("DisconnectUsers: %v", err)
	}
	if d.Connections != 1 || !slices.Equal(d.IPs, []netip.Addr{netip.MustParseAddr("127.0.0.4")}) || !slices.Equal(d.Present, []string{back.Email}) {
		t.Errorf("DisconnectUsers = %+v; want 1 connection from 127.0.0.4, %s present", d, back.Email)
	}
	last := vlessclient.LastByteAfter(t, goneFlow, at, revokeBound)
	t.Logf("%s: last byte %s after DisconnectUsers; %s", goneFlow.Name, last.Round(time.Millisecond), vlessclient.EndedAfter(goneFlow, at))
	vlessclient.KeepsFlowing(t, backFlow, 2*time.Second)
}
