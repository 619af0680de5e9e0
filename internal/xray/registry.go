package xray

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Endpoint is where one node's Xray API is: what a client is dialed from.
type Endpoint struct {
	ID         int16
	Name       string
	APIAddr    string
	InboundTag string
	// Probed says the node is in service (enabled or draining): probed,
	// watched and reconciled. A node out of service keeps its client for
	// the users still on it.
	Probed bool
	// AgentURL is the node's session agent, which ends revoked keys'
	// sessions on a node on another machine; "" = the worker does.
	AgentURL string
}

// ErrUnknownNode: no node has that id (the registry's view, just
// reloaded). Retryable: a node being added is visible once its row is.
var ErrUnknownNode = errors.New("unknown xray node")

// Registry holds one Client per node, keyed by node id. Clients are dialed
// lazily from the node rows (load), on the first call for a node, and a
// node whose API address or inbound changed gets a new client; the old one
// is closed once calls already holding it are done. Rows are read again at
// most every refreshEvery, and at once for an id not seen yet; when they
// cannot be read, the clients already dialed keep working. It is safe for
// concurrent use.
type Registry struct {
	load func(context.Context) ([]Endpoint, error)
	log  *slog.Logger

	mu       sync.Mutex
	nodes    map[int16]*node
	order    []int16 // ids as load listed them
	loadedAt time.Time
	closed   bool
}

type node struct {
	ep     Endpoint
	client *Client // nil until the first call
}

// refreshEvery bounds how stale the registry's view of the rows may be: a
// node an operator changed is redialed within this long.
const refreshEvery = 10 * time.Second

// loadTimeout bounds a read of the rows: every call waits on it.
const loadTimeout = 2 * time.Second

// retireAfter is how long a replaced client stays open for calls that
// already hold it: longer than any one activity's use of a client.
const retireAfter = 3 * time.Minute

// NewRegistry makes a registry that reads the nodes with load; log gets
// each client's circuit breaker changes.
func NewRegistry(load func(context.Context) ([]Endpoint, error), log *slog.Logger) *Registry {
	if log == nil {
		log = slog.Default()
	}
	return &Registry{load: load, log: log, nodes: map[int16]*node{}}
}

// Client is the client of node id.
func (r *Registry) Client(ctx context.Context, id int16) (*Client, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errors.New("xray registry closed")
	}
	_, known := r.nodes[id]
	if err := r.refreshLocked(ctx, !known); err != nil && !known {
		return nil, fmt.Errorf("xray node %d: %w", id, err)
	}
	n, ok := r.nodes[id]
	if !ok {
		return nil, fmt.Errorf("xray node %d: %w", id, ErrUnknownNode)
	}
	if n.client == nil {
		c, err := dial(n.ep.APIAddr, n.ep.InboundTag, "xray "+n.ep.Name, r.log)
		if err != nil {
			return nil, err
		}
		n.client = c
	}
	return n.client, nil
}

// Endpoint is node id as last read (read again when stale, and at once
// for an id not seen yet).
func (r *Registry) Endpoint(ctx context.Context, id int16) (Endpoint, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, known := r.nodes[id]
	if err := r.refreshLocked(ctx, !known); err != nil && !known {
		return Endpoint{}, fmt.Errorf("xray node %d: %w", id, err)
	}
	n, ok := r.nodes[id]
	if !ok {
		return Endpoint{}, fmt.Errorf("xray node %d: %w", id, ErrUnknownNode)
	}
	return n.ep, nil
}

// Nodes lists the nodes, by id, as last read; it reads them again when
// the view is stale. When they cannot be read the last view is returned
// with the error, if there is one (a database outage must not hide the
// nodes from the health check).
func (r *Registry) Nodes(ctx context.Context) ([]Endpoint, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	err := r.refreshLocked(ctx, false)
	if err != nil && r.loadedAt.IsZero() {
		return nil, err
	}
	eps := make([]Endpoint, 0, len(r.order))
	for _, id := range r.order {
		eps = append(eps, r.nodes[id].ep)
	}
	return eps, err
}

// refreshLocked reads the rows again when the view is older than
// refreshEvery, or now if force. r.mu is held.
func (r *Registry) refreshLocked(ctx context.Context, force bool) error {
	if !force && time.Since(r.loadedAt) < refreshEvery {
		return nil
	}
	lctx, cancel := context.WithTimeout(ctx, loadTimeout)
	defer cancel()
	eps, err := r.load(lctx)
	if err != nil {
		if !r.loadedAt.IsZero() {
			// Keep the view for another interval rather than make every
			// call wait on the database again.
			r.loadedAt = time.Now()
		}
		return fmt.Errorf("read xray nodes: %w", err)
	}
	seen := make(map[int16]bool, len(eps))
	r.order = r.order[:0]
	for _, ep := range eps {
		seen[ep.ID] = true
		r.order = append(r.order, ep.ID)
		n, ok := r.nodes[ep.ID]
		if !ok {
			r.nodes[ep.ID] = &node{ep: ep}
			continue
		}
		if n.client != nil && (n.ep.APIAddr != ep.APIAddr || n.ep.InboundTag != ep.InboundTag) {
			r.log.Info("xray node changed; redialing", "node", ep.Name, "api", ep.APIAddr, "inbound", ep.InboundTag)
			retire(n.client)
			n.client = nil
		}
		n.ep = ep
	}
	for id, n := range r.nodes {
		if !seen[id] {
			if n.client != nil {
				retire(n.client)
			}
			delete(r.nodes, id)
		}
	}
	r.loadedAt = time.Now()
	return nil
}

// retire closes c once calls that already hold it have had their time.
func retire(c *Client) {
	time.AfterFunc(retireAfter, func() { c.Close() })
}

// Open reports, for each node with a client, whether its circuit breaker
// is open (the node declared down), by node name.
func (r *Registry) Open() map[string]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]bool, len(r.nodes))
	for _, n := range r.nodes {
		if n.client != nil {
			out[n.ep.Name] = n.client.Circuit() == "open"
		}
	}
	return out
}

// Close closes every client.
func (r *Registry) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	for _, n := range r.nodes {
		if n.client != nil {
			n.client.Close()
		}
	}
	r.nodes = map[int16]*node{}
}
