package activities

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/sync/errgroup"

	"vpnflow/internal/notice"
	"vpnflow/internal/store"
)

// The notice outbox (schema 00010): notices written in the transaction
// that makes them true, sent by the NoticeOutbox workflow at the worker's
// Telegram pace. Each activity here is one transaction, one poll, or one
// batch of sends.

// ClaimNoticesInput claims up to Limit due notices for Lease. A non-zero
// RemindFrom first writes the reminders due since then (the reminder
// sweep): the last claim's Claimed.SweptTo.
type ClaimNoticesInput struct {
	Limit      int
	Lease      time.Duration
	RemindFrom time.Time `json:",omitzero"`
}

// ClaimNotices claims a batch of due notices (one transaction), having
// written the reminders due since in.RemindFrom in the same one; see
// store.ClaimNotices.
func (a *Activities) ClaimNotices(ctx context.Context, in ClaimNoticesInput) (store.Claimed, error) {
	c, err := a.Store.ClaimNotices(ctx, in.Limit, in.Lease, a.reminderSweep(in.RemindFrom))
	if err != nil {
		return store.Claimed{}, storeError("claim notices", err)
	}
	return c, nil
}

// reminderSweep is the sweep of the reminders due since from, to now by
// this worker's clock (the clock the workflows' period ends come from),
// under this worker's policy; nil for a zero from.
func (a *Activities) reminderSweep(from time.Time) *store.ReminderSweep {
	if from.IsZero() {
		return nil
	}
	return &store.ReminderSweep{From: from, Now: time.Now(), Rules: store.RulesOf(a.policy())}
}

// ReminderInput is one reminder stage of a user's period for the outbox:
// Notice is the reminder (notice.Reminder), Lead its stage.
type ReminderInput struct {
	UserID int64
	Lead   time.Duration
	Notice notice.Notice
}

// EnqueueReminder writes a reminder stage to the outbox (one statement,
// once per stage and period; see store.EnqueueReminder). The user's
// workflow decides that it is due; the NoticeOutbox workflow sends it at
// Telegram's pace, so a reminder storm costs each workflow one step, not
// a send.
func (a *Activities) EnqueueReminder(ctx context.Context, in ReminderInput) error {
	in.Notice.UserID = in.UserID
	if err := a.Store.EnqueueReminder(ctx, in.UserID, in.Lead, in.Notice); err != nil {
		return storeError("enqueue reminder", err)
	}
	return nil
}

// noticePoll is how often AwaitNotices looks at the outbox: the most a
// notice written while the drain is idle waits before it is claimed.
const noticePoll = 300 * time.Millisecond

// AwaitNotices returns true as soon as a notice is due, or false once
// wait has passed without one (the drain's idle poll before the reminder
// sweep; AwaitDue).
func (a *Activities) AwaitNotices(ctx context.Context, wait time.Duration) (bool, error) {
	return a.AwaitDue(ctx, AwaitDueInput{Wait: wait})
}

// AwaitDueInput is the drain's idle poll: for up to Wait, until a notice
// is due or, with a non-zero RemindFrom, a reminder is due to be written.
type AwaitDueInput struct {
	Wait       time.Duration
	RemindFrom time.Time `json:",omitzero"`
}

// AwaitDue returns true as soon as a notice is due to be claimed, or a
// reminder due since in.RemindFrom to be written, or false once in.Wait
// has passed without either. It polls the database with one short query
// every noticePoll, holding no connection between them, and heartbeats.
func (a *Activities) AwaitDue(ctx context.Context, in AwaitDueInput) (bool, error) {
	deadline := time.Now().Add(in.Wait)
	for {
		due, err := a.Store.NoticesDue(ctx, a.reminderSweep(in.RemindFrom))
		if err != nil {
			return false, storeError("poll the notice outbox", err)
		}
		if due {
			return true, nil
		}
		activity.RecordHeartbeat(ctx, nil)
		left := time.Until(deadline)
		if left <= 0 {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(min(noticePoll, left)):
		}
	}
}

// noticeSendParallel is how many notices of a batch are in flight at once:
// enough to keep the worker's Telegram pace busy while each waits on its
// round trip; the pace itself keeps the sum under Telegram's limit.
const noticeSendParallel = 4

// noticeRetryAfter is how long a notice whose send failed for now (a
// timeout, Telegram down) waits before it is claimed again.
const noticeRetryAfter = 30 * time.Second

// noticeMaxAttempts: a notice whose sends failed this many times is
// dropped, with a warning that names it; the user can still open "My
// subscription".
const noticeMaxAttempts = 10

// SendNotices sends a claimed batch through the worker's Telegram pace
// and reports what became of each notice; it never fails as a whole. A
// retried attempt (the worker died, the activity timed out) skips the
// notices its heartbeat says were sent.
func (a *Activities) SendNotices(ctx context.Context, batch []store.OutboxNotice) (store.NoticeOutcome, error) {
	out := store.NoticeOutcome{Dropped: map[int64]string{}, RetryAfter: noticeRetryAfter}
	done := map[int64]bool{}
	if activity.HasHeartbeatDetails(ctx) {
		var prev []int64
		if err := activity.GetHeartbeatDetails(ctx, &prev); err == nil {
			for _, id := range prev {
				done[id] = true
				out.Sent = append(out.Sent, id)
			}
		}
	}
	var mu sync.Mutex
	var stop error       // a 429: the rest of the batch waits for its retry
	var g errgroup.Group // sends only; none returns an error
	g.SetLimit(noticeSendParallel)
	for _, n := range batch {
		if done[n.ID] {
			continue
		}
		g.Go(func() error {
			mu.Lock()
			err := stop
			mu.Unlock()
			if err == nil {
				// telegramError sorts Telegram's answer as every send's is
				// (and marks a user who blocked the bot).
				err = a.telegramError(ctx, n.UserID, "notice", a.deliverNotice(ctx, n.Language, n.Notice, n.UserID))
			}
			var app *temporal.ApplicationError
			isApp := errors.As(err, &app)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				out.Sent = append(out.Sent, n.ID)
				activity.RecordHeartbeat(ctx, out.Sent)
			case isApp && app.Type() == errRateLimited:
				if stop == nil {
					stop = err
					out.RetryAfter = max(out.RetryAfter, app.NextRetryDelay())
				}
				out.Retry = append(out.Retry, n.ID)
			case isApp && app.NonRetryable():
				out.Dropped[n.ID] = "refused: " + err.Error()
			case n.Attempts >= noticeMaxAttempts:
				activity.GetLogger(ctx).Warn("notice outbox: giving up on a notice", "user_id", n.UserID,
					"message", n.Notice.Message, "attempts", n.Attempts, "error", err)
				out.Dropped[n.ID] = store.DroppedGaveUp + ": " + err.Error()
			default:
				out.Retry = append(out.Retry, n.ID)
			}
			return nil
		})
	}
	_ = g.Wait()
	return out, nil
}

// FinishNotices records a batch's outcome (one transaction).
func (a *Activities) FinishNotices(ctx context.Context, o store.NoticeOutcome) error {
	if err := a.Store.FinishNotices(ctx, o); err != nil {
		return storeError("finish notices", err)
	}
	return nil
}

// PruneNotices deletes finished notices past store.NoticeKept, at most
// limit (one statement).
func (a *Activities) PruneNotices(ctx context.Context, limit int) (int, error) {
	n, err := a.Store.PruneNotices(ctx, limit)
	if err != nil {
		return 0, storeError(fmt.Sprintf("prune up to %d notices", limit), err)
	}
	return n, nil
}
