package activities

import (
	"testing"
	"time"

	"vpnflow/internal/dev/testenv"
	"vpnflow/internal/store"
	"vpnflow/internal/xray"
)

// TestMoveActivitiesMoveTheKeyBetweenNodes runs a move's activities as the
// Subscription workflow does, against two real Xray nodes: the row moves,
// the key is added on the new node (read from the row) and removed from
// the old one (named explicitly), and ending its sessions goes to the old
// node. With the old node stopped, the removal fails at once rather than
// holding the workflow.
func TestMoveActivitiesMoveTheKeyBetweenNodes(t *testing.T) {
	e := newDBEnv(t)
	oldSrv := testenv.NewXray(t)
	oldX := e.useXray(oldSrv)
	newSrv := testenv.NewXray(t)
	newX, err := xray.Dial(newSrv.APIAddr, newSrv.InboundTag, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { newX.Close() })
	e.a.Config.XrayEmailDomain = "vpnflow"
	e.paidUser(1)
	if _, err := e.run(e.a.EnsureVLESSUser, UserRef{UserID: 1}, nil); err != nil {
		t.Fatal(err)
	}
	b, err := e.s.AddNode(e.ctx, store.Node{Name: "b", APIAddr: newSrv.APIAddr, InboundTag: newSrv.InboundTag,
		Host: newSrv.VLESSHost, Port: newSrv.VLESSPort, PublicKey: newSrv.PublicKey, SNI: newSrv.SNI, ShortID: newSrv.ShortID,
		Capacity: 10, State: store.NodeEnabled})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.s.SetNodeState(e.ctx, "main", store.NodeDraining); err != nil {
		t.Fatal(err)
	}
	sub, err := e.s.GetSubscription(e.ctx, 1)
	if err != nil {
		t.Fatal(err)
	}

	out, err := e.run(e.a.MoveSubscription, MoveInput{UserID: 1, From: e.a.NodeID, MoveID: "move:1:t"}, MoveResult{})
	if err != nil {
		t.Fatal(err)
	}
	if m := out.(MoveResult); !m.Moved || m.To != b.ID || m.Email != sub.XrayEmail || !m.Live {
		t.Fatalf("move = %+v, want moved to %d", m, b.ID)
	}
	if _, err := e.run(e.a.EnsureVLESSUser, UserRef{UserID: 1}, nil); err != nil {
		t.Fatal(err)
	}
	if u, found, err := newX.GetUser(e.ctx, sub.XrayEmail); err != nil || !found || u.UUID != sub.VLESSUUID.String() {
		t.Fatalf("new node: %+v found=%v %v; want the user's key", u, found, err)
	}
	if _, err := e.run(e.a.RemoveKeyFromNode, NodeKeyRef{UserID: 1, NodeID: e.a.NodeID, Email: sub.XrayEmail}, nil); err != nil {
		t.Fatal(err)
	}
	if _, found, err := oldX.GetUser(e.ctx, sub.XrayEmail); err != nil || found {
		t.Fatalf("old node still holds the key (found=%v, %v)", found, err)
	}
	if _, found, _ := newX.GetUser(e.ctx, sub.XrayEmail); !found {
		t.Fatal("the removal from the old node took the key off the new one")
	}
	// Ending sessions on the old node: the key is absent there, so it is
	// not Present; on the new node it would be.
	res, err := e.run(e.a.EndSessions, EndSessionsInput{UserID: 1, Email: sub.XrayEmail, NodeID: e.a.NodeID}, EndSessionsResult{})
	if err != nil {
		t.Fatal(err)
	}
	if r := res.(EndSessionsResult); r.Present {
		t.Errorf("EndSessions on the old node found the key present: %+v", r)
	}

	// A dead node: the removal fails fast, for the workflow's one try.
	oldSrv.Stop()
	start := time.Now()
	_, err = e.run(e.a.RemoveKeyFromNode, NodeKeyRef{UserID: 1, NodeID: e.a.NodeID, Email: sub.XrayEmail}, nil)
	if err == nil {
		t.Fatal("removal from a stopped node succeeded")
	}
	t.Logf("removal from a stopped node failed after %s: %v", time.Since(start).Round(time.Millisecond), err)
}
