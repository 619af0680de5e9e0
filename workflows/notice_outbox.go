package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/schedules"
	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

// NoticesSentMetric and NoticesDroppedMetric count the outbox's notices
// sent and dropped (moot after a renewal, refused by Telegram, given up
// after every attempt failed): vpnflow_notices_sent_total and
// vpnflow_notices_dropped_total on /metrics.
const (
	NoticesSentMetric    = "vpnflow_notices_sent"
	NoticesDroppedMetric = "vpnflow_notices_dropped"
)

// noticePruneLimit bounds the finished notices one run deletes.
const noticePruneLimit = 1000

// NoticeOutboxResult is what a drain run did.
type NoticeOutboxResult struct {
	Batches int
	Sent    int
	Dropped int // refused by Telegram, or given up
	Moot    int // the period was renewed before the notice left
	Retried int // sends that failed for now; claimed again later
	Pruned  int
}

// NoticeOutbox drains the notice outbox (schedules.NoticeOutboxID) for
// in.RunFor: it claims a batch, sends it at the worker's Telegram pace,
// records what became of each notice, and goes on; with nothing due it
// waits in one polling activity until something is. Notices are written
// in the transactions that make them true (an expiry, the revocation
// sweep), so in an expiry storm users are told at Telegram's pace, not at
// the pace their own workflows get to their expiries.
func NoticeOutbox(ctx workflow.Context, in schedules.NoticeInput) (NoticeOutboxResult, error) {
	in = in.WithDefaults()
	var a *activities.Activities
	var res NoticeOutboxResult
	log := workflow.GetLogger(ctx)
	end := workflow.Now(ctx).Add(in.RunFor)
	db := withDB(ctx)
	if err := workflow.ExecuteActivity(db, a.PruneNotices, noticePruneLimit).Get(ctx, &res.Pruned); err != nil {
		log.Warn("notice outbox: finished notices not pruned; the next run tries again", "error", err)
	}
	for workflow.Now(ctx).Before(end) {
		var c store.Claimed
		if err := workflow.ExecuteActivity(db, a.ClaimNotices, activities.ClaimNoticesInput{
			Limit: in.Batch, Lease: in.Lease,
		}).Get(ctx, &c); err != nil {
			return res, err
		}
		res.Moot += c.Moot
		workflow.GetMetricsHandler(ctx).Counter(NoticesDroppedMetric).Inc(int64(c.Moot))
		if len(c.Notices) == 0 {
			left := end.Sub(workflow.Now(ctx))
			if left <= 0 {
				break
			}
			var due bool
			if err := workflow.ExecuteActivity(awaitingNotices(ctx, left), a.AwaitNotices, left).Get(ctx, &due); err != nil {
				return res, err
			}
			if !due {
				break // waited out the run: the next run takes over
			}
			continue
		}
		res.Batches++
		var out store.NoticeOutcome
		if err := workflow.ExecuteActivity(sendingNotices(ctx), a.SendNotices, c.Notices).Get(ctx, &out); err != nil {
			// Their leases run out and a later claim takes them again.
			log.Warn("notice outbox: a batch was not sent; it is claimed again when its lease ends",
				"notices", len(c.Notices), "lease", in.Lease, "error", err)
			continue
		}
		if err := workflow.ExecuteActivity(db, a.FinishNotices, out).Get(ctx, nil); err != nil {
			return res, err
		}
		res.Sent += len(out.Sent)
		res.Dropped += len(out.Dropped)
		res.Retried += len(out.Retry)
		workflow.GetMetricsHandler(ctx).Counter(NoticesSentMetric).Inc(int64(len(out.Sent)))
		workflow.GetMetricsHandler(ctx).Counter(NoticesDroppedMetric).Inc(int64(len(out.Dropped)))
	}
	if res.Sent+res.Dropped+res.Moot > 0 {
		log.Info("notice outbox: drained", "batches", res.Batches, "sent", res.Sent, "dropped", res.Dropped,
			"moot", res.Moot, "retried", res.Retried)
	}
	return res, nil
}

// awaitingNotices is for the idle poll: on the run's own (operations)
// queue, not a bulkhead, because it holds its slot while it waits.
func awaitingNotices(ctx workflow.Context, wait time.Duration) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: wait + 15*time.Second,
		HeartbeatTimeout:    10 * time.Second,
		RetryPolicy:         backoff(10 * time.Second),
	})
}

// sendingNotices is for a batch of sends: long enough for a batch at a
// shared Telegram pace, with a heartbeat per send, and a few attempts
// (each skips what the last one sent).
func sendingNotices(ctx workflow.Context) workflow.Context {
	return on(ctx, shop.BulkheadTelegram, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumAttempts: 3},
	})
}
