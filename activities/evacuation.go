package activities

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/activity"
	"golang.org/x/sync/errgroup"

	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

// Failover and drain (issue 12): the health check fails over a node that
// stopped answering (FailOverNodes), a NodeEvacuation workflow asks the
// users on it to move (RequestMoves) and watches it (EvacuationStatus),
// and each user's Subscription workflow moves its user (MoveSubscription,
// then the key: EnsureVLESSUser on the new node, RemoveKeyFromNode and
// EndSessions on the old one).

// MoveInput asks to move a user off node From.
type MoveInput struct {
	UserID int64
	From   int16
	MoveID string // the request's id (shop.Move.ID): a retry answers as the first run
}

// MoveResult is what the move did (store.NodeMove). It holds no key.
type MoveResult struct {
	Moved  bool
	To     int16
	NoNode bool
	Live   bool
	Email  string // the key's Xray email, to remove from the old node
}

// MoveSubscription re-places the user's subscription off From in one
// transaction; a row already elsewhere is left alone (Moved false).
func (a *Activities) MoveSubscription(ctx context.Context, in MoveInput) (MoveResult, error) {
	m, err := a.Store.MoveSubscription(ctx, in.UserID, in.From, in.MoveID)
	if err != nil {
		return MoveResult{}, storeError(fmt.Sprintf("move user %d off node %d", in.UserID, in.From), err)
	}
	return MoveResult{Moved: m.Moved, To: m.To, NoNode: m.NoNode, Live: m.Live, Email: m.Email}, nil
}

// NodeKeyRef names a key on one node: a key left behind by a move.
type NodeKeyRef struct {
	UserID int64
	NodeID int16
	Email  string
}

// RemoveKeyFromNode removes one key (missing is fine) from the Xray of a
// given node, not the user's current one: the node a move left.
func (a *Activities) RemoveKeyFromNode(ctx context.Context, in NodeKeyRef) error {
	if in.NodeID <= 0 || in.Email == "" {
		return permanent("Invalid", fmt.Errorf("remove key of user %d: need a node and an email", in.UserID))
	}
	xc, err := a.nodeXray(ctx, in.NodeID)
	if err != nil {
		return err
	}
	return xrayError(fmt.Sprintf("remove key %s from node %d", in.Email, in.NodeID), xc.RemoveUser(ctx, in.Email))
}

// FailoverInput is one health check's look at the nodes.
type FailoverInput struct {
	At time.Time // the health check's clock
}

// FailoverResult names the nodes failed over.
type FailoverResult struct {
	Nodes []XrayNode
}

// FailOverNodes fails over every node whose probes have failed for
// NODE_FAILOVER_AFTER (store.DueFailovers; never when it is 0): each is
// set to draining and its evacuation started at NODE_FAILOVER_RATE. A
// retry at the same At starts the same evacuations again, which joins
// the running ones.
func (a *Activities) FailOverNodes(ctx context.Context, in FailoverInput) (FailoverResult, error) {
	if a.Config.NodeFailoverAfter <= 0 {
		return FailoverResult{}, nil
	}
	rule := store.FailoverRule{Now: in.At, After: a.Config.NodeFailoverAfter, Cooldown: a.Config.NodeFailoverCooldown}
	due, err := a.Store.DueFailovers(ctx, rule)
	if err != nil {
		return FailoverResult{}, storeError("list nodes due for failover", err)
	}
	var res FailoverResult
	for _, n := range due {
		started, users, err := a.Store.BeginFailover(ctx, n.ID, rule)
		if err != nil {
			return res, storeError("fail over node "+n.Name, err)
		}
		if !started {
			continue
		}
		activity.GetLogger(ctx).Warn("node failed over: its users move to healthy nodes", "node", n.Name,
			"users", users, "last_answered", n.HealthyAt, "error", n.HealthError)
		req := shop.EvacuationRequest{Mode: shop.EvacuateFailover, PerMinute: a.Config.NodeFailoverRate, At: in.At}
		if err := shop.StartEvacuation(ctx, a.Temporal, a.Config.TaskQueue, n.ID, n.Name, req); err != nil {
			return res, err
		}
		res.Nodes = append(res.Nodes, XrayNode{ID: n.ID, Name: n.Name})
	}
	return res, nil
}

// MovePageInput is one page of move requests.
type MovePageInput struct {
	NodeID      int16
	Mode        string
	MoveID      string // shop.EvacuationMoveID: the workflows apply each once
	AfterUserID int64
	Limit       int
}

// MovePageResult is what a page asked.
type MovePageResult struct {
	NextAfter int64 // the last user id of the page
	Requested int   // users asked to move
	Done      bool  // the page was the last of the pass
}

// movesParallel bounds the signals a page sends at once.
const movesParallel = 16

// RequestMoves reads one page of the users on a node and signals each
// one's Subscription workflow to move (shop.SignalMove). A retried page
// asks again; the workflows move a user once.
func (a *Activities) RequestMoves(ctx context.Context, in MovePageInput) (MovePageResult, error) {
	op := fmt.Sprintf("request moves off node %d after user %d", in.NodeID, in.AfterUserID)
	if in.MoveID == "" {
		return MovePageResult{}, permanent("Invalid", fmt.Errorf("%s: no move id", op))
	}
	ids, err := a.Store.NodeUsersAfter(ctx, in.NodeID, in.AfterUserID, in.Limit)
	if err != nil {
		return MovePageResult{}, storeError(op, err)
	}
	res := MovePageResult{NextAfter: in.AfterUserID, Requested: len(ids), Done: len(ids) < in.Limit}
	if len(ids) == 0 {
		return res, nil
	}
	res.NextAfter = ids[len(ids)-1]
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(movesParallel)
	var sent atomic.Int64
	move := shop.Move{ID: in.MoveID, From: in.NodeID, Mode: in.Mode}
	for _, id := range ids {
		g.Go(func() error {
			if err := shop.SignalSubscription(gctx, a.Temporal, a.Config.TaskQueue, a.policy(), id, shop.SignalMove, move); err != nil {
				return err
			}
			if n := sent.Add(1); n%100 == 0 {
				activity.RecordHeartbeat(ctx, n)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return MovePageResult{}, fmt.Errorf("%s: %w", op, err)
	}
	return res, nil
}

// EvacuationStatusResult is the node as its evacuation sees it.
type EvacuationStatusResult struct {
	State     string
	Users     int        // live users still on the node
	HealthyAt *time.Time // last probe the node answered
}

// EvacuationStatus reads a node's state, last answered probe and users.
func (a *Activities) EvacuationStatus(ctx context.Context, in NodeRef) (EvacuationStatusResult, error) {
	st, err := a.Store.NodeEvacuationStatus(ctx, in.NodeID)
	if err != nil {
		return EvacuationStatusResult{}, storeError(fmt.Sprintf("read node %d", in.NodeID), err)
	}
	return EvacuationStatusResult{State: st.State, Users: st.Users, HealthyAt: st.HealthyAt}, nil
}

// Evacuation alerts (catalogue ids).
const (
	AlertEvacuationStarted = "admin_evacuation_started"
	AlertEvacuationEnded   = "admin_evacuation_ended"
)

// EvacuationAlert tells the admins an evacuation started or ended.
type EvacuationAlert struct {
	Message string // AlertEvacuationStarted or AlertEvacuationEnded
	Node    string
	Mode    string // shop.EvacuateFailover or shop.EvacuateDrain
	Users   int    // live users on the node at the start
	Moved   int    // users that left it
	Left    int    // users still on it
	Outcome string // shop.Evacuation*: why it ended
	Minutes float64
}

// AlertAdminsEvacuation tells every admin, in their language. It fails
// only when nobody was told.
func (a *Activities) AlertAdminsEvacuation(ctx context.Context, in EvacuationAlert) (AdminAlertResult, error) {
	if in.Message != AlertEvacuationStarted && in.Message != AlertEvacuationEnded {
		return AdminAlertResult{}, permanent("Invalid", fmt.Errorf("unknown alert %q", in.Message))
	}
	return a.tellAdmins(ctx, "evacuation alert "+in.Message, func(lang string) string {
		return a.Texts.T(lang, in.Message, map[string]any{
			"Node": in.Node, "Mode": a.Texts.T(lang, "evacuation_mode_"+in.Mode, nil), "Users": in.Users,
			"Moved": in.Moved, "Left": in.Left, "Outcome": a.Texts.T(lang, "evacuation_outcome_"+in.Outcome, nil),
			"Minutes": fmt.Sprintf("%.1f", in.Minutes),
		})
	})
}
