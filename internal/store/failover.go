package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Failover and drain move users off a node. Each user is moved by their
// own Subscription workflow (MoveSubscription re-places the row, then the
// workflow adds the key on the new node); an evacuation per node pages the
// users still on it (NodeUsersAfter) and asks each workflow to move, and
// watches the node (NodeEvacuationStatus) to know when to stop.

// EventNodeMoved is the audit event of a user moved off a node.
const EventNodeMoved = "node_moved"

// NodeMove is what MoveSubscription did.
type NodeMove struct {
	// Moved: the row was on the node being left and now names To.
	Moved bool
	// To is the node the row names now (also when it was not moved).
	To int16
	// NoNode: the row is still on the node being left because no other
	// node is enabled; the evacuation asks again later.
	NoNode bool
	// Live: the row is trial or active, so its key belongs in Xray.
	Live bool
	// Email is the key's Xray email (the same on every node).
	Email string
}

// MoveSubscription moves userID's subscription off node from, in one
// transaction: the least loaded enabled node other than from (preferring
// the user's region, by the placement rule; over capacity if need be, as
// for paid time) becomes the row's node, and the move is audited under
// moveID. A row that is no longer on from is left alone: Moved is false
// and To is where it is, so a repeated request does nothing — unless this
// very move (moveID) took it there, when the answer is the first one's
// again, so a retry after a lost reply goes on to move the key.
func (s *Store) MoveSubscription(ctx context.Context, userID int64, from int16, moveID string) (NodeMove, error) {
	op := fmt.Sprintf("move subscription of user %d off node %d", userID, from)
	if moveID == "" {
		return NodeMove{}, fmt.Errorf("%s: %w: no move id", op, ErrInvalid)
	}
	var res NodeMove
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		res = NodeMove{}
		var status string
		err := tx.QueryRow(ctx, `SELECT node_id, status, xray_email FROM subscriptions WHERE user_id = $1 FOR UPDATE`,
			userID).Scan(&res.To, &status, &res.Email)
		if err != nil {
			return err
		}
		res.Live = status == "trial" || status == "active"
		if res.To != from {
			var to int16
			err := tx.QueryRow(ctx, `SELECT (details->>'to')::smallint FROM audit_log
				WHERE user_id = $1 AND event = $2 AND details->>'move' = $3 AND (details->>'from')::smallint = $4
				ORDER BY id DESC LIMIT 1`, userID, EventNodeMoved, moveID, from).Scan(&to)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("read earlier move: %w", err)
			}
			res.Moved, res.To = true, to
			return nil
		}
		n, region, err := chooseNode(ctx, tx, userID, true, from)
		if errors.Is(err, ErrNoNode) {
			res.NoNode = true
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE subscriptions SET node_id = $2, updated_at = now() WHERE user_id = $1`,
			userID, n.ID); err != nil {
			return fmt.Errorf("update node: %w", err)
		}
		details := map[string]any{"move": moveID, "from": from, "to": n.ID, "users": n.Users, "capacity": n.Capacity}
		if region != "" {
			details["region"], details["in_region"] = region, n.Region == region
		}
		if err := appendAudit(ctx, tx, userID, EventNodeMoved, details); err != nil {
			return err
		}
		res.Moved, res.To = true, n.ID
		return nil
	})
	return res, wrap(op, err)
}

// NodeUsersAfter lists the users with live subscriptions on node, by user
// id, after afterUserID: one page of an evacuation.
func (s *Store) NodeUsersAfter(ctx context.Context, node int16, afterUserID int64, limit int) ([]int64, error) {
	op := fmt.Sprintf("list users of node %d after user %d", node, afterUserID)
	if limit <= 0 || limit > MaxPage {
		return nil, fmt.Errorf("%s: %w: page size %d not in 1-%d", op, ErrInvalid, limit, MaxPage)
	}
	rows, err := s.pool.Query(ctx, `SELECT user_id FROM subscriptions
		WHERE node_id = $1 AND status IN ('trial', 'active') AND user_id > $2 ORDER BY user_id LIMIT $3`,
		node, afterUserID, limit)
	if err != nil {
		return nil, wrap(op, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	return ids, wrap(op, err)
}

// EvacuationStatus is a node as its evacuation watches it.
type EvacuationStatus struct {
	State        string
	Users        int        // live subscriptions still on the node
	HealthyAt    *time.Time // the last probe the node answered
	FailedOverAt *time.Time
}

// NodeEvacuationStatus reads node's state, health and live users.
func (s *Store) NodeEvacuationStatus(ctx context.Context, node int16) (EvacuationStatus, error) {
	var st EvacuationStatus
	err := s.pool.QueryRow(ctx, `SELECT n.state, n.healthy_at, n.failed_over_at,
			(SELECT count(*) FROM subscriptions WHERE node_id = n.id AND status IN ('trial', 'active'))::int
		FROM nodes n WHERE n.id = $1`, node).Scan(&st.State, &st.HealthyAt, &st.FailedOverAt, &st.Users)
	return st, wrap(fmt.Sprintf("read evacuation status of node %d", node), err)
}

// FailoverRule is when a node is failed over: its probes have failed for
// After (its last answered probe is older than that, and its last probe
// failed), and it was not failed over within Cooldown.
type FailoverRule struct {
	Now      time.Time // the health check's clock
	After    time.Duration
	Cooldown time.Duration
}

// qFailoverDue selects the nodes the rule ($1 now, $2 after, $3 cooldown)
// fails over. A node never probed is not due (the health check has not
// looked yet), nor is one whose last probe answered.
const qFailoverDue = `n.state IN ('enabled', 'draining') AND n.checked_at IS NOT NULL
	AND (n.healthy_at IS NULL OR n.checked_at > n.healthy_at)
	AND coalesce(n.healthy_at, n.created_at) < $1::timestamptz - make_interval(secs => $2::float8)
	AND (n.failed_over_at IS NULL OR n.failed_over_at < $1::timestamptz - make_interval(secs => $3::float8))`

// qHealthyElsewhere holds when another enabled node answered its last
// probe: failing a node over with nowhere to go (or when the worker itself
// lost the network and every node looks dead) would only stop new sales.
const qHealthyElsewhere = `EXISTS (SELECT 1 FROM nodes o WHERE o.id <> n.id AND o.state = 'enabled'
	AND o.healthy_at IS NOT NULL AND o.checked_at = o.healthy_at)`

// DueFailovers lists the nodes the rule fails over, by id, provided
// another enabled node is healthy; and those failed over at r.Now
// already, so a retried health check step finishes what it began.
func (s *Store) DueFailovers(ctx context.Context, r FailoverRule) ([]Node, error) {
	if r.Now.IsZero() || r.After <= 0 {
		return nil, fmt.Errorf("list nodes due for failover: %w: need a time and a positive delay", ErrInvalid)
	}
	ns, err := collectAll[Node](s.pool.Query(ctx, `SELECT `+nodeColumns+` FROM nodes n
		WHERE (`+qFailoverDue+` AND `+qHealthyElsewhere+`) OR n.failed_over_at = $1 ORDER BY n.id`,
		r.Now, r.After.Seconds(), r.Cooldown.Seconds()))
	return ns, wrap("list nodes due for failover", err)
}

// BeginFailover fails node over if the rule still holds for it: the node
// is set to draining (no new users; still probed, so its evacuation sees
// it recover) and failed_over_at is set to r.Now, which starts the
// cooldown. It reports whether it did, and the live users on the node.
// Asked again at the same r.Now (a retry), it answers yes again.
func (s *Store) BeginFailover(ctx context.Context, node int16, r FailoverRule) (bool, int, error) {
	op := fmt.Sprintf("fail over node %d", node)
	if r.Now.IsZero() || r.After <= 0 {
		return false, 0, fmt.Errorf("%s: %w: need a time and a positive delay", op, ErrInvalid)
	}
	var (
		started bool
		users   int
	)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM nodes WHERE id = $1 FOR UPDATE`, node); err != nil {
			return fmt.Errorf("lock node: %w", err)
		}
		tag, err := tx.Exec(ctx, `UPDATE nodes n SET state = 'draining', failed_over_at = $1, updated_at = now()
			WHERE n.id = $4 AND ((`+qFailoverDue+` AND `+qHealthyElsewhere+`) OR n.failed_over_at = $1)`,
			r.Now, r.After.Seconds(), r.Cooldown.Seconds(), node)
		if err != nil {
			return err
		}
		started = tag.RowsAffected() == 1
		return tx.QueryRow(ctx, `SELECT count(*) FROM subscriptions WHERE node_id = $1 AND status IN ('trial', 'active')`,
			node).Scan(&users)
	})
	return started, users, wrap(op, err)
}
