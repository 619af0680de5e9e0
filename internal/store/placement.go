package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Placement puts a user's new subscription on a node, inside the
// transaction that creates the row, so the row is never without a node
// and two placements never both take a node's last place.
//
// The rule: among the enabled nodes with room (live users below capacity)
// — those of the user's chosen region, if any of them has room — the one
// with the smallest share of its capacity in use; on a tie the one with
// fewer users, then the older one. A trial is refused (ErrNoCapacity) when
// no enabled node has room. Paid time is never refused for want of room:
// the user has paid, so the key goes to the least loaded enabled node even
// past its capacity (recorded in the audit log); only when no node is
// enabled at all does the credit wait (ErrNoNode, which its activity
// retries) for an operator to enable one.

// ErrNoCapacity: no enabled node has room for another user.
var ErrNoCapacity = errors.New("no enabled node has room")

// ErrNoNode: no node is enabled, so a new subscription has nowhere to go.
var ErrNoNode = errors.New("no node is enabled")

// EventNodePlaced is the audit event of a placement.
const EventNodePlaced = "node_placed"

// placementLock serialises placements (pg_advisory_xact_lock), so each
// counts the users the one before it placed. Placements happen once per
// user (their first key) and take milliseconds.
const placementLock = 0x76706e_6e6f6465 // "vpn" "node"

// nodeLoad is a node as placement sees it.
type nodeLoad struct {
	ID       int16  `db:"id"`
	Region   string `db:"region"`
	State    string `db:"state"`
	Capacity int    `db:"capacity"`
	Users    int    `db:"users"`
}

func (n nodeLoad) hasRoom() bool { return n.Users < n.Capacity }

// lessLoaded orders nodes by the share of capacity in use (compared by
// cross-multiplying, so no rounding), then by users, then by id.
func lessLoaded(a, b nodeLoad) bool {
	l, r := int64(a.Users)*int64(b.Capacity), int64(b.Users)*int64(a.Capacity)
	if l != r {
		return l < r
	}
	if a.Users != b.Users {
		return a.Users < b.Users
	}
	return a.ID < b.ID
}

// choosePlacement applies the rule to the nodes' loads. overfill allows a
// full node when none has room (paid time). ok is false when there is no
// node to use.
func choosePlacement(nodes []nodeLoad, region string, overfill bool) (chosen nodeLoad, ok bool) {
	best := func(keep func(nodeLoad) bool) (nodeLoad, bool) {
		var b nodeLoad
		found := false
		for _, n := range nodes {
			if n.State != NodeEnabled || !keep(n) {
				continue
			}
			if !found || lessLoaded(n, b) {
				b, found = n, true
			}
		}
		return b, found
	}
	if region != "" {
		if n, ok := best(func(n nodeLoad) bool { return n.Region == region && n.hasRoom() }); ok {
			return n, true
		}
	}
	if n, ok := best(nodeLoad.hasRoom); ok {
		return n, true
	}
	if !overfill {
		return nodeLoad{}, false
	}
	if region != "" {
		if n, ok := best(func(n nodeLoad) bool { return n.Region == region }); ok {
			return n, true
		}
	}
	return best(func(nodeLoad) bool { return true })
}

// placeNode chooses the node for userID's new subscription within tx (see
// the rule above) and records the choice in the audit log.
func placeNode(ctx context.Context, tx pgx.Tx, userID int64, overfill bool) (int16, error) {
	n, region, err := chooseNode(ctx, tx, userID, overfill, 0)
	if err != nil {
		return 0, err
	}
	details := map[string]any{"node": n.ID, "users": n.Users, "capacity": n.Capacity}
	if region != "" {
		details["region"], details["in_region"] = region, n.Region == region
	}
	if !n.hasRoom() {
		details["over_capacity"] = true
	}
	if err := appendAudit(ctx, tx, userID, EventNodePlaced, details); err != nil {
		return 0, err
	}
	return n.ID, nil
}

// chooseNode applies the rule for userID within tx, under the placement
// lock, leaving out node except (0: none): a user moved off a node is
// placed by the same rule as a new one, anywhere but there. It returns the
// node and the user's region ("" = any).
func chooseNode(ctx context.Context, tx pgx.Tx, userID int64, overfill bool, except int16) (nodeLoad, string, error) {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(placementLock)); err != nil {
		return nodeLoad{}, "", fmt.Errorf("lock placement: %w", err)
	}
	var region string
	if err := tx.QueryRow(ctx, `SELECT region FROM users WHERE telegram_id = $1`, userID).Scan(&region); err != nil {
		return nodeLoad{}, "", fmt.Errorf("read region: %w", err)
	}
	if region == RegionAny {
		region = ""
	}
	// Read after the lock: a statement sees what the placements before
	// this one committed.
	loads, err := collectAll[nodeLoad](tx.Query(ctx, `SELECT n.id, n.region, n.state, n.capacity, coalesce(c.users, 0) AS users
		FROM nodes n LEFT JOIN (SELECT node_id, count(*)::int AS users FROM subscriptions
			WHERE status IN ('trial', 'active') GROUP BY node_id) c ON c.node_id = n.id
		WHERE n.state = 'enabled' AND n.id <> $1`, except))
	if err != nil {
		return nodeLoad{}, "", fmt.Errorf("read node loads: %w", err)
	}
	n, ok := choosePlacement(loads, region, overfill)
	switch {
	case !ok && !overfill:
		return nodeLoad{}, "", ErrNoCapacity
	case !ok:
		return nodeLoad{}, "", ErrNoNode
	}
	return n, region, nil
}
