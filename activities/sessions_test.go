package activities

import (
	"testing"
	"time"

	"vpnflow/internal/dev/stack"
	"vpnflow/internal/dev/testenv"
	"vpnflow/internal/dev/vlessclient"
)

// Ending sessions against real PostgreSQL, Xray and VLESS clients: the
// revocation sweep ends the sessions of the expired key it removes, the
// workflow's EndSessions those of a key RemoveVLESSUser removed, and a
// valid key's session goes on.
func TestRevocationActivitiesEndSessions(t *testing.T) {
	e := &revokeEnv{dbEnv: newDBEnv(t)}
	srv := testenv.NewXray(t, stack.XrayOptions{Target: vlessclient.LocalTLSTarget(t), AllowPrivate: true})
	e.xc = e.useXray(srv)
	e.a.Config.XrayEmailDomain = "vpnflow"
	if !e.a.Config.XrayEndSessions {
		t.Fatal("XRAY_END_SESSIONS is off by default")
	}
	flows := e.downloading(srv, map[int64]string{1: "127.0.0.7", 2: "127.0.0.8", 3: "127.0.0.9"})

	e.expire(1)
	at := time.Now()
	res := e.sweep(RevokeExpiredInput{Now: time.Now()})
	if res.Removed != 1 || res.SessionsEnded != 1 {
		t.Errorf("sweep = %+v, want 1 key removed and its 1 connection ended", res)
	}
	last := vlessclient.LastByteAfter(t, flows[1], at, 30*time.Second)
	t.Logf("sweep: last byte %s after it started; %s", last.Round(time.Millisecond), vlessclient.EndedAfter(flows[1], at))

	if _, err := e.run(e.a.RemoveVLESSUser, UserRef{UserID: 3}, nil); err != nil {
		t.Fatal(err)
	}
	at = time.Now()
	out, err := e.run(e.a.EndSessions, EndSessionsInput{UserID: 3}, EndSessionsResult{})
	if err != nil {
		t.Fatal(err)
	}
	if got := out.(EndSessionsResult); got.Connections != 1 || got.Addresses != 1 || got.Unable != "" {
		t.Errorf("EndSessions = %+v, want 1 connection from 1 address", got)
	}
	last = vlessclient.LastByteAfter(t, flows[3], at, 30*time.Second)
	t.Logf("EndSessions: last byte %s after it started; %s", last.Round(time.Millisecond), vlessclient.EndedAfter(flows[3], at))

	vlessclient.KeepsFlowing(t, flows[2], 2*time.Second)
	// A key that is back in Xray (renewed meanwhile) is left alone.
	out, err = e.run(e.a.EndSessions, EndSessionsInput{UserID: 2}, EndSessionsResult{})
	if err != nil || !out.(EndSessionsResult).Present {
		t.Errorf("EndSessions of a key still in Xray = %+v, %v; want Present, nothing ended", out, err)
	}
	vlessclient.KeepsFlowing(t, flows[2], 2*time.Second)
}

// downloading gives each user (id → the address their client connects
// from) a paid subscription and its key in srv, and starts a download
// through a real VLESS client with that key; it returns once all flow.
func (e *revokeEnv) downloading(srv *stack.XrayServer, from map[int64]string) map[int64]*vlessclient.Flow {
	e.t.Helper()
	return e.downloadingVia(vlessclient.NewTarget(e.t), srv, from)
}

// downloadingVia is downloading from target, for a server that does not
// reach this machine's loopback.
func (e *revokeEnv) downloadingVia(target *vlessclient.Target, srv *stack.XrayServer, from map[int64]string) map[int64]*vlessclient.Flow {
	e.t.Helper()
	flows := map[int64]*vlessclient.Flow{}
	for id, addr := range from {
		e.paidUser(id)
		if _, err := e.run(e.a.EnsureVLESSUser, UserRef{UserID: id}, nil); err != nil {
			e.t.Fatal(err)
		}
		sub, err := e.s.GetSubscription(e.ctx, id)
		if err != nil {
			e.t.Fatal(err)
		}
		hc := vlessclient.HTTP(vlessclient.Start(e.t, srv.Link(sub.VLESSUUID.String(), "u").String(), addr), nil)
		flows[id] = target.Download(e.t, hc, sub.XrayEmail, false)
	}
	all := make([]*vlessclient.Flow, 0, len(flows))
	for _, f := range flows {
		all = append(all, f)
	}
	vlessclient.WaitFlowing(e.t, all...)
	return flows
}
