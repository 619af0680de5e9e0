package workflows

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

// fakeNode answers the evacuation's activities as the database and the
// users' workflows would for the live users on one node: a user asked to
// move leaves the node at once, unless stuck says the moves do not land.
type fakeNode struct {
	env       *testsuite.TestWorkflowEnvironment
	users     map[int64]bool
	state     string
	healthyAt *time.Time
	stuck     bool
	pages     []activities.MovePageInput
	pagedAt   []time.Time
	asked     map[int64]int
	alerts    []activities.EvacuationAlert
}

func newEvacuationEnv(t *testing.T, users int) (*testsuite.TestWorkflowEnvironment, *fakeNode) {
	env := newTestEnv()
	a := &activities.Activities{}
	env.RegisterActivity(a)
	f := &fakeNode{env: env, users: map[int64]bool{}, state: store.NodeDraining, asked: map[int64]int{}}
	for id := int64(1); id <= int64(users); id++ {
		f.users[id] = true
	}
	env.OnActivity(a.EvacuationStatus, mock.Anything, mock.Anything).Return(func(context.Context, activities.NodeRef) (activities.EvacuationStatusResult, error) {
		return activities.EvacuationStatusResult{State: f.state, Users: len(f.users), HealthyAt: f.healthyAt}, nil
	})
	env.OnActivity(a.RequestMoves, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.MovePageInput) (activities.MovePageResult, error) {
		require.NotEmpty(t, in.MoveID)
		f.pages = append(f.pages, in)
		f.pagedAt = append(f.pagedAt, env.Now())
		var ids []int64
		for id := range f.users {
			if id > in.AfterUserID {
				ids = append(ids, id)
			}
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		ids = ids[:min(len(ids), in.Limit)]
		res := activities.MovePageResult{NextAfter: in.AfterUserID, Requested: len(ids), Done: len(ids) < in.Limit}
		for _, id := range ids {
			f.asked[id]++
			if !f.stuck {
				delete(f.users, id)
			}
			res.NextAfter = id
		}
		return res, nil
	})
	env.OnActivity(a.AlertAdminsEvacuation, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.EvacuationAlert) (activities.AdminAlertResult, error) {
		f.alerts = append(f.alerts, in)
		return activities.AdminAlertResult{Sent: 1}, nil
	})
	return env, f
}

var failoverAt = time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)

func evacuationResult(t *testing.T, env *testsuite.TestWorkflowEnvironment) shop.EvacuationState {
	t.Helper()
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var st shop.EvacuationState
	require.NoError(t, env.GetWorkflowResult(&st))
	return st
}

// A failover of 1,000 users at 1,500 a minute asks each once, in pages of
// 125 five seconds apart (the rate), and ends with the node empty, telling
// the admins at the start and the end with the counts.
func TestEvacuationFailoverKeepsTheRate(t *testing.T) {
	env, f := newEvacuationEnv(t, 1000)
	env.SetStartTime(failoverAt)
	env.ExecuteWorkflow(NodeEvacuation, shop.EvacuationInput{NodeID: 2, Node: "eu-2",
		Request: shop.EvacuationRequest{Mode: shop.EvacuateFailover, PerMinute: 1500, At: failoverAt}})
	st := evacuationResult(t, env)

	require.Equal(t, shop.EvacuationEmpty, st.Outcome)
	require.Equal(t, 1000, st.UsersAtFirst)
	require.Equal(t, 1000, st.Moved())
	require.Equal(t, 0, st.Left)
	require.Len(t, f.asked, 1000)
	for id, n := range f.asked {
		require.Equal(t, 1, n, "user %d asked %d times", id, n)
	}
	require.Len(t, f.pages, 8)
	for i, p := range f.pages {
		require.Equal(t, 125, p.Limit)
		require.Equal(t, shop.EvacuateFailover, p.Mode)
		require.Equal(t, shop.EvacuationMoveID(2, failoverAt), p.MoveID)
		if i > 0 {
			require.Equal(t, 5*time.Second, f.pagedAt[i].Sub(f.pagedAt[i-1]), "page %d", i)
		}
	}
	require.Len(t, f.alerts, 2)
	require.Equal(t, activities.EvacuationAlert{Message: activities.AlertEvacuationStarted, Node: "eu-2",
		Mode: shop.EvacuateFailover, Users: 1000, Left: 1000}, f.alerts[0])
	end := f.alerts[1]
	require.Equal(t, activities.AlertEvacuationEnded, end.Message)
	require.Equal(t, shop.EvacuationEmpty, end.Outcome)
	require.Equal(t, 1000, end.Moved)
	require.Equal(t, 0, end.Left)
}

// A failover stops moving users when the node answers its probe again;
// users already moved stay moved, the rest are not asked.
func TestEvacuationFailoverStopsWhenTheNodeRecovers(t *testing.T) {
	env, f := newEvacuationEnv(t, 1000)
	env.SetStartTime(failoverAt)
	env.RegisterDelayedCallback(func() {
		at := failoverAt.Add(12 * time.Second)
		f.healthyAt = &at
	}, 12*time.Second)
	env.ExecuteWorkflow(NodeEvacuation, shop.EvacuationInput{NodeID: 2, Node: "eu-2",
		Request: shop.EvacuationRequest{Mode: shop.EvacuateFailover, PerMinute: 1500, At: failoverAt}})
	st := evacuationResult(t, env)

	require.Equal(t, shop.EvacuationRecovered, st.Outcome)
	require.Len(t, f.pages, 3, "pages at 0, 5 and 10 s; the look at 15 s sees the node back")
	require.Equal(t, 375, st.Moved())
	require.Equal(t, 625, st.Left)
	require.Equal(t, shop.EvacuationRecovered, f.alerts[len(f.alerts)-1].Outcome)
}

// A probe answered before the failover does not end it.
func TestEvacuationFailoverIgnoresOlderAnswers(t *testing.T) {
	env, f := newEvacuationEnv(t, 10)
	before := failoverAt.Add(-5 * time.Minute)
	f.healthyAt = &before
	env.SetStartTime(failoverAt)
	env.ExecuteWorkflow(NodeEvacuation, shop.EvacuationInput{NodeID: 2, Node: "eu-2",
		Request: shop.EvacuationRequest{Mode: shop.EvacuateFailover, PerMinute: 1500, At: failoverAt}})
	require.Equal(t, shop.EvacuationEmpty, evacuationResult(t, env).Outcome)
}

// Moves that do not land (no node to go to) are asked again in later
// passes, and after a few passes that move nobody the evacuation stops
// and says so, rather than asking for ever.
func TestEvacuationStopsWhenNobodyCanMove(t *testing.T) {
	env, f := newEvacuationEnv(t, 30)
	f.stuck = true
	env.ExecuteWorkflow(NodeEvacuation, shop.EvacuationInput{NodeID: 2, Node: "eu-2",
		Request: shop.EvacuationRequest{Mode: shop.EvacuateDrain, PerMinute: 600}})
	st := evacuationResult(t, env)

	require.Equal(t, shop.EvacuationStalled, st.Outcome)
	require.Equal(t, 30, st.Left)
	require.Equal(t, evacuationIdlePasses, st.Passes)
	require.Len(t, f.asked, 30)
	for id, n := range f.asked {
		require.Equal(t, evacuationIdlePasses, n, "user %d", id)
	}
	require.Len(t, f.alerts, 1, "a drain tells the admins how it ended only")
	require.Equal(t, shop.EvacuationStalled, f.alerts[0].Outcome)
}

// An operator who enables the node again ends its evacuation.
func TestEvacuationStopsWhenReenabled(t *testing.T) {
	env, f := newEvacuationEnv(t, 100)
	env.RegisterDelayedCallback(func() { f.state = store.NodeEnabled }, time.Minute)
	env.ExecuteWorkflow(NodeEvacuation, shop.EvacuationInput{NodeID: 2, Node: "eu-2",
		Request: shop.EvacuationRequest{Mode: shop.EvacuateDrain, PerMinute: 60}})
	st := evacuationResult(t, env)
	require.Equal(t, shop.EvacuationCancelled, st.Outcome)
	require.InDelta(t, 60, st.Moved(), 5, "a minute at 60 a minute")
}

// A slow drain of a large node continues as new after a run's pages,
// carrying its cursor and counts; the state query shows the progress.
func TestEvacuationDrainContinuesAsNew(t *testing.T) {
	env, f := newEvacuationEnv(t, 5000)
	var mid shop.EvacuationState
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(shop.QueryEvacuation)
		require.NoError(t, err)
		require.NoError(t, v.Get(&mid))
	}, 10*time.Minute+time.Second)
	env.ExecuteWorkflow(NodeEvacuation, shop.EvacuationInput{NodeID: 2, Node: "eu-2",
		Request: shop.EvacuationRequest{Mode: shop.EvacuateDrain, PerMinute: 60}})

	require.True(t, env.IsWorkflowCompleted())
	var can *workflow.ContinueAsNewError
	require.ErrorAs(t, env.GetWorkflowError(), &can)
	require.Len(t, f.pages, evacuationStepsPerRun)
	require.Equal(t, 5, f.pages[0].Limit, "60 a minute: 5 users every 5 seconds")
	require.InDelta(t, 600, mid.Requested, 5, "10 minutes at 60 a minute")
	require.InDelta(t, 5000-mid.Requested, mid.Left, 5, "as of the last look")

	// The next run picks up where this one stopped.
	var next shop.EvacuationInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.NotNil(t, next.State)
	require.Equal(t, 1000, next.State.Requested)
	require.Equal(t, int64(1000), next.State.AfterUserID)
	require.InDelta(t, 4000, next.State.Left, 5, "as of the last look, before the last page")
	require.Equal(t, 1, next.State.Runs)
	require.Equal(t, shop.EvacuateDrain, next.Request.Mode)
}

// A failover of a node being drained speeds the drain up.
func TestEvacuationDrainBecomesFailover(t *testing.T) {
	env, f := newEvacuationEnv(t, 400)
	env.SetStartTime(failoverAt)
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(shop.SignalEvacuate, shop.EvacuationRequest{Mode: shop.EvacuateFailover, PerMinute: 1200, At: failoverAt.Add(time.Minute)})
	}, time.Minute)
	env.ExecuteWorkflow(NodeEvacuation, shop.EvacuationInput{NodeID: 2, Node: "eu-2",
		Request: shop.EvacuationRequest{Mode: shop.EvacuateDrain, PerMinute: 60}})
	st := evacuationResult(t, env)

	require.Equal(t, shop.EvacuationEmpty, st.Outcome)
	require.Equal(t, shop.EvacuateFailover, st.Mode)
	require.Equal(t, 1200, st.PerMinute)
	require.Equal(t, 5, f.pages[0].Limit)
	require.Equal(t, 100, f.pages[len(f.pages)-1].Limit)
	require.Less(t, env.Now().Sub(failoverAt), 2*time.Minute)
	require.Equal(t, activities.AlertEvacuationStarted, f.alerts[0].Message)
	require.Equal(t, shop.EvacuateFailover, f.alerts[0].Mode)
}
