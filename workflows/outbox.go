package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/notice"
	"vpnflow/internal/shop"
)

// A workflow's messages to its user go through an outbox: a coroutine of
// their own sends them one by one, in order, on the Telegram bulkhead,
// while the workflow goes on with its work. A slow or hung Telegram
// delays the messages, never the expiry, the renewal or the key in Xray.

// versionOutbox: before it, each message was sent in line and the
// workflow waited for Telegram (up to the activity's ten minutes). It is
// read once at the start of a run, so a run keeps one way for its life.
const versionOutbox = "notice-outbox"

// outboxGrace is how long a run about to continue as new waits for the
// message being sent: what is still queued after it travels to the next
// run (a message in flight may then be sent twice, Telegram having no
// idempotency key).
const outboxGrace = 15 * time.Second

type outbox struct {
	userID int64
	queue  []shop.Outgoing
}

// newOutbox starts the outbox of a run, or returns nil for a run recorded
// before versionOutbox; carried are the messages the previous run left.
func newOutbox(ctx workflow.Context, userID int64, carried []shop.Outgoing) *outbox {
	if version(ctx, versionOutbox, 1) == workflow.DefaultVersion {
		return nil
	}
	o := &outbox{userID: userID, queue: carried}
	workflow.Go(ctx, o.run)
	return o
}

func (o *outbox) post(m shop.Outgoing) { o.queue = append(o.queue, m) }

func (o *outbox) empty() bool { return len(o.queue) == 0 }

// undelivered is what is still queued, for the next run's input.
func (o *outbox) undelivered() []shop.Outgoing {
	if o == nil || len(o.queue) == 0 {
		return nil
	}
	return append([]shop.Outgoing(nil), o.queue...)
}

// flush waits until every message is sent (each is bounded by its
// activity's schedule-to-close timeout), or, with a limit, at most that
// long.
func (o *outbox) flush(ctx workflow.Context, limit time.Duration) {
	if o == nil {
		return
	}
	if o.empty() {
		return // no timer for nothing
	}
	if limit > 0 {
		_, _ = workflow.AwaitWithTimeout(ctx, limit, o.empty)
		return
	}
	_ = workflow.Await(ctx, o.empty)
}

func (o *outbox) run(ctx workflow.Context) {
	for {
		if err := workflow.Await(ctx, func() bool { return len(o.queue) > 0 }); err != nil {
			return
		}
		deliver(ctx, o.userID, o.queue[0])
		o.queue = o.queue[1:]
	}
}

// deliver sends one message; a failure is logged, never fatal: the user
// can always open "My subscription", and money matters more than messages.
func deliver(ctx workflow.Context, userID int64, m shop.Outgoing) {
	var a *activities.Activities
	var f workflow.Future
	what := "key message"
	if m.Notice != nil {
		n := *m.Notice
		if n.UserID == 0 {
			n.UserID = userID
		}
		what = n.Message
		f = workflow.ExecuteActivity(withTelegram(ctx), a.Notify, n)
	} else {
		f = workflow.ExecuteActivity(withTelegram(ctx), a.SendKey, activities.SendKeyInput{UserID: userID, Reason: m.KeyReason})
	}
	if err := f.Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Warn("message not delivered", "message", what, "error", err)
	}
}

// sendNow sends n at once, from this workflow task, in a run from
// leanNotice on, when nothing is queued before it (the queue holds the
// message in flight too, so order is kept). It reports whether n is done
// with: sent, or refused for good (the user blocked the bot), which the
// outbox would only be told again. A try that is not admitted (no local
// slot, no turn in the Telegram pace soon: activities.admitTelegram) or
// fails leaves n to the outbox. Like any send, a try whose workflow task
// is lost (the worker dies before it completes) may be sent twice.
func (o *outbox) sendNow(ctx workflow.Context, n notice.Notice) bool {
	if leanIn(ctx) < leanNotice || !o.empty() {
		return false
	}
	var a *activities.Activities
	err := workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, localCallOptions()), a.Notify, n).Get(ctx, nil)
	switch {
	case err == nil:
		return true
	case final(err):
		workflow.GetLogger(ctx).Warn("message not delivered", "message", n.Message, "error", err)
		return true
	}
	workflow.GetLogger(ctx).Debug("notice not sent locally; queued in the outbox", "message", n.Message, "error", err)
	return false
}

// noticeOf wraps n for the outbox.
func noticeOf(n notice.Notice) shop.Outgoing { return shop.Outgoing{Notice: &n} }
