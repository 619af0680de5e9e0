package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

// NodeEvacuation moves the users off one node (issue 12, failover and
// drain). It pages the live users still on the node and asks each one's
// Subscription workflow to move (which re-places the user, adds the key
// on the new node, tells the user and removes the old key): the moves
// themselves run in the users' workflows, at once, and this workflow only
// paces the requests at the configured rate and watches the node. It stops
// when nobody is left on the node; a failover also stops when the node
// answers its probe again (users already moved stay), and any evacuation
// when an operator enables the node again, or when passes over the node
// move nobody (no other node to move to).
func NodeEvacuation(ctx workflow.Context, in shop.EvacuationInput) (shop.EvacuationState, error) {
	if in.NodeID <= 0 {
		return shop.EvacuationState{}, temporal.NewNonRetryableApplicationError("node id must be positive", "InvalidInput", nil)
	}
	if err := in.Request.Validate(); err != nil {
		return shop.EvacuationState{}, temporal.NewNonRetryableApplicationError(err.Error(), "InvalidInput", nil)
	}
	e := &evacuation{in: in, requests: workflow.GetSignalChannel(ctx, shop.SignalEvacuate)}
	if in.State != nil {
		e.st = *in.State
	} else {
		e.st = shop.EvacuationState{Mode: in.Request.Mode, PerMinute: in.Request.PerMinute,
			StartedAt: workflow.Now(ctx), FailoverAt: in.Request.At}
	}
	if err := workflow.SetQueryHandler(ctx, shop.QueryEvacuation, func() (shop.EvacuationState, error) {
		return e.st, nil
	}); err != nil {
		return e.st, err
	}
	return e.run(ctx)
}

// Pacing of an evacuation.
const (
	// evacuationTick is the requests of how long one page holds: a page
	// of PerMinute/12 users every 5 seconds.
	evacuationTick = 5 * time.Second
	// evacuationSettle is how long a finished pass waits for the moves it
	// asked for before looking at the node again.
	evacuationSettle = 10 * time.Second
	// evacuationIdlePasses: after this many passes in a row that moved
	// nobody, the rest cannot move (no node to go to) and it stops.
	evacuationIdlePasses = 3
	// evacuationStepsPerRun bounds a run's history (a page and a wait
	// are a step, about ten events): a drain of a large node at a slow
	// rate continues as new after this many.
	evacuationStepsPerRun = 200
)

type evacuation struct {
	in       shop.EvacuationInput
	st       shop.EvacuationState
	requests workflow.ReceiveChannel
	steps    int // this run's pages and waits
}

// pageSize is the requests of one tick at the current rate.
func (e *evacuation) pageSize() int {
	return min(max(1, e.st.PerMinute*int(evacuationTick/time.Second)/60), store.MaxPage)
}

// pace is how long to wait after asking n users, to keep to the rate.
func (e *evacuation) pace(n int) time.Duration {
	return time.Duration(n) * time.Minute / time.Duration(e.st.PerMinute)
}

func (e *evacuation) run(ctx workflow.Context) (shop.EvacuationState, error) {
	log := workflow.GetLogger(ctx)
	first := e.in.State == nil
	if first {
		st, err := e.status(ctx)
		if err != nil {
			return e.st, err
		}
		e.st.UsersAtFirst, e.st.Left = st.Users, st.Users
		if e.st.Mode == shop.EvacuateFailover {
			e.alert(ctx, activities.AlertEvacuationStarted)
		}
		log.Info("evacuation started", "node", e.in.Node, "mode", e.st.Mode, "users", st.Users, "per_minute", e.st.PerMinute)
	}
	leftAtPass, idle := e.st.Left, 0
	for {
		e.receive(ctx)
		prev := e.st.Left
		st, err := e.status(ctx)
		if err != nil {
			return e.st, err
		}
		e.st.Left = st.Users
		if outcome := e.outcome(st); outcome != "" {
			return e.finish(ctx, outcome), nil
		}
		if e.st.AfterUserID == 0 && e.st.Passes > 0 {
			// A pass is over. While its moves are still landing, wait:
			// a new pass would only ask the same users again.
			if e.st.Left < prev {
				if err := e.wait(ctx, evacuationSettle); err != nil {
					return e.st, err
				}
				if can := e.continueAsNew(ctx); can != nil {
					return e.st, can
				}
				continue
			}
			// They have landed: a pass that moved nobody means the rest
			// have nowhere to go.
			if e.st.Left < leftAtPass {
				idle = 0
			} else if idle++; idle >= evacuationIdlePasses {
				return e.finish(ctx, shop.EvacuationStalled), nil
			}
			leftAtPass = e.st.Left
		}
		var a *activities.Activities
		var page activities.MovePageResult
		if err := workflow.ExecuteActivity(withMoveRequests(ctx), a.RequestMoves, activities.MovePageInput{
			NodeID: e.in.NodeID, Mode: e.st.Mode, MoveID: shop.EvacuationMoveID(e.in.NodeID, e.st.StartedAt),
			AfterUserID: e.st.AfterUserID, Limit: e.pageSize(),
		}).Get(ctx, &page); err != nil {
			return e.st, err
		}
		e.st.Requested += page.Requested
		e.st.AfterUserID = page.NextAfter
		wait := e.pace(page.Requested)
		if page.Done {
			e.st.Passes++
			e.st.AfterUserID = 0
			wait = max(wait, evacuationSettle)
		}
		if err := e.wait(ctx, wait); err != nil {
			return e.st, err
		}
		if can := e.continueAsNew(ctx); can != nil {
			return e.st, can
		}
	}
}

// wait waits d, or less if a request changes the mode or rate.
func (e *evacuation) wait(ctx workflow.Context, d time.Duration) error {
	e.steps++
	_, err := workflow.AwaitWithTimeout(ctx, d, func() bool { return e.requests.Len() > 0 })
	return err
}

// continueAsNew returns the continue-as-new error once a run has taken
// enough steps (or the server suggests it), nil before.
func (e *evacuation) continueAsNew(ctx workflow.Context) error {
	if e.steps < evacuationStepsPerRun && !workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
		return nil
	}
	e.receive(ctx)
	e.st.Runs++
	st := e.st
	return workflow.NewContinueAsNewError(ctx, NodeEvacuation, shop.EvacuationInput{
		NodeID: e.in.NodeID, Node: e.in.Node, State: &st,
		Request: shop.EvacuationRequest{Mode: st.Mode, PerMinute: st.PerMinute, At: st.FailoverAt},
	})
}

// outcome says why the evacuation should stop now, or "".
func (e *evacuation) outcome(st activities.EvacuationStatusResult) string {
	switch {
	case st.Users == 0:
		return shop.EvacuationEmpty
	case st.State == store.NodeEnabled:
		return shop.EvacuationCancelled
	case e.st.Mode == shop.EvacuateFailover && st.HealthyAt != nil && st.HealthyAt.After(e.st.FailoverAt):
		return shop.EvacuationRecovered
	}
	return ""
}

// receive applies the requests that arrived: a failover overrides a
// drain (faster, and it stops when the node recovers); a request of the
// same mode takes its rate; a drain never slows a failover.
func (e *evacuation) receive(ctx workflow.Context) {
	for {
		var r shop.EvacuationRequest
		if !e.requests.ReceiveAsync(&r) {
			return
		}
		if r.Validate() != nil || (r.Mode == shop.EvacuateDrain && e.st.Mode == shop.EvacuateFailover) {
			continue
		}
		upgraded := r.Mode != e.st.Mode
		e.st.Mode, e.st.PerMinute = r.Mode, r.PerMinute
		if r.Mode == shop.EvacuateFailover {
			e.st.FailoverAt = r.At
		}
		if upgraded {
			e.alert(ctx, activities.AlertEvacuationStarted)
		}
	}
}

func (e *evacuation) status(ctx workflow.Context) (activities.EvacuationStatusResult, error) {
	var a *activities.Activities
	var st activities.EvacuationStatusResult
	err := runLocal(ctx, withDB(ctx), a.EvacuationStatus, activities.NodeRef{NodeID: e.in.NodeID}, &st)
	return st, err
}

// finish records the outcome and tells the admins.
func (e *evacuation) finish(ctx workflow.Context, outcome string) shop.EvacuationState {
	e.st.Done, e.st.Outcome = true, outcome
	e.alert(ctx, activities.AlertEvacuationEnded)
	workflow.GetLogger(ctx).Info("evacuation ended", "node", e.in.Node, "mode", e.st.Mode, "outcome", outcome,
		"moved", e.st.Moved(), "left", e.st.Left, "requested", e.st.Requested)
	return e.st
}

// alert tells the admins; a failure is logged (the state query and the
// node list have the news). The start is told without waiting: a hung
// Telegram must not hold up the moves.
func (e *evacuation) alert(ctx workflow.Context, message string) {
	if message == activities.AlertEvacuationStarted {
		workflow.Go(ctx, func(ctx workflow.Context) { e.tell(ctx, message) })
		return
	}
	e.tell(ctx, message)
}

func (e *evacuation) tell(ctx workflow.Context, message string) {
	var a *activities.Activities
	in := activities.EvacuationAlert{
		Message: message, Node: e.in.Node, Mode: e.st.Mode, Users: e.st.UsersAtFirst,
		Moved: e.st.Moved(), Left: e.st.Left, Outcome: e.st.Outcome,
		Minutes: workflow.Now(ctx).Sub(e.st.StartedAt).Minutes(),
	}
	if err := workflow.ExecuteActivity(withAlert(ctx), a.AlertAdminsEvacuation, in).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Warn("evacuation: admins not told", "message", message, "error", err)
	}
}

// withMoveRequests is for one page of move requests: signals to up to a
// page of workflows, a few seconds; retried, since a page asked twice
// moves nobody twice.
func withMoveRequests(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         backoff(30 * time.Second),
	})
}
