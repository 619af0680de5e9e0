package store

import (
	"context"
	"fmt"
	"time"
)

// Node is an Xray server users' keys live on. There is one, from
// configuration, for now.
type Node struct {
	ID         int16     `db:"id"`
	Name       string    `db:"name"`
	APIAddr    string    `db:"api_addr"`    // Xray gRPC API host:port
	InboundTag string    `db:"inbound_tag"` // the VLESS inbound users are added to
	Host       string    `db:"host"`        // what clients connect to
	Port       int       `db:"port"`
	CreatedAt  time.Time `db:"created_at"`
}

const nodeColumns = `id, name, api_addr, inbound_tag, host, port, created_at`

// UpsertNode records a node by name (creating or updating its addresses) and
// returns its id. Workers call it at start with the configured node.
func (s *Store) UpsertNode(ctx context.Context, n Node) (int16, error) {
	op := fmt.Sprintf("upsert node %q", n.Name)
	if n.Name == "" || n.APIAddr == "" || n.InboundTag == "" || n.Host == "" {
		return 0, fmt.Errorf("%s: %w: name, api address, inbound tag and host are required", op, ErrInvalid)
	}
	var id int16
	err := s.pool.QueryRow(ctx, `INSERT INTO nodes (name, api_addr, inbound_tag, host, port)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (name) DO UPDATE SET api_addr = EXCLUDED.api_addr, inbound_tag = EXCLUDED.inbound_tag,
			host = EXCLUDED.host, port = EXCLUDED.port
		RETURNING id`, n.Name, n.APIAddr, n.InboundTag, n.Host, n.Port).Scan(&id)
	return id, wrap(op, err)
}

// GetNode returns a node by id.
func (s *Store) GetNode(ctx context.Context, id int16) (Node, error) {
	n, err := collectOne[Node](s.pool.Query(ctx, `SELECT `+nodeColumns+` FROM nodes WHERE id = $1`, id))
	return n, wrap(fmt.Sprintf("get node %d", id), err)
}

// Nodes lists every node by id.
func (s *Store) Nodes(ctx context.Context) ([]Node, error) {
	ns, err := collectAll[Node](s.pool.Query(ctx, `SELECT `+nodeColumns+` FROM nodes ORDER BY id`))
	return ns, wrap("list nodes", err)
}
