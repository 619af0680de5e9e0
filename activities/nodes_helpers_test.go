package activities

import (
	"vpnflow/internal/dev/stack"
	"vpnflow/internal/store"
	"vpnflow/internal/xray"
)

// nodeRegistry is the worker's Xray registry over st's node rows.
func nodeRegistry(st *store.Store) *xray.Registry {
	return xray.NewRegistry(NodeEndpoints(st), nil)
}

// useXray points the env's node at srv and gives the activities a
// registry over the node rows; the returned client is the test's own look
// at srv.
func (e *dbEnv) useXray(srv *stack.XrayServer) *xray.Client {
	e.t.Helper()
	if _, err := e.pool.Exec(e.ctx, `UPDATE nodes SET api_addr = $1, inbound_tag = $2 WHERE id = $3`,
		srv.APIAddr, srv.InboundTag, e.a.NodeID); err != nil {
		e.t.Fatal(err)
	}
	e.a.Nodes = nodeRegistry(e.s)
	e.t.Cleanup(e.a.Nodes.Close)
	xc, err := xray.Dial(srv.APIAddr, srv.InboundTag, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { xc.Close() })
	return xc
}
