package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"vpnflow/internal/shop"
)

// Each kind of activity does one short thing, so each gets a StartToClose
// timeout just above what that thing can take and a retry policy that fits
// its failures. Nothing waits on a shared pool for long: a stuck call times
// out and is retried, visibly, in the workflow's history.
//
// Activities that call Xray, Telegram, Crypto Pay or only the database run
// on that system's bulkhead task queue (shop.Bulkheads), where the worker
// limits how many run at once: a hung Telegram fills the Telegram slots
// and nothing else.

// versionBulkheads: before it, every activity ran on the workflows' task
// queue. The first activity a run schedules after it records the marker,
// so a run already going switches on its next activity.
const versionBulkheads = "activity-bulkheads"

// on returns ctx with opts for activities of bulkhead b.
func on(ctx workflow.Context, b shop.Bulkhead, opts workflow.ActivityOptions) workflow.Context {
	if version(ctx, versionBulkheads, 1) >= 1 {
		opts.TaskQueue = shop.BulkheadQueue(shop.BaseQueue(workflow.GetInfo(ctx).TaskQueueName), b)
	}
	return workflow.WithActivityOptions(ctx, opts)
}

// withDB is for one database transaction. Postgres outages are retried
// without limit: a paid purchase must never be dropped because the database
// restarted.
func withDB(ctx workflow.Context) workflow.Context {
	return on(ctx, shop.BulkheadDB, workflow.ActivityOptions{
		StartToCloseTimeout: 15 * time.Second,
		RetryPolicy:         backoff(time.Minute),
	})
}

// withXray is for one Xray API call, retried until Xray answers: the user
// has paid, so the key must eventually be added (or removed).
func withXray(ctx workflow.Context) workflow.Context {
	return on(ctx, shop.BulkheadXray, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         backoff(30 * time.Second),
	})
}

// withCryptoPay is for one Crypto Pay call. Invoice creation gives up after
// a few minutes so the user is told to try again instead of waiting forever.
func withCryptoPay(ctx workflow.Context) workflow.Context {
	return on(ctx, shop.BulkheadCryptoPay, workflow.ActivityOptions{
		StartToCloseTimeout:    20 * time.Second,
		ScheduleToCloseTimeout: 3 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    2 * time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    30 * time.Second,
		},
	})
}

// withTelegram is for one Bot API call. Telegram has no idempotency key, so a
// retry after a lost response can duplicate a message; that is accepted, but
// retries are bounded so a user who blocked the bot does not keep a workflow
// busy.
func withTelegram(ctx workflow.Context) workflow.Context {
	return on(ctx, shop.BulkheadTelegram, workflow.ActivityOptions{
		StartToCloseTimeout:    15 * time.Second,
		ScheduleToCloseTimeout: 10 * time.Minute,
		RetryPolicy:            backoff(time.Minute),
	})
}

// withConfig is for reading the worker's configuration: quick, and given
// up after a minute, because the caller has a fallback.
func withConfig(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Second, ScheduleToCloseTimeout: time.Minute,
		RetryPolicy: backoff(10 * time.Second),
	})
}

// withTemporal is for an activity that signals another workflow.
func withTemporal(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         backoff(time.Minute),
	})
}

// backoff retries without limit, from one second doubling up to max: the
// shape every activity here uses, differing only in how long the longest
// wait may be.
func backoff(max time.Duration) *temporal.RetryPolicy {
	return &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: max}
}
