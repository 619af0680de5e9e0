package workflows

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/notice"
	"vpnflow/internal/schedules"
	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

// outboxEnv is a NoticeOutbox run against an outbox held in memory: claims
// hand out its notices in batches, sends and finishes are recorded.
type outboxEnv struct {
	claims   int
	pending  []store.OutboxNotice
	moot     int
	failing  int64 // a batch holding this notice fails every attempt as a whole
	attempts int   // SendNotices attempts on the failing batch
	// overlap, when set, makes the send of the batch that starts with
	// overlap[0] wait (up to 1.5 seconds) for the send of the one that
	// starts with overlap[1] to start, and records whether it did.
	overlap    []int64
	started    chan struct{}
	overlapped bool
	sentOn     []string
	finished   []store.NoticeOutcome
	awaits     []time.Duration
	dueAfter   int // AwaitNotices finds notices due this many times, then waits out the run
	result     NoticeOutboxResult
	version    *workflow.Version // the run's outboxDepthChange version (nil: the newest)
	// sweeps is the run's outboxRemindersChange version (nil: the newest).
	sweeps *workflow.Version
	// claimFrom and awaitFrom record each claim's and each poll's
	// RemindFrom. A claim with one reports that it swept a second further
	// (or, while sweepFails lasts, that its sweep failed), and the first
	// such claim that reminded reminders were written.
	claimFrom, awaitFrom []time.Time
	reminded             int
	sweepFails           int // this many sweeping claims report their sweep failed
	awaitedOld           int // polls through AwaitNotices, the activity before the sweep
	// mu guards the fields above against the activities, two of which
	// can run at once.
	mu sync.Mutex
}

func (o *outboxEnv) register(t *testing.T) (*activities.Activities, func(...any)) {
	env := newTestEnv()
	if o.version != nil {
		env.OnGetVersion(outboxDepthChange, workflow.DefaultVersion, outboxOffset).Return(*o.version)
	}
	if o.sweeps != nil {
		env.OnGetVersion(outboxRemindersChange, workflow.DefaultVersion, outboxReminderSweep).Return(*o.sweeps)
	}
	a := &activities.Activities{}
	env.RegisterActivity(a)
	env.OnActivity(a.PruneNotices, mock.Anything, mock.Anything).Return(3, nil)
	env.OnActivity(a.ClaimNotices, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.ClaimNoticesInput) (store.Claimed, error) {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.claims++
		n := min(in.Limit, len(o.pending))
		c := store.Claimed{Notices: o.pending[:n], Moot: o.moot}
		o.pending, o.moot = o.pending[n:], 0
		o.claimFrom = append(o.claimFrom, in.RemindFrom)
		switch {
		case !in.RemindFrom.IsZero() && o.sweepFails > 0:
			o.sweepFails--
			c.SweepFailed = "reminders refused"
		case !in.RemindFrom.IsZero():
			c.SweptTo = in.RemindFrom.Add(time.Second)
			c.Reminded, o.reminded = o.reminded, 0
		}
		return c, nil
	})
	env.OnActivity(a.SendNotices, mock.Anything, mock.Anything).Return(func(ctx context.Context, batch []store.OutboxNotice) (store.NoticeOutcome, error) {
		if slices.ContainsFunc(batch, func(n store.OutboxNotice) bool { return n.ID == o.failing }) {
			o.mu.Lock()
			o.attempts++
			o.mu.Unlock()
			return store.NoticeOutcome{}, errors.New("telegram hung")
		}
		if len(o.overlap) == 2 {
			switch batch[0].ID {
			case o.overlap[0]:
				select {
				case <-o.started:
					o.mu.Lock()
					o.overlapped = true
					o.mu.Unlock()
				case <-time.After(1500 * time.Millisecond): // under the test environment's 3 s
				}
			case o.overlap[1]:
				close(o.started)
			}
		}
		o.mu.Lock()
		o.sentOn = append(o.sentOn, activity.GetInfo(ctx).TaskQueue)
		o.mu.Unlock()
		out := store.NoticeOutcome{Dropped: map[int64]string{}}
		for _, n := range batch {
			if n.UserID == 13 {
				out.Dropped[n.ID] = "refused: blocked"
				continue
			}
			out.Sent = append(out.Sent, n.ID)
		}
		return out, nil
	})
	env.OnActivity(a.FinishNotices, mock.Anything, mock.Anything).Return(func(_ context.Context, out store.NoticeOutcome) error {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.finished = append(o.finished, out)
		return nil
	})
	await := func(in activities.AwaitDueInput) (bool, error) {
		o.mu.Lock()
		defer o.mu.Unlock()
		o.awaits = append(o.awaits, in.Wait)
		o.awaitFrom = append(o.awaitFrom, in.RemindFrom)
		if o.dueAfter > 0 {
			o.dueAfter--
			o.pending = append(o.pending, store.OutboxNotice{ID: 99, UserID: 99, Notice: notice.Expired("1m")})
			return true, nil
		}
		return false, nil
	}
	env.OnActivity(a.AwaitNotices, mock.Anything, mock.Anything).Return(func(_ context.Context, wait time.Duration) (bool, error) {
		o.mu.Lock()
		o.awaitedOld++
		o.mu.Unlock()
		return await(activities.AwaitDueInput{Wait: wait})
	})
	env.OnActivity(a.AwaitDue, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.AwaitDueInput) (bool, error) {
		return await(in)
	})
	return a, func(args ...any) {
		env.ExecuteWorkflow(NoticeOutbox, args...)
		require.NoError(t, env.GetWorkflowError())
		var res NoticeOutboxResult
		require.NoError(t, env.GetWorkflowResult(&res))
		o.result = res
	}
}

func notices(ids ...int64) []store.OutboxNotice {
	var out []store.OutboxNotice
	for _, id := range ids {
		out = append(out, store.OutboxNotice{ID: id, UserID: id, Notice: notice.Expired("1m")})
	}
	return out
}

// A run claims the outbox in batches of in.Batch, sends each batch on the
// Telegram bulkhead, records each outcome, and waits for more in one poll;
// a notice written while it waits is sent in the same run.
func TestNoticeOutboxDrainsInBatches(t *testing.T) {
	o := &outboxEnv{pending: notices(11, 12, 13, 14, 15), moot: 1, dueAfter: 1}
	_, run := o.register(t)
	run(schedules.NoticeInput{Batch: 2})

	require.Equal(t, NoticeOutboxResult{Batches: 4, Sent: 5, Dropped: 1, Moot: 1, Pruned: 3}, o.result)
	require.Len(t, o.finished, 4)
	require.Equal(t, []int64{11}, o.finished[0].Sent, "claimed with nothing in flight: half a batch")
	require.Equal(t, []int64{12}, o.finished[1].Sent)
	require.Equal(t, map[int64]string{13: "refused: blocked"}, o.finished[1].Dropped)
	require.Equal(t, []int64{99}, o.finished[3].Sent, "the notice written while the run waited")
	for _, q := range o.sentOn {
		require.Equal(t, shop.BulkheadQueue("default-test-taskqueue", shop.BulkheadTelegram), q)
	}
	require.Len(t, o.awaits, 2, "one wait found the late notice, the second waited out the run")
	require.Equal(t, schedules.NoticeEvery, o.awaits[0], "the run waits at most its own length")
}

// A batch whose sends fail as a whole is not finished: its leases run
// out and a later claim takes it again; the run goes on with the rest.
func TestNoticeOutboxLeavesAFailedBatchToItsLease(t *testing.T) {
	o := &outboxEnv{pending: notices(21, 22, 23), failing: 21}
	_, run := o.register(t)
	run(schedules.NoticeInput{Batch: 2})

	require.Equal(t, 3, o.attempts, "the failing batch was tried as often as its retry policy allows")
	require.Equal(t, 2, o.result.Batches)
	require.Equal(t, 2, o.result.Sent, "the first batch failed three attempts; the second was sent")
	require.Len(t, o.finished, 1)
	require.Equal(t, []int64{22, 23}, o.finished[0].Sent)
}

// Two batches are sent at once, so Telegram's pace always has a send
// waiting: the first batch's sends are still going when the second's
// start, and the outcomes are recorded in order. From outboxOffset the
// first batch, claimed with nothing in flight, is half a batch, so the two
// end apart. A run recorded before outboxTwoInFlight replays with one
// batch in flight: the first is done before the second is sent.
func TestNoticeOutboxSendsTwoBatchesAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name       string
		version    workflow.Version
		overlap    []int64 // the first two batches' first notices
		overlapped bool
		batches    [][]int64
	}{
		{"offset", outboxOffset, []int64{31, 32}, true, [][]int64{{31}, {32, 33}, {34, 35}}},
		{"two in flight", outboxTwoInFlight, []int64{31, 33}, true, [][]int64{{31, 32}, {33, 34}, {35}}},
		{"before two in flight", workflow.DefaultVersion, []int64{31, 33}, false, [][]int64{{31, 32}, {33, 34}, {35}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := &outboxEnv{pending: notices(31, 32, 33, 34, 35), overlap: tc.overlap, started: make(chan struct{}), version: &tc.version}
			_, run := o.register(t)
			run(schedules.NoticeInput{Batch: 2})

			require.Equal(t, tc.overlapped, o.overlapped, "the second batch's sends started while the first's were going")
			require.Equal(t, NoticeOutboxResult{Batches: 3, Sent: 5, Pruned: 3}, o.result)
			require.Len(t, o.finished, len(tc.batches))
			for i, b := range tc.batches {
				require.Equal(t, b, o.finished[i].Sent, "batch %d", i)
			}
		})
	}
}

// From outboxReminderSweep on, every claim and every idle poll carry the
// reminder sweep's window: the first claim sweeps from reminderLookback
// before the run began, and each later claim or poll from where the last
// claim's sweep ended. The reminders a claim wrote are counted. A run
// recorded before the sweep claims and polls as it did, without one.
func TestNoticeOutboxSweepsRemindersFromWhereItsLastClaimEnded(t *testing.T) {
	t.Run("sweeping", func(t *testing.T) {
		o := &outboxEnv{pending: notices(41, 42, 43), dueAfter: 1, reminded: 7}
		_, run := o.register(t)
		run(schedules.NoticeInput{Batch: 2})

		require.Equal(t, 7, o.result.Reminded)
		require.GreaterOrEqual(t, len(o.claimFrom), 3)
		start := o.claimFrom[0].Add(reminderLookback)
		require.False(t, o.claimFrom[0].IsZero())
		for i, from := range o.claimFrom {
			require.Equal(t, start.Add(time.Duration(i)*time.Second-reminderLookback), from, "claim %d sweeps from where claim %d ended", i, i-1)
		}
		require.Len(t, o.awaitFrom, 2)
		require.Zero(t, o.awaitedOld)
		for _, from := range o.awaitFrom {
			require.False(t, from.IsZero(), "the idle poll looks for due reminders too")
		}
	})
	t.Run("a sweep that failed", func(t *testing.T) {
		o := &outboxEnv{pending: notices(41, 42, 43), sweepFails: 1}
		_, run := o.register(t)
		run(schedules.NoticeInput{Batch: 2})

		require.Equal(t, 3, o.result.Sent, "the claims went on")
		require.GreaterOrEqual(t, len(o.claimFrom), 3)
		require.Equal(t, o.claimFrom[0], o.claimFrom[1], "the window of the failed sweep is swept again")
		require.Equal(t, o.claimFrom[1].Add(time.Second), o.claimFrom[2])
	})
	t.Run("before the sweep", func(t *testing.T) {
		v := workflow.DefaultVersion
		o := &outboxEnv{pending: notices(41, 42, 43), dueAfter: 1, reminded: 7, sweeps: &v}
		_, run := o.register(t)
		run(schedules.NoticeInput{Batch: 2})

		require.Zero(t, o.result.Reminded)
		for _, from := range o.claimFrom {
			require.True(t, from.IsZero(), "no sweep in a run recorded before it")
		}
		require.Equal(t, 2, o.awaitedOld, "the idle poll is the old activity")
	})
}
