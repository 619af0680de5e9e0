package workflows

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"

	"vpnflow/activities"
	"vpnflow/internal/shop"
)

// moveDB answers MoveSubscription as the database would for one user on
// node from: the first move of any id takes the row to node to, a
// repeated id answers as the first time, another id finds it moved.
type moveDB struct {
	from, to int16
	noNode   bool // no other node is enabled
	movedBy  string
	calls    []activities.MoveInput
	where    []string
	leave    []activities.NodeKeyRef
	leaveErr error
	ended    []activities.EndSessionsInput
}

func (m *moveDB) mock(se *subEnv) {
	se.OnActivity(se.a.MoveSubscription, mock.Anything, mock.Anything).Return(func(ctx context.Context, in activities.MoveInput) (activities.MoveResult, error) {
		m.calls = append(m.calls, in)
		m.where = append(m.where, where(ctx))
		switch {
		case m.movedBy == "" && m.noNode:
			return activities.MoveResult{To: m.from, NoNode: true, Live: true, Email: "tg42@vpnflow"}, nil
		case m.movedBy == "" && in.From == m.from:
			m.movedBy = in.MoveID
			fallthrough
		case m.movedBy == in.MoveID:
			return activities.MoveResult{Moved: true, To: m.to, Live: true, Email: "tg42@vpnflow"}, nil
		}
		return activities.MoveResult{To: m.to, Live: true, Email: "tg42@vpnflow"}, nil
	})
	se.OnActivity(se.a.RemoveKeyFromNode, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.NodeKeyRef) error {
		m.leave = append(m.leave, in)
		return m.leaveErr
	})
	se.OnActivity(se.a.EndSessions, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.EndSessionsInput) (activities.EndSessionsResult, error) {
		m.ended = append(m.ended, in)
		return activities.EndSessionsResult{Connections: 1}, nil
	})
}

func (se *subEnv) moveAt(after time.Duration, m shop.Move) {
	se.RegisterDelayedCallback(func() { se.SignalWorkflow(shop.SignalMove, m) }, after)
}

// A failover move: the row moves in a local step, the key is added on the
// new node and the user gets one "moved" key message; the dead node is
// tried once. Asked again (a later pass, another evacuation), the user is
// neither moved nor told again.
func TestSubscriptionMoveOffFailedNode(t *testing.T) {
	se := newSubEnv(t)
	db := &moveDB{from: 2, to: 3, leaveErr: errors.New("xray api 10.0.0.2:10085: connection refused")}
	db.mock(se)
	se.extendAt(time.Second, "purchase:a", 30*24*time.Hour)
	first := shop.Move{ID: "move:2:t1", From: 2, Mode: shop.EvacuateFailover}
	se.moveAt(time.Hour, first)
	se.moveAt(2*time.Hour, first)                                                            // the same request again
	se.moveAt(3*time.Hour, shop.Move{ID: "move:2:t2", From: 2, Mode: shop.EvacuateFailover}) // a later evacuation
	var st shop.SubscriptionState
	se.RegisterDelayedCallback(func() { st = se.state(t) }, 4*time.Hour)
	se.RegisterDelayedCallback(func() { se.CancelWorkflow() }, 5*time.Hour)

	se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

	require.Equal(t, []activities.MoveInput{
		{UserID: 42, From: 2, MoveID: "move:2:t1"}, {UserID: 42, From: 2, MoveID: "move:2:t2"},
	}, db.calls, "a repeated id is not even asked of the database")
	require.Equal(t, []string{"local", "local"}, db.where)
	require.Equal(t, 2, se.adds, "the key is added at activation and once on the new node")
	require.Equal(t, []string{"activated", activities.KeyReasonMoved}, se.keyWhy)
	require.Equal(t, []activities.NodeKeyRef{{UserID: 42, NodeID: 2, Email: "tg42@vpnflow"}}, db.leave,
		"a failed-over node is tried once")
	require.Empty(t, db.ended, "no sessions to end where the key could not be removed")
	require.Contains(t, st.Applied, "move:2:t1")
	require.Contains(t, st.Applied, "move:2:t2")
	require.True(t, st.InXray)
	require.Empty(t, se.notices)
}

// A drain move removes the key from the old node, which answers, and ends
// its sessions there, on that node.
func TestSubscriptionMoveOffDrainedNode(t *testing.T) {
	se := newSubEnv(t)
	db := &moveDB{from: 2, to: 3}
	db.mock(se)
	se.extendAt(time.Second, "purchase:a", 30*24*time.Hour)
	se.moveAt(time.Hour, shop.Move{ID: "move:2:t1", From: 2, Mode: shop.EvacuateDrain})
	se.RegisterDelayedCallback(func() { se.CancelWorkflow() }, 2*time.Hour)

	se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

	require.Len(t, db.leave, 1)
	require.Equal(t, []activities.EndSessionsInput{{UserID: 42, Email: "tg42@vpnflow", NodeID: 2}}, db.ended)
	require.Equal(t, []string{"activated", activities.KeyReasonMoved}, se.keyWhy)
}

// With nowhere to go the request is not used up: the evacuation's next
// pass asks again, and then the user moves.
func TestSubscriptionMoveWaitsForANode(t *testing.T) {
	se := newSubEnv(t)
	db := &moveDB{from: 2, to: 3, noNode: true}
	db.mock(se)
	se.extendAt(time.Second, "purchase:a", 30*24*time.Hour)
	m := shop.Move{ID: "move:2:t1", From: 2, Mode: shop.EvacuateDrain}
	se.moveAt(time.Hour, m)
	se.RegisterDelayedCallback(func() { db.noNode = false }, 90*time.Minute)
	se.moveAt(2*time.Hour, m)
	se.RegisterDelayedCallback(func() { se.CancelWorkflow() }, 3*time.Hour)

	se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

	require.Len(t, db.calls, 2)
	require.Equal(t, []string{"activated", activities.KeyReasonMoved}, se.keyWhy)
}

// An expired user's row moves (a renewal then goes to a live node), but
// no key moves and nobody is told.
func TestSubscriptionMoveOfExpiredUser(t *testing.T) {
	se := newSubEnv(t)
	db := &moveDB{from: 2, to: 3}
	db.mock(se)
	se.extendAt(time.Second, "purchase:a", time.Hour)
	se.moveAt(2*time.Hour, shop.Move{ID: "move:2:t1", From: 2, Mode: shop.EvacuateFailover})
	se.RegisterDelayedCallback(func() { se.CancelWorkflow() }, 3*time.Hour)

	se.ExecuteWorkflow(Subscription, shop.SubscriptionInput{UserID: 42, Policy: testPolicy})

	require.Len(t, db.calls, 1)
	require.Equal(t, 1, se.adds)
	require.Equal(t, []string{"activated"}, se.keyWhy)
	require.Empty(t, db.leave)
}
