package activities

import (
	"context"
	"strings"
	"testing"

	"vpnflow/internal/config"
	"vpnflow/internal/dev/testenv"
	"vpnflow/internal/store"
)

// CheckRevocation against real PostgreSQL and Xray: up when this process
// can end sessions and no revoked key moved traffic; down, naming the key,
// once one has; not down for an Xray that is away (the Xray probe's to
// report); and up, saying so, with ending sessions switched off.
func TestCheckRevocation(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Database(t)
	srv := testenv.NewXray(t)
	st := store.New(pool)
	node, err := st.UpsertNode(ctx, store.Node{Name: "default", APIAddr: srv.APIAddr, InboundTag: srv.InboundTag, Host: "vpn.example", Port: 443})
	if err != nil {
		t.Fatal(err)
	}
	a := &Activities{Store: st, Nodes: nodeRegistry(st), NodeID: node, Config: config.Config{XrayEndSessions: true}}
	t.Cleanup(a.Nodes.Close)

	res, err := a.CheckRevocation(ctx, HealthProbe{})
	if err != nil || !strings.Contains(res.Detail, "sessions are ended") {
		t.Fatalf("CheckRevocation in Xray's network namespace, as root = %+v, %v; want up", res, err)
	}

	a.Config.XrayEndSessions = false
	if res, err := a.CheckRevocation(ctx, HealthProbe{}); err != nil || !strings.Contains(res.Detail, "XRAY_END_SESSIONS=false") {
		t.Errorf("with ending sessions off: %+v, %v; want up, saying it is off", res, err)
	}
	a.Config.XrayEndSessions = true

	if _, err := pool.Exec(ctx, `INSERT INTO revoked_traffic (email, user_id, revoked_at, up, down)
		VALUES ('tg77@vpnflow', 77, now() - interval '1 hour', 1024, 2048)`); err != nil {
		t.Fatal(err)
	}
	_, err = a.CheckRevocation(ctx, HealthProbe{})
	if err == nil || !strings.Contains(err.Error(), "user 77 (tg77@vpnflow): 3") {
		t.Errorf("with a revoked key that moved traffic: %v; want down, naming it", err)
	}
	if _, err := pool.Exec(ctx, `UPDATE revoked_traffic SET last_seen = now() - interval '2 hours'`); err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	if res, err := a.CheckRevocation(ctx, HealthProbe{}); err != nil || !strings.Contains(res.Detail, "unknown") {
		t.Errorf("with xray away and the key's traffic an hour old: %+v, %v; want up, saying it cannot tell", res, err)
	}
}
