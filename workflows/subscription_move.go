package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/shop"
)

// moveChange versions moving a user off a node (issue 12, failover and
// drain). Runs recorded before it never received shop.SignalMove; it is a
// change ID of its own, so only runs that move pay its marker.
const moveChange = "node-move"

// leaveAttempts bounds the removal of the key from the node being left:
// the key is already live on the new node, so nothing waits for the old
// one. A failed-over node is down, so one try; a drained node is up, so a
// few. What is left behind, reconcile removes when the node is back in
// service (its rows no longer name it).
const (
	leaveAttemptsFailover = 1
	leaveAttemptsDrain    = 3
)

// receiveMoves takes in every move request delivered so far.
func (s *subscription) receiveMoves() {
	if s.moveSignals == nil {
		return
	}
	for {
		var m shop.Move
		if !s.moveSignals.ReceiveAsync(&m) {
			return
		}
		s.moves = append(s.moves, m)
	}
}

// move moves the user off node m.From, once per request id: the database
// re-places the row (the subscription URL serves the new node's link from
// then on), the key is added on the new node, the user gets one message
// with the new link, and the key leaves the old node, best effort. A user
// no longer on m.From (moved already, or never there) is neither moved
// nor told. A step stuck into a continue-as-new is done again by the next
// run: the database answers a repeated move id as the first time.
func (s *subscription) move(ctx workflow.Context, m shop.Move) error {
	if workflow.GetVersion(ctx, moveChange, workflow.DefaultVersion, 1) < 1 || m.ID == "" || s.state.HasApplied(m.ID) {
		return nil
	}
	var a *activities.Activities
	var res activities.MoveResult
	err := dbStep(ctx, a.MoveSubscription, activities.MoveInput{UserID: s.state.UserID, From: m.From, MoveID: m.ID}, &res)
	if err != nil {
		if final(err) && !temporal.IsCanceledError(err) {
			// No subscription row: nothing to move.
			workflow.GetLogger(ctx).Warn("move refused", "from", m.From, "error", err)
			s.state.MarkApplied(m.ID)
			return nil
		}
		return err
	}
	switch {
	case res.NoNode:
		// No other node is enabled; the evacuation asks again, and the
		// request is not marked, so that ask is heard.
		workflow.GetLogger(ctx).Warn("move postponed: no other node is enabled", "from", m.From)
		return nil
	case !res.Moved:
		s.state.MarkApplied(m.ID)
		return nil
	}
	if res.Live && s.active() && s.state.Status != shop.StatusBanned {
		// A drained node still serves the user until the key is on the
		// new one, so it leaves after; a failed-over node serves nobody,
		// so the removal goes out with the add, and the move takes one
		// workflow task less (the 1,000-users-a-minute goal).
		var removed workflow.Future
		if m.Mode == shop.EvacuateFailover {
			removed = s.leave(ctx, m, res.Email)
		}
		if err := s.addKey(ctx); err != nil {
			return err
		}
		s.sendKey(ctx, activities.KeyReasonMoved)
		if removed == nil {
			removed = s.leave(ctx, m, res.Email)
		}
		s.leftNode(ctx, m, res.Email, removed)
	}
	s.state.MarkApplied(m.ID)
	return nil
}

// leave removes the key from the node the user left, with a few quick
// tries: a dead node must not hold the workflow.
func (s *subscription) leave(ctx workflow.Context, m shop.Move, email string) workflow.Future {
	var a *activities.Activities
	return workflow.ExecuteActivity(leaveOptions(ctx, m), a.RemoveKeyFromNode,
		activities.NodeKeyRef{UserID: s.state.UserID, NodeID: m.From, Email: email})
}

func leaveOptions(ctx workflow.Context, m shop.Move) workflow.Context {
	attempts := int32(leaveAttemptsDrain)
	if m.Mode == shop.EvacuateFailover {
		attempts = leaveAttemptsFailover
	}
	return on(ctx, shop.BulkheadXray, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Second, ScheduleToCloseTimeout: 20 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumAttempts: attempts},
	})
}

// leftNode waits for the removal and, if it happened, ends the key's
// sessions on that node, best effort.
func (s *subscription) leftNode(ctx workflow.Context, m shop.Move, email string, removed workflow.Future) {
	var a *activities.Activities
	opts := leaveOptions(ctx, m)
	if err := removed.Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Info("key left on the node the user moved off; reconcile removes it when the node is back",
			"node", m.From, "error", err)
		return
	}
	var ended activities.EndSessionsResult
	err := workflow.ExecuteActivity(opts, a.EndSessions, activities.EndSessionsInput{
		UserID: s.state.UserID, Email: email, NodeID: m.From,
	}).Get(ctx, &ended)
	if err != nil || ended.Unable != "" {
		workflow.GetLogger(ctx).Info("sessions on the node the user moved off not ended", "node", m.From,
			"error", err, "unable", ended.Unable)
	}
}

// requeueMove puts a move cut short by a continue-as-new back at the front.
func (s *subscription) requeueMove(err error, m shop.Move) {
	if errors.Is(err, errContinueAsNew) {
		s.moves = append([]shop.Move{m}, s.moves...)
	}
}
