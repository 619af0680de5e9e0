package shop

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
)

// The NodeEvacuation workflow moves the users off one Xray node: fast
// after a failover, gradually for an operator's drain. It asks each user's
// Subscription workflow to move (SignalMove), which re-places the user and
// moves the key; the evacuation only paces the requests and watches the
// node.

// EvacuationWorkflowType is the NodeEvacuation workflow's registered name.
const EvacuationWorkflowType = "NodeEvacuation"

// EvacuationWorkflowID is the ID of node's evacuation: one runs per node.
func EvacuationWorkflowID(node int16) string {
	return "node-evacuation/" + strconv.Itoa(int(node))
}

// Evacuation modes.
const (
	// EvacuateFailover: the node stopped answering its health probe; its
	// users move at the failover rate, and the evacuation stops if the
	// node answers again (users already moved stay where they are).
	EvacuateFailover = "failover"
	// EvacuateDrain: an operator drains the node; its users move at the
	// drain rate until none is left.
	EvacuateDrain = "drain"
)

// SignalEvacuate asks a running evacuation to go on in another mode: a
// failover of a node being drained speeds it up. A drain request to a
// failover changes nothing.
const SignalEvacuate = "evacuate"

// EvacuationRequest starts an evacuation, or changes a running one's mode
// (SignalEvacuate).
type EvacuationRequest struct {
	Mode      string // EvacuateFailover or EvacuateDrain
	PerMinute int    // users moved a minute
	// At is when the failover was decided (the node's failed_over_at):
	// probes the node answers after it end the failover. Zero for a drain.
	At time.Time
}

// Validate checks a request.
func (r EvacuationRequest) Validate() error {
	switch {
	case r.Mode != EvacuateFailover && r.Mode != EvacuateDrain:
		return fmt.Errorf("mode %q is neither %s nor %s", r.Mode, EvacuateFailover, EvacuateDrain)
	case r.PerMinute < 1:
		return fmt.Errorf("rate %d must be at least 1 a minute", r.PerMinute)
	case r.Mode == EvacuateFailover && r.At.IsZero():
		return errors.New("a failover needs its time")
	}
	return nil
}

// EvacuationInput starts (or continues) a node's evacuation.
type EvacuationInput struct {
	NodeID  int16
	Node    string // the node's name, for people
	Request EvacuationRequest
	State   *EvacuationState // nil on the first run
}

// EvacuationState is an evacuation's progress: its state query's answer,
// its result, and what a continue-as-new carries.
type EvacuationState struct {
	Mode      string
	PerMinute int
	StartedAt time.Time
	// FailoverAt is when the node was failed over (EvacuationRequest.At):
	// a probe it answers after this ends the failover. Zero for a drain.
	FailoverAt   time.Time
	UsersAtFirst int   // live users on the node when it started
	AfterUserID  int64 // keyset cursor of the current pass
	Passes       int   // passes over the node's users finished
	Requested    int   // move requests sent (a user may be asked again in a later pass)
	Left         int   // live users on the node at the last look
	Runs         int   // continue-as-new count
	Done         bool
	// Outcome says why it stopped: EvacuationEmpty, EvacuationRecovered
	// or EvacuationStalled.
	Outcome string `json:",omitempty"`
}

// Moved is how many users have left the node since the evacuation began
// (moved, or expired meanwhile).
func (s EvacuationState) Moved() int { return max(0, s.UsersAtFirst-s.Left) }

// Evacuation outcomes.
const (
	EvacuationEmpty     = "empty"     // no live user is left on the node
	EvacuationRecovered = "recovered" // a failover's node answers again
	EvacuationStalled   = "stalled"   // passes moved nobody (no node to move to); the rest stay
	EvacuationCancelled = "cancelled" // an operator enabled the node again
)

// EvacuationMoveID is the id of the moves one evacuation asks for: the
// node and when the evacuation began.
func EvacuationMoveID(node int16, started time.Time) string {
	return "move:" + strconv.Itoa(int(node)) + ":" + started.UTC().Format(time.RFC3339Nano)
}

// QueryEvacuation is the evacuation's state query.
const QueryEvacuation = "state"

// StartEvacuation starts node's evacuation, or hands the request to the
// one already running (a failover speeds up a drain). It returns once
// Temporal has accepted it. The evacuation runs on the operations queue
// beside taskQueue (OpsQueue), like the scheduled workflows: the moves it
// asks for fill the users' queue, and its own pacing must not wait
// behind them.
func StartEvacuation(ctx context.Context, c client.Client, taskQueue string, node int16, name string, req EvacuationRequest) error {
	if err := req.Validate(); err != nil {
		return fmt.Errorf("evacuate node %s: %w", name, err)
	}
	_, err := c.SignalWithStartWorkflow(ctx, EvacuationWorkflowID(node), SignalEvacuate, req, client.StartWorkflowOptions{
		ID: EvacuationWorkflowID(node), TaskQueue: OpsQueue(taskQueue),
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
	}, EvacuationWorkflowType, EvacuationInput{NodeID: node, Node: name, Request: req})
	if err != nil {
		return fmt.Errorf("evacuate node %s (%s): %w", name, req.Mode, err)
	}
	return nil
}

// Move asks a user's Subscription workflow to move the user off a node
// (SignalMove). A user no longer on it is not moved and not told.
type Move struct {
	// ID names the evacuation asking (EvacuationMoveID): a workflow
	// applies each id once, however often it is asked.
	ID   string
	From int16
	Mode string // EvacuateFailover or EvacuateDrain: what the user is told
}
