package xray_test

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

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
	st := newStreamTarget(t)
	c := dial(t, srv)
	revoked, other, neighbour := newUser(t, 0), newUser(t, 1), newUser(t, 2)
	for _, u := range []xray.User{revoked, other, neighbour} {
		mustAdd(t, c, u)
	}
	// neighbour connects from the revoked user's address, as customers
	// behind one NAT do; other from an address of its own.
	const revokedIP, otherIP = "127.0.0.2", "127.0.0.3"
	revokedHC := socksHTTP(startVLESSClient(t, srv.Link(revoked.UUID, "r").String(), revokedIP), st.roots())
	otherHC := socksHTTP(startVLESSClient(t, srv.Link(other.UUID, "o").String(), otherIP), st.roots())
	neighbourHC := socksHTTP(startVLESSClient(t, srv.Link(neighbour.UUID, "n").String(), revokedIP), st.roots())

	revokedFlows := []*flow{
		st.download(t, revokedHC, "revoked plain download", false),
		st.download(t, revokedHC, "revoked TLS download", true),
		st.upload(t, revokedHC, "revoked-upload"),
	}
	otherFlows := []*flow{
		st.download(t, otherHC, "other plain download", false),
		st.download(t, otherHC, "other TLS download", true),
	}
	neighbourFlow := st.download(t, neighbourHC, "neighbour plain download", false)
	waitFlowing(t, slices.Concat(revokedFlows, otherFlows, []*flow{neighbourFlow})...)

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
		last := lastByteAfter(t, f, revokedAt, revokeBound)
		t.Logf("%s: last byte %s after revocation; %s", f.name, last.Round(time.Millisecond), endedAfter(f, revokedAt))
	}
	for _, f := range otherFlows {
		keepsFlowing(t, f, 2*time.Second)
	}
	last := lastByteAfter(t, neighbourFlow, revokedAt, revokeBound)
	t.Logf("cost: %s (same address): last byte %s after revocation; %s", neighbourFlow.name, last.Round(time.Millisecond), endedAfter(neighbourFlow, revokedAt))
	if err := newStream(neighbourHC, st); err != nil {
		t.Errorf("the neighbour cannot reconnect: %v", err)
	}

	waitOffline(t, c, revoked.Email, revokedAt)
	if err := newStream(revokedHC, st); err == nil {
		t.Fatal("the revoked user opened a new connection")
	}

	// Once Xray lists the user offline, its counters must not move: a
	// spliced stream adds its bytes when it ends, so the first read comes
	// after that. The other user's counters moving in the same second show
	// that the counters were live.
	r0, o0 := userTraffic(t, c, revoked.Email), userTraffic(t, c, other.Email)
	time.Sleep(quietFor)
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
