package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"vpnflow/internal/vless"
)

// Node states (the nodes_state_check constraint).
const (
	NodeEnabled  = "enabled"  // takes new users
	NodeDraining = "draining" // keeps its users, takes no new ones
	NodeDisabled = "disabled" // out of service: no new users, not probed, watched or reconciled
)

// Node is an Xray server users' keys live on. The worker registers the one
// its environment describes (UpsertNode); operators add and manage others
// (AddNode, UpdateNode, SetNodeState).
type Node struct {
	ID         int16  `db:"id"`
	Name       string `db:"name"`
	APIAddr    string `db:"api_addr"`    // Xray gRPC API host:port
	InboundTag string `db:"inbound_tag"` // the VLESS inbound users are added to
	Host       string `db:"host"`        // what clients connect to
	Port       int    `db:"port"`
	Region     string `db:"region"` // a label users choose by; "" = none
	// REALITY settings of the links to this node.
	PublicKey string    `db:"reality_public_key"`
	SNI       string    `db:"reality_sni"`
	ShortID   string    `db:"reality_short_id"`
	Capacity  int       `db:"capacity"` // placement puts at most this many live users here
	State     string    `db:"state"`    // NodeEnabled, NodeDraining or NodeDisabled
	CreatedAt time.Time `db:"created_at"`
	UpdatedAt time.Time `db:"updated_at"`
	// Written by the health check's probe of the node.
	CheckedAt   *time.Time `db:"checked_at"`   // last probe
	HealthyAt   *time.Time `db:"healthy_at"`   // last probe the node answered
	HealthError string     `db:"health_error"` // what the last probe saw; "" when it answered
	// FailedOverAt is when the health check last failed the node over
	// (failover.go); nil if never.
	FailedOverAt *time.Time `db:"failed_over_at"`
	// AgentURL is the node's session agent (internal/sessionagent), for a
	// node on another machine than the workers; "" = the worker ends the
	// node's sessions itself.
	AgentURL string `db:"agent_url"`
}

const nodeColumns = `id, name, api_addr, inbound_tag, host, port, region, reality_public_key, reality_sni,
	reality_short_id, capacity, state, created_at, updated_at, checked_at, healthy_at, health_error, failed_over_at, agent_url`

// DefaultNodeCapacity is the capacity of a node registered without one.
const DefaultNodeCapacity = 10000

// MaxNodeCapacity bounds a node's capacity: well above what one Xray
// serves, small enough that load arithmetic never overflows.
const MaxNodeCapacity = 1_000_000

// ErrNodeExists: a node of that name exists already.
var ErrNodeExists = errors.New("a node with that name exists")

var (
	nodeNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)
	tagPattern      = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
)

// RegionAny is a user's choice of no region in particular: placement
// picks the least loaded node anywhere. No node may have it as its region.
const RegionAny = "any"

// ValidNodeName reports whether s is a node name or region label: 1-32 of
// a-z, 0-9 and '-', not starting with '-'.
func ValidNodeName(s string) bool { return nodeNamePattern.MatchString(s) }

// Validate checks a node an operator adds or changes: every field a link
// or an API call needs, in the form Xray and VPN clients accept. Its error
// wraps ErrInvalid and names the field.
func (n Node) Validate() error {
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalid, field, fmt.Sprintf(format, args...))
	}
	if !ValidNodeName(n.Name) {
		return bad("name", "%q must be 1-32 of a-z 0-9 - (not starting with -)", n.Name)
	}
	if n.Region != "" && (!ValidNodeName(n.Region) || n.Region == RegionAny) {
		return bad("region", "%q must be 1-32 of a-z 0-9 - (not starting with -), and not %q", n.Region, RegionAny)
	}
	if err := validHostPort(n.APIAddr); err != nil {
		return bad("api", "%q: %v", n.APIAddr, err)
	}
	if !tagPattern.MatchString(n.InboundTag) || n.InboundTag == "api" {
		return bad("tag", "%q must be 1-64 of A-Z a-z 0-9 _ . - and not \"api\"", n.InboundTag)
	}
	// A link to the node must be one clients accept: the same check as
	// every key's link (any valid UUID stands in for the user's).
	link := vless.Link{Host: n.Host, Port: n.Port, PublicKey: n.PublicKey, ServerName: n.SNI, ShortID: n.ShortID}
	if err := link.ValidateServer(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if n.Capacity < 1 || n.Capacity > MaxNodeCapacity {
		return bad("capacity", "%d must be 1-%d", n.Capacity, MaxNodeCapacity)
	}
	switch n.State {
	case NodeEnabled, NodeDraining, NodeDisabled:
	default:
		return bad("state", "%q must be %s, %s or %s", n.State, NodeEnabled, NodeDraining, NodeDisabled)
	}
	if n.AgentURL != "" {
		if err := validAgentURL(n.AgentURL); err != nil {
			return bad("agent", "%q %v", n.AgentURL, err)
		}
	}
	return nil
}

// validAgentURL checks a session agent's URL (the nodes_agent_url_check
// constraint): http or https, a host, no path, query or credentials.
func validAgentURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return err
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("must be http:// or https://")
	case u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return errors.New("must be scheme://host:port only")
	}
	return nil
}

func validHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return errors.New("not host:port")
	}
	if host == "" {
		return errors.New("no host")
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return errors.New("port must be 1-65535")
	}
	return nil
}

// UpsertNode records the node the worker's environment describes, by name:
// its addresses, REALITY settings and region are the environment's, and
// its capacity and state stay what operators set. It returns the id.
// Workers call it at start.
func (s *Store) UpsertNode(ctx context.Context, n Node) (int16, error) {
	op := fmt.Sprintf("upsert node %q", n.Name)
	if n.Name == "" || n.APIAddr == "" || n.InboundTag == "" || n.Host == "" {
		return 0, fmt.Errorf("%s: %w: name, api address, inbound tag and host are required", op, ErrInvalid)
	}
	var id int16
	err := s.pool.QueryRow(ctx, `INSERT INTO nodes (name, api_addr, inbound_tag, host, port, region,
			reality_public_key, reality_sni, reality_short_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (name) DO UPDATE SET api_addr = EXCLUDED.api_addr, inbound_tag = EXCLUDED.inbound_tag,
			host = EXCLUDED.host, port = EXCLUDED.port, region = EXCLUDED.region,
			reality_public_key = EXCLUDED.reality_public_key, reality_sni = EXCLUDED.reality_sni,
			reality_short_id = EXCLUDED.reality_short_id,
			updated_at = CASE WHEN (nodes.api_addr, nodes.inbound_tag, nodes.host, nodes.port, nodes.region,
					nodes.reality_public_key, nodes.reality_sni, nodes.reality_short_id)
				IS DISTINCT FROM (EXCLUDED.api_addr, EXCLUDED.inbound_tag, EXCLUDED.host, EXCLUDED.port, EXCLUDED.region,
					EXCLUDED.reality_public_key, EXCLUDED.reality_sni, EXCLUDED.reality_short_id)
				THEN now() ELSE nodes.updated_at END
		RETURNING id`, n.Name, n.APIAddr, n.InboundTag, n.Host, n.Port, n.Region, n.PublicKey, n.SNI, n.ShortID).Scan(&id)
	return id, wrap(op, err)
}

// AddNode creates a node an operator describes; ErrNodeExists when the
// name is taken.
func (s *Store) AddNode(ctx context.Context, n Node) (Node, error) {
	op := fmt.Sprintf("add node %q", n.Name)
	if err := n.Validate(); err != nil {
		return Node{}, fmt.Errorf("%s: %w", op, err)
	}
	added, err := collectOne[Node](s.pool.Query(ctx, `INSERT INTO nodes (name, api_addr, inbound_tag, host, port, region,
			reality_public_key, reality_sni, reality_short_id, capacity, state, agent_url)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		RETURNING `+nodeColumns, n.Name, n.APIAddr, n.InboundTag, n.Host, n.Port, n.Region,
		n.PublicKey, n.SNI, n.ShortID, n.Capacity, n.State, n.AgentURL))
	if isUnique(err, "nodes_name_key") {
		return Node{}, fmt.Errorf("%s: %w", op, ErrNodeExists)
	}
	return added, wrap(op, err)
}

// UpdateNode changes a node's settings (all but its name and state) to
// n's, found by n.Name. The worker's registry redials it when its API
// address or inbound changed.
func (s *Store) UpdateNode(ctx context.Context, n Node) (Node, error) {
	op := fmt.Sprintf("update node %q", n.Name)
	if err := n.Validate(); err != nil {
		return Node{}, fmt.Errorf("%s: %w", op, err)
	}
	updated, err := collectOne[Node](s.pool.Query(ctx, `UPDATE nodes SET api_addr = $2, inbound_tag = $3, host = $4,
			port = $5, region = $6, reality_public_key = $7, reality_sni = $8, reality_short_id = $9, capacity = $10,
			agent_url = $11, updated_at = now()
		WHERE name = $1 RETURNING `+nodeColumns, n.Name, n.APIAddr, n.InboundTag, n.Host, n.Port, n.Region,
		n.PublicKey, n.SNI, n.ShortID, n.Capacity, n.AgentURL))
	return updated, wrap(op, err)
}

// SetNodeState moves a node to state and reports whether it changed.
func (s *Store) SetNodeState(ctx context.Context, name, state string) (Node, bool, error) {
	op := fmt.Sprintf("set node %q %s", name, state)
	var (
		n       Node
		changed bool
	)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		cur, err := collectOne[Node](tx.Query(ctx, `SELECT `+nodeColumns+` FROM nodes WHERE name = $1 FOR UPDATE`, name))
		if err != nil {
			return err
		}
		n = cur
		if cur.State == state {
			return nil
		}
		n, err = collectOne[Node](tx.Query(ctx, `UPDATE nodes SET state = $2, updated_at = now() WHERE id = $1
			RETURNING `+nodeColumns, cur.ID, state))
		changed = err == nil
		return err
	})
	return n, changed, wrap(op, err)
}

// GetNode returns a node by id.
func (s *Store) GetNode(ctx context.Context, id int16) (Node, error) {
	n, err := collectOne[Node](s.pool.Query(ctx, `SELECT `+nodeColumns+` FROM nodes WHERE id = $1`, id))
	return n, wrap(fmt.Sprintf("get node %d", id), err)
}

// NodeByName returns a node by name.
func (s *Store) NodeByName(ctx context.Context, name string) (Node, error) {
	n, err := collectOne[Node](s.pool.Query(ctx, `SELECT `+nodeColumns+` FROM nodes WHERE name = $1`, name))
	return n, wrap(fmt.Sprintf("get node %q", name), err)
}

// Nodes lists every node by id.
func (s *Store) Nodes(ctx context.Context) ([]Node, error) {
	ns, err := collectAll[Node](s.pool.Query(ctx, `SELECT `+nodeColumns+` FROM nodes ORDER BY id`))
	return ns, wrap("list nodes", err)
}

// NodeUsage is a node and the users with live subscriptions on it.
type NodeUsage struct {
	Node
	Users int `db:"users"`
}

// NodeUsages lists every node by id with its live users.
func (s *Store) NodeUsages(ctx context.Context) ([]NodeUsage, error) {
	ns, err := collectAll[NodeUsage](s.pool.Query(ctx, `SELECT `+nodeColumns+`, coalesce(c.users, 0) AS users
		FROM nodes LEFT JOIN (SELECT node_id, count(*)::int AS users FROM subscriptions
			WHERE status IN ('trial', 'active') GROUP BY node_id) c ON c.node_id = nodes.id
		ORDER BY id`))
	return ns, wrap("list nodes with their users", err)
}

// NodeHealth is what one probe of a node saw.
type NodeHealth struct {
	NodeID int16
	At     time.Time
	Error  string // "" when the node answered
}

// RecordNodeHealth stores probes' outcomes in their nodes' rows, in one
// statement. An older probe never overwrites a newer one.
func (s *Store) RecordNodeHealth(ctx context.Context, probes []NodeHealth) error {
	if len(probes) == 0 {
		return nil
	}
	ids := make([]int16, len(probes))
	ats := make([]time.Time, len(probes))
	errs := make([]string, len(probes))
	for i, p := range probes {
		if p.At.IsZero() {
			return fmt.Errorf("record node health: %w: probe of node %d has no time", ErrInvalid, p.NodeID)
		}
		ids[i], ats[i], errs[i] = p.NodeID, p.At, p.Error
	}
	_, err := s.pool.Exec(ctx, `UPDATE nodes n SET checked_at = p.at, health_error = p.err,
			healthy_at = CASE WHEN p.err = '' THEN p.at ELSE n.healthy_at END
		FROM unnest($1::smallint[], $2::timestamptz[], $3::text[]) AS p(id, at, err)
		WHERE n.id = p.id AND (n.checked_at IS NULL OR n.checked_at <= p.at)`, ids, ats, errs)
	return wrap(fmt.Sprintf("record health of %d nodes", len(probes)), err)
}

// Regions lists the regions users can choose: the distinct labels of the
// enabled nodes, sorted. Fewer than two means there is nothing to choose.
func (s *Store) Regions(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT region FROM nodes WHERE state = 'enabled' AND region <> '' ORDER BY region`)
	if err != nil {
		return nil, wrap("list regions", err)
	}
	regions, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return regions, wrap("list regions", err)
}

// SetUserRegion records the region the user chose ("" = any).
func (s *Store) SetUserRegion(ctx context.Context, userID int64, region string) error {
	op := fmt.Sprintf("set region of user %d", userID)
	if region != "" && !ValidNodeName(region) {
		return fmt.Errorf("%s: %w: region %q", op, ErrInvalid, region)
	}
	tag, err := s.pool.Exec(ctx, `UPDATE users SET region = $2, updated_at = now() WHERE telegram_id = $1`, userID, region)
	if err == nil && tag.RowsAffected() == 0 {
		err = ErrNotFound
	}
	return wrap(op, err)
}

// UserNode is the node the user's subscription is on.
func (s *Store) UserNode(ctx context.Context, userID int64) (int16, error) {
	var node int16
	err := s.pool.QueryRow(ctx, `SELECT node_id FROM subscriptions WHERE user_id = $1`, userID).Scan(&node)
	return node, wrap(fmt.Sprintf("read node of user %d", userID), err)
}

// ActiveSubscriptionsOn is ActiveSubscriptions for the keys of one node.
func (s *Store) ActiveSubscriptionsOn(ctx context.Context, node int16, now time.Time, afterUserID int64, limit int) ([]LiveKey, error) {
	op := fmt.Sprintf("list live keys of node %d after user %d", node, afterUserID)
	if err := checkKeyPage(op, now, limit); err != nil {
		return nil, err
	}
	keys, err := collectAll[LiveKey](s.pool.Query(ctx, liveKeyColumns+`
		WHERE node_id = $4 AND status IN ('trial', 'active') AND expires_at > $3 AND user_id > $1
		ORDER BY user_id LIMIT $2`, afterUserID, limit, now, node))
	return keys, wrap(op, err)
}
