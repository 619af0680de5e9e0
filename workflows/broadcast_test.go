package workflows

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/shop"
)

// fakeRecipients answers SendBroadcastPage as the database would for users
// 1..n, every one of them reached.
type fakeRecipients struct {
	n       int64
	pages   []activities.BroadcastPageInput
	reports []activities.BroadcastReport
	finish  []activities.FinishBroadcastInput
	fail    int // fail this many page attempts first, as a 429 would
}

func (f *fakeRecipients) page(_ context.Context, in activities.BroadcastPageInput) (activities.BroadcastPageResult, error) {
	if f.fail > 0 {
		f.fail--
		return activities.BroadcastPageResult{}, temporal.NewApplicationErrorWithOptions("429", "RateLimited",
			temporal.ApplicationErrorOptions{NextRetryDelay: 3 * time.Second})
	}
	f.pages = append(f.pages, in)
	res := activities.BroadcastPageResult{LastUserID: in.AfterUserID}
	for id := in.AfterUserID + 1; id <= f.n && res.Handled < in.Limit; id++ {
		res.Handled++
		res.LastUserID = id
		if id%10 == 0 {
			res.Skipped++ // blocked the bot
		} else {
			res.Sent++
		}
	}
	res.End = res.Handled < in.Limit
	res.LastSentAt = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(res.LastUserID) * time.Second)
	return res, nil
}

func newBroadcastEnv(t *testing.T, f *fakeRecipients) *testsuite.TestWorkflowEnvironment {
	env := newTestEnv()
	a := &activities.Activities{}
	env.RegisterActivity(a)
	env.OnActivity(a.CreateBroadcast, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.BroadcastStart) (activities.BroadcastStarted, error) {
		require.Equal(t, "hello", in.Text)
		return activities.BroadcastStarted{Total: int(f.n)}, nil
	})
	env.OnActivity(a.SendBroadcastPage, mock.Anything, mock.Anything).Return(f.page)
	env.OnActivity(a.ReportBroadcast, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.BroadcastReport) (activities.BroadcastReportResult, error) {
		f.reports = append(f.reports, in)
		return activities.BroadcastReportResult{MessageID: 77}, nil
	})
	env.OnActivity(a.FinishBroadcast, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.FinishBroadcastInput) error {
		f.finish = append(f.finish, in)
		return nil
	})
	return env
}

func TestBroadcastPagesEveryoneOnceAndReports(t *testing.T) {
	f := &fakeRecipients{n: 230, fail: 1}
	env := newBroadcastEnv(t, f)
	env.ExecuteWorkflow(Broadcast, shop.BroadcastInput{BroadcastID: "b1", AdminID: 1, Text: "hello"})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var st shop.BroadcastState
	require.NoError(t, env.GetWorkflowResult(&st))

	require.Equal(t, 230, st.Total)
	require.Equal(t, 207, st.Sent)
	require.Equal(t, 23, st.Skipped)
	require.True(t, st.Done)
	// The cursor moves page by page, and each page starts one interval
	// after the previous page's last send.
	var afters []int64
	interval := time.Second / DefaultBroadcastRate
	for i, p := range f.pages {
		afters = append(afters, p.AfterUserID)
		require.Equal(t, defaultBroadcastPage, p.Limit)
		require.Equal(t, interval, p.Interval)
		if i > 0 {
			want := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(p.AfterUserID)*time.Second + interval)
			require.Equal(t, want, p.NotBefore)
		}
	}
	require.Equal(t, []int64{0, 50, 100, 150, 200}, afters)

	// Started, then progress edits of message 77, then a final edit and
	// a separate "done" message.
	require.Equal(t, activities.ReportStarted, f.reports[0].Stage)
	require.Equal(t, 0, f.reports[0].MessageID)
	last := f.reports[len(f.reports)-1]
	require.Equal(t, activities.ReportDone, last.Stage)
	require.Equal(t, 207, last.Sent)
	require.Equal(t, 23, last.Skipped)
	progress := 0
	for _, r := range f.reports[1 : len(f.reports)-1] {
		require.Equal(t, activities.ReportProgress, r.Stage)
		require.Equal(t, 77, r.MessageID)
		progress++
	}
	require.GreaterOrEqual(t, progress, 4)
	require.Equal(t, []activities.FinishBroadcastInput{{BroadcastID: "b1", Sent: 207, Skipped: 23}}, f.finish)
}

func TestBroadcastContinuesAsNewWithItsCursor(t *testing.T) {
	f := &fakeRecipients{n: broadcastPagesPerRun + 20}
	env := newBroadcastEnv(t, f)
	env.ExecuteWorkflow(Broadcast, shop.BroadcastInput{BroadcastID: "b2", AdminID: 1, Text: "hello", PageSize: 1})
	require.True(t, env.IsWorkflowCompleted())
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(env.GetWorkflowError(), &can), "error: %v", env.GetWorkflowError())
	require.Len(t, f.pages, broadcastPagesPerRun)

	var next shop.BroadcastInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.NotNil(t, next.State)
	require.Equal(t, int64(broadcastPagesPerRun), next.State.AfterUserID)
	require.Equal(t, broadcastPagesPerRun, next.State.Handled())
	require.Equal(t, 77, next.State.ProgressMessageID)
	require.Empty(t, next.Text, "the text stays in the database, not in every run's input")
	require.Equal(t, 1, next.PageSize)

	// The next run picks up after the cursor and does not start over.
	f2 := &fakeRecipients{n: f.n}
	env2 := newBroadcastEnv(t, f2)
	env2.ExecuteWorkflow(Broadcast, next)
	require.NoError(t, env2.GetWorkflowError())
	var st shop.BroadcastState
	require.NoError(t, env2.GetWorkflowResult(&st))
	require.Equal(t, int64(broadcastPagesPerRun), f2.pages[0].AfterUserID)
	require.Equal(t, int(f.n), st.Handled())
	require.NotEqual(t, activities.ReportStarted, f2.reports[0].Stage, "a continued run does not announce the start again")
}

func TestBroadcastRefusesBadInput(t *testing.T) {
	env := newBroadcastEnv(t, &fakeRecipients{})
	env.ExecuteWorkflow(Broadcast, shop.BroadcastInput{BroadcastID: "b3", AdminID: 1})
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(env.GetWorkflowError(), &appErr))
	require.Equal(t, "InvalidInput", appErr.Type())
}
