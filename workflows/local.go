package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// A local activity runs in the worker that runs the workflow task, while
// the task waits, and leaves one marker event in the history. An activity
// leaves three, and its result wakes the workflow in a workflow task of
// three more: for a step of a few milliseconds the server's work is all
// overhead. Lean runs (leanLocal) run their short database transactions
// locally: storing a purchase, its invoice, its credit, its expiry or
// failure, a trial, the auto-renewal switch.
//
// Local activities bypass the bulkhead queues, so nothing else runs so:
// not a call to Crypto Pay, which can hang, and not a database step that
// reads or writes many rows. A user's own Xray calls and notices are the
// exception: tried once, under a bound of their own (xrayStep,
// outbox.sendNow), and handed to their bulkhead otherwise. One more kind
// of step runs locally (leanDeliver): handing a purchase's extension to the
// Subscription workflow, a signal-with-start to Temporal, which has no
// bulkhead and ran on the workflows' own queue in this same worker; and
// one reads no system at all (leanPolicy): the policy in the worker's
// configuration. The worker bounds how
// many run at once (workerapp.LocalSlots, taken from the database's share
// of the pool), so they never hold more connections than they were given.
//
// A step that has not succeeded locally within localLimit (the database
// down, say) is handed to the same activity on its bulkhead, with the
// retries it has there (withDB: without limit). So a step keeps the
// guarantees it had as an activity; running locally only makes the common
// case cheap. Every step run so gives the same answer when run again
// (activities.TestDatabaseActivitiesTwice), so running it twice is
// harmless.

// localLimit is how long a step is tried locally before it is handed to
// its bulkhead: long enough for a dropped connection or a failover, short
// enough that an outage shows as a pending activity in the UI.
const localLimit = 30 * time.Second

// localOptions: a database step takes milliseconds; one that takes
// seconds is stuck and tried again. The backoff stays below the workflow
// task timeout (10 s), so retries run in the worker, not on server timers.
func localOptions() workflow.LocalActivityOptions {
	return workflow.LocalActivityOptions{
		StartToCloseTimeout:    5 * time.Second,
		ScheduleToCloseTimeout: localLimit,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 8 * time.Second},
	}
}

// dbStep runs one short database transaction: locally in a lean run from
// leanLocal on, as an activity on the database bulkhead before.
func dbStep(ctx workflow.Context, activity, in, out any) error {
	return step(ctx, leanLocal, withDB(ctx), activity, in, out)
}

// step runs activity locally in a lean run from lean version from on, and
// as an activity with the options in opts before (and as the fallback).
func step(ctx workflow.Context, from workflow.Version, opts workflow.Context, activity, in, out any) error {
	if leanIn(ctx) < from {
		return workflow.ExecuteActivity(opts, activity, in).Get(ctx, out)
	}
	return runLocal(ctx, opts, activity, in, out)
}

// runLocal runs activity as a local activity and, if that fails with an
// error retrying could fix, as an activity with the options in fallback.
func runLocal(ctx, fallback workflow.Context, activity, in, out any) error {
	err := workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, localOptions()), activity, in).Get(ctx, out)
	if err == nil || final(err) {
		return err
	}
	workflow.GetLogger(ctx).Warn("local step failed; handing it to its activity queue", "error", err)
	return workflow.ExecuteActivity(fallback, activity, in).Get(ctx, out)
}

// final reports whether err is an answer rather than a failure: a
// non-retryable application error (insufficient balance, trial used), or
// the workflow's own cancellation.
func final(err error) bool {
	var appErr *temporal.ApplicationError
	return temporal.IsCanceledError(err) || errors.As(err, &appErr) && appErr.NonRetryable()
}

// localCallLimit is all a local call to Xray or Telegram gets: one attempt
// of at most this long. A system that answers takes milliseconds; one that
// does not is tried through the bulkhead, with its retries, from then on
// (and the activity's own admission keeps a node with an open breaker off
// the local path: activities.admitXray).
const localCallLimit = 3 * time.Second

func localCallOptions() workflow.LocalActivityOptions {
	return workflow.LocalActivityOptions{
		StartToCloseTimeout:    localCallLimit,
		ScheduleToCloseTimeout: localCallLimit,
		RetryPolicy:            &temporal.RetryPolicy{MaximumAttempts: 1},
	}
}

// xrayStep runs one of a user's Xray calls: in a run from leanXray on,
// first as a local activity in this workflow task, and if that is not
// admitted or fails with an error retrying could fix, as the activity on
// the Xray bulkhead with the options in fallback. Before leanXray, only
// the latter. The calls are idempotent (adding a key that is there,
// removing one that is not), so a local try that did its work and then
// timed out costs nothing when done again.
func xrayStep(ctx, fallback workflow.Context, activity, in, out any) error {
	if leanIn(ctx) >= leanXray {
		err := xrayLocal(ctx, activity, in, out)
		if err == nil || final(err) {
			return err
		}
	}
	return workflow.ExecuteActivity(fallback, activity, in).Get(ctx, out)
}

// xrayLocal is the local try alone, for a caller with a fallback of its
// own. It is logged at debug only: a refusal is the bound working.
func xrayLocal(ctx workflow.Context, activity, in, out any) error {
	err := workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, localCallOptions()), activity, in).Get(ctx, out)
	if err != nil {
		workflow.GetLogger(ctx).Debug("xray call not done locally; handing it to the xray queue", "error", err)
	}
	return err
}
