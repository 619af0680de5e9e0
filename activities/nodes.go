package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"vpnflow/internal/store"
	"vpnflow/internal/xray"
)

// Each Xray call goes to one node: a user's calls to the node of their
// subscription row, read just before the call; the scheduled work
// (reconcile, the restart watch, the health check, traffic) to each node
// in service, one activity per node, so a node that hangs holds up its own
// activities and no other node's.

// nodeXray is node id's client; id 0 (an input recorded before there were
// several nodes) is the worker's own node.
func (a *Activities) nodeXray(ctx context.Context, id int16) (*xray.Client, error) {
	if id <= 0 {
		id = a.NodeID
	}
	c, err := a.Nodes.Client(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("xray client: %w", err)
	}
	return c, nil
}

// userXray is the client of the node userID's subscription is on; for a
// user without a subscription row (nothing of theirs can be in any Xray but
// a key of the single-node days), the worker's own node.
func (a *Activities) userXray(ctx context.Context, userID int64) (*xray.Client, error) {
	node, err := a.Store.UserNode(ctx, userID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, storeError(fmt.Sprintf("read node of user %d", userID), err)
	}
	return a.nodeXray(ctx, node)
}

// XrayNodesInput asks for the nodes in service.
type XrayNodesInput struct{}

// XrayNode names a node to the scheduled workflows.
type XrayNode struct {
	ID   int16
	Name string
}

// XrayNodes are the nodes in service (enabled or draining), by id.
type XrayNodes struct {
	Nodes []XrayNode
	// Stale says why the list is the worker's last view rather than the
	// database's (the database did not answer); "" when it is fresh.
	Stale string `json:",omitempty"`
}

// ListXrayNodes lists the nodes in service. When the database does not
// answer it gives the worker's last view, so the health check still
// probes every node it knew while PostgreSQL is down.
func (a *Activities) ListXrayNodes(ctx context.Context, _ XrayNodesInput) (XrayNodes, error) {
	eps, err := a.Nodes.Nodes(ctx)
	if err != nil && len(eps) == 0 {
		return XrayNodes{}, fmt.Errorf("list xray nodes: %w", err)
	}
	var out XrayNodes
	if err != nil {
		out.Stale = err.Error()
	}
	for _, ep := range eps {
		if ep.Probed {
			out.Nodes = append(out.Nodes, XrayNode{ID: ep.ID, Name: ep.Name})
		}
	}
	return out, nil
}

// NodeRef names one node.
type NodeRef struct {
	NodeID int16
}

// CheckXrayNode reads one node's uptime through its API: the health
// check's probe of that node.
func (a *Activities) CheckXrayNode(ctx context.Context, in NodeRef) (HealthProbeResult, error) {
	xc, err := a.nodeXray(ctx, in.NodeID)
	if err != nil {
		return HealthProbeResult{}, err
	}
	up, err := xc.Uptime(ctx)
	if err != nil {
		return HealthProbeResult{}, fmt.Errorf("xray api %s: %w", xc.Addr(), err)
	}
	return HealthProbeResult{Detail: "up " + up.String()}, nil
}

// NodeHealthInput is what the health check's probes of the nodes saw.
type NodeHealthInput struct {
	At     time.Time // when the probes ran (the workflow's clock)
	Probes []NodeProbeOutcome
}

// NodeProbeOutcome is one node's probe: Error is "" when it answered.
type NodeProbeOutcome struct {
	NodeID int16
	Error  string
}

// RecordNodeHealth stores the probes' outcomes in the nodes' rows, where
// the admins' node list reads them.
func (a *Activities) RecordNodeHealth(ctx context.Context, in NodeHealthInput) error {
	probes := make([]store.NodeHealth, len(in.Probes))
	for i, p := range in.Probes {
		probes[i] = store.NodeHealth{NodeID: p.NodeID, At: in.At, Error: p.Error}
	}
	return storeError("record node health", a.Store.RecordNodeHealth(ctx, probes))
}

// NodeEndpoints reads the nodes' API addresses for the Xray registry.
func NodeEndpoints(st *store.Store) func(context.Context) ([]xray.Endpoint, error) {
	return func(ctx context.Context) ([]xray.Endpoint, error) {
		ns, err := st.Nodes(ctx)
		if err != nil {
			return nil, err
		}
		eps := make([]xray.Endpoint, len(ns))
		for i, n := range ns {
			eps[i] = xray.Endpoint{ID: n.ID, Name: n.Name, APIAddr: n.APIAddr, InboundTag: n.InboundTag, Probed: n.State != store.NodeDisabled, AgentURL: n.AgentURL}
		}
		return eps, nil
	}
}
