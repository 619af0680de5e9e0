package workflows

import (
	"time"

	"go.temporal.io/sdk/log"
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
	// Reminded counts the reminders the run's claims wrote (the reminder
	// sweep): due, and not yet written by their users' workflows.
	Reminded int `json:",omitempty"`
}

// NoticeOutbox drains the notice outbox (schedules.NoticeOutboxID) for
// in.RunFor: it claims a batch, sends it at the worker's Telegram pace,
// records what became of each notice, and goes on; with nothing due it
// waits in one polling activity until something is. Notices are written
// in the transactions that make them true (an expiry, the revocation
// sweep), so in an expiry storm users are told at Telegram's pace, not at
// the pace their own workflows get to their expiries. From
// outboxReminderSweep on, each claim and the idle poll also sweep the
// reminders due since the last claim into the outbox (store.ReminderSweep),
// so a reminder storm is sent as soon as it is due, not once the server
// has woken every user's workflow.
func NoticeOutbox(ctx workflow.Context, in schedules.NoticeInput) (NoticeOutboxResult, error) {
	in = in.WithDefaults()
	d := &drain{ctx: ctx, db: withDB(ctx), in: in, log: workflow.GetLogger(ctx)}
	end := workflow.Now(ctx).Add(in.RunFor)
	if err := workflow.ExecuteActivity(d.db, d.a.PruneNotices, noticePruneLimit).Get(ctx, &d.res.Pruned); err != nil {
		d.log.Warn("notice outbox: finished notices not pruned; the next run tries again", "error", err)
	}
	// The next batch is claimed while the current ones are sent, and a
	// batch's outcome is recorded while the next ones are sent. From
	// outboxTwoInFlight on, two batches are sent at once, so the pace
	// always has a send waiting: with one, the workflow task between two
	// batches left it idle for a moment each batch. From outboxOffset on,
	// a batch claimed while nothing is in flight is half a batch. The two
	// in flight share the pace evenly, so two started together would end
	// together and leave it idle until the next is sent; started half a
	// batch apart, one always ends while the other is halfway through.
	depth, offset := 1, false
	switch v := workflow.GetVersion(ctx, outboxDepthChange, workflow.DefaultVersion, outboxOffset); {
	case v >= outboxOffset:
		depth, offset = 2, true
	case v >= outboxTwoInFlight:
		depth = 2
	}
	d.offset = offset
	if workflow.GetVersion(ctx, outboxRemindersChange, workflow.DefaultVersion, outboxReminderSweep) >= outboxReminderSweep {
		d.remindFrom = workflow.Now(ctx).Add(-reminderLookback)
	}
	var flying []sending
	claim := d.claim(flying)
	for {
		var c store.Claimed
		if err := claim.Get(ctx, &c); err != nil {
			return d.res, err
		}
		d.swept(c)
		d.moot(c.Moot)
		if !workflow.Now(ctx).Before(end) {
			d.release(c.Notices)
			break
		}
		if len(c.Notices) == 0 && len(flying) > 0 {
			// Nothing more yet: see the oldest batch through, then look again.
			if err := d.finish(flying[0]); err != nil {
				return d.res, err
			}
			flying = flying[1:]
			claim = d.claim(flying)
			continue
		}
		if len(c.Notices) == 0 {
			due, err := d.await(end.Sub(workflow.Now(ctx)))
			if err != nil {
				return d.res, err
			}
			if !due {
				break // waited out the run: the next run takes over
			}
			claim = d.claim(flying)
			continue
		}
		d.res.Batches++
		flying = append(flying, sending{batch: c.Notices, sent: workflow.ExecuteActivity(sendingNotices(ctx), d.a.SendNotices, c.Notices)})
		claim = d.claim(flying)
		if len(flying) >= depth {
			if err := d.finish(flying[0]); err != nil {
				return d.res, err
			}
			flying = flying[1:]
		}
	}
	for _, f := range flying {
		if err := d.finish(f); err != nil {
			return d.res, err
		}
	}
	if err := wait(ctx, d.finishing); err != nil {
		return d.res, err
	}
	if r := d.res; r.Sent+r.Dropped+r.Moot > 0 {
		d.log.Info("notice outbox: drained", "batches", r.Batches, "sent", r.Sent, "dropped", r.Dropped,
			"moot", r.Moot, "retried", r.Retried, "reminded", r.Reminded)
	}
	return d.res, nil
}

// outboxDepthChange versions how many batches a NoticeOutbox run sends at
// once: one before outboxTwoInFlight, two from it, and from outboxOffset
// two half a batch apart.
const (
	outboxDepthChange                  = "notice-outbox-depth"
	outboxTwoInFlight workflow.Version = 1
	outboxOffset      workflow.Version = 2
)

// outboxRemindersChange versions the reminder sweep: from
// outboxReminderSweep on, claims and the idle poll write due reminders.
const (
	outboxRemindersChange                  = "notice-outbox-reminders"
	outboxReminderSweep   workflow.Version = 1
)

// reminderLookback is how far before its start a run's first sweep looks:
// across the moment between two runs, with room for a run the schedule
// had to restart. Reminders due earlier were due while no drain ran, and
// their users' workflows write them.
const reminderLookback = 2 * time.Minute

// drain is one NoticeOutbox run's helpers and counts.
type drain struct {
	ctx workflow.Context
	db  workflow.Context
	a   *activities.Activities
	in  schedules.NoticeInput
	log log.Logger
	res NoticeOutboxResult
	// finishing records the last batch's outcome; the next one's waits
	// for it, so outcomes are recorded in order, one at a time.
	finishing workflow.Future
	// offset: a claim made while nothing is in flight takes half a batch.
	offset bool
	// remindFrom is where the next reminder sweep starts (zero: the run
	// does not sweep reminders).
	remindFrom time.Time
}

// sending is a batch whose sends are under way.
type sending struct {
	batch []store.OutboxNotice
	sent  workflow.Future
}

// finish waits for a batch's sends and starts recording their outcome. A
// batch whose sends failed is left to its lease: a later claim takes it
// again.
func (d *drain) finish(f sending) error {
	var out store.NoticeOutcome
	err := f.sent.Get(d.ctx, &out)
	if err := wait(d.ctx, d.finishing); err != nil {
		return err
	}
	d.finishing = nil
	if err != nil {
		d.log.Warn("notice outbox: a batch was not sent; it is claimed again when its lease ends",
			"notices", len(f.batch), "lease", d.in.Lease, "error", err)
		return nil
	}
	d.finishing = workflow.ExecuteActivity(d.db, d.a.FinishNotices, out)
	d.count(out)
	return nil
}

// claim claims the next batch, given the batches in flight.
func (d *drain) claim(flying []sending) workflow.Future {
	limit := d.in.Batch
	if d.offset && len(flying) == 0 {
		limit = max(1, limit/2)
	}
	return workflow.ExecuteActivity(d.db, d.a.ClaimNotices, activities.ClaimNoticesInput{Limit: limit, Lease: d.in.Lease, RemindFrom: d.remindFrom})
}

// swept moves the reminder sweep on to where the claim's sweep ended. A
// sweep that failed leaves it where it was: the next claim tries the
// window again, and the users' workflows write their reminders meanwhile.
func (d *drain) swept(c store.Claimed) {
	d.res.Reminded += c.Reminded
	if c.SweepFailed != "" {
		d.log.Warn("notice outbox: reminders not swept; the next claim tries again, and each user's workflow writes its own",
			"from", d.remindFrom, "error", c.SweepFailed)
	}
	if c.SweptTo.After(d.remindFrom) && !d.remindFrom.IsZero() {
		d.remindFrom = c.SweptTo
	}
}

// await waits, for up to left, until something is due: a notice or, when
// the run sweeps reminders, a reminder to write.
func (d *drain) await(left time.Duration) (bool, error) {
	var due bool
	if d.remindFrom.IsZero() {
		err := workflow.ExecuteActivity(awaitingNotices(d.ctx, left), d.a.AwaitNotices, left).Get(d.ctx, &due)
		return due, err
	}
	in := activities.AwaitDueInput{Wait: left, RemindFrom: d.remindFrom}
	err := workflow.ExecuteActivity(awaitingNotices(d.ctx, left), d.a.AwaitDue, in).Get(d.ctx, &due)
	return due, err
}

// release hands back a batch claimed ahead that this run will not send,
// so the next run claims it at once instead of after its lease.
func (d *drain) release(batch []store.OutboxNotice) {
	if len(batch) == 0 {
		return
	}
	ids := make([]int64, len(batch))
	for i, n := range batch {
		ids[i] = n.ID
	}
	if err := workflow.ExecuteActivity(d.db, d.a.FinishNotices, store.NoticeOutcome{Released: ids}).Get(d.ctx, nil); err != nil {
		d.log.Warn("notice outbox: a batch claimed ahead was not handed back; it is claimed again when its lease ends",
			"notices", len(ids), "error", err)
	}
}

func (d *drain) moot(n int) {
	d.res.Moot += n
	workflow.GetMetricsHandler(d.ctx).Counter(NoticesDroppedMetric).Inc(int64(n))
}

func (d *drain) count(out store.NoticeOutcome) {
	d.res.Sent += len(out.Sent)
	d.res.Dropped += len(out.Dropped)
	d.res.Retried += len(out.Retry)
	workflow.GetMetricsHandler(d.ctx).Counter(NoticesSentMetric).Inc(int64(len(out.Sent)))
	workflow.GetMetricsHandler(d.ctx).Counter(NoticesDroppedMetric).Inc(int64(len(out.Dropped)))
}

// wait waits for f, if there is one.
func wait(ctx workflow.Context, f workflow.Future) error {
	if f == nil {
		return nil
	}
	return f.Get(ctx, nil)
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
