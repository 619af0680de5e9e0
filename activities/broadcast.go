package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"vpnflow/internal/store"
	"vpnflow/internal/telegram"
)

// BroadcastStart records a broadcast.
type BroadcastStart struct {
	BroadcastID string
	AdminID     int64
	Text        string
}

// BroadcastStarted is the recorded broadcast.
type BroadcastStarted struct {
	Total int // recipients when it was created
}

// CreateBroadcast stores the broadcast's text and counts its recipients
// (idempotent on the id). Later pages read the text from the database, so
// it is in the history once, not once per page.
func (a *Activities) CreateBroadcast(ctx context.Context, in BroadcastStart) (BroadcastStarted, error) {
	id, err := broadcastUUID(in.BroadcastID)
	if err != nil {
		return BroadcastStarted{}, err
	}
	b, err := a.Store.CreateBroadcast(ctx, id, in.AdminID, in.Text)
	if err != nil {
		return BroadcastStarted{}, storeError("create broadcast "+in.BroadcastID, err)
	}
	return BroadcastStarted{Total: b.Total}, nil
}

// BroadcastPageInput is the next page of a broadcast.
type BroadcastPageInput struct {
	BroadcastID string
	AfterUserID int64 // keyset cursor: the last user of the previous page
	Limit       int
	// Interval is the least time between two sends (1/rate). NotBefore is
	// when the first send of this page may go, so the pace holds across
	// pages.
	Interval  time.Duration
	NotBefore time.Time
}

// BroadcastPageResult is what happened to a page's recipients: those
// handled by an earlier attempt count with their recorded outcome.
type BroadcastPageResult struct {
	LastUserID int64
	Handled    int
	Sent       int
	Skipped    int
	Failed     int
	LastSentAt time.Time
	End        bool // no recipients after this page
}

// recordTimeout bounds writing one delivery record. It runs on a context
// that outlives the activity's, so a worker shutting down right after a
// send still records it.
const recordTimeout = 5 * time.Second

// sendTimeout bounds one Bot API call, below the page's heartbeat timeout.
const sendTimeout = 10 * time.Second

// SendBroadcastPage sends the broadcast to one page of recipients, at most
// one message per Interval, and records each outcome right after it is
// known. Each message also waits its turn in the worker's Telegram pace,
// which notices share (telegram.Pace), so the two never add up past
// Telegram's limit. A recipient already recorded (by an attempt that crashed) is not
// messaged again; one who blocked the bot is skipped and marked.
//
// A page is one activity, not one activity per message, so the pace is kept
// in one place and a broadcast to many users adds three history events per
// page instead of several per user. The activity heartbeats after every
// recipient, so a dead worker's page moves to another worker within the
// heartbeat timeout.
//
// Exactly once is not possible with Telegram, which has no idempotency key:
// a crash after Telegram accepted a message and before its record commits
// sends that one message again on resume. The record is written on a
// context that survives cancellation and is retried in place, so only a
// process dying in that millisecond window duplicates a message.
//
// A 429 ends the attempt with Telegram's retry_after as the next retry
// delay (telegramError); the retry resumes after the recorded recipients.
func (a *Activities) SendBroadcastPage(ctx context.Context, in BroadcastPageInput) (BroadcastPageResult, error) {
	id, err := broadcastUUID(in.BroadcastID)
	if err != nil {
		return BroadcastPageResult{}, err
	}
	if in.Limit <= 0 || in.Interval <= 0 {
		return BroadcastPageResult{}, permanent("InvalidInput", fmt.Errorf("broadcast %s: limit and interval must be positive", id))
	}
	page, err := a.Store.BroadcastRecipients(ctx, id, in.AfterUserID, in.Limit)
	if err != nil {
		return BroadcastPageResult{}, storeError("read broadcast page", err)
	}
	res := BroadcastPageResult{LastUserID: in.AfterUserID, LastSentAt: in.NotBefore.Add(-in.Interval), End: len(page.Recipients) < in.Limit}
	next := in.NotBefore
	for _, r := range page.Recipients {
		status := r.Delivered
		if status == "" {
			if r.BotBlocked {
				status = store.DeliverySkipped
			} else {
				if err := sleepUntil(ctx, next); err != nil {
					return res, err
				}
				res.LastSentAt = time.Now()
				next = res.LastSentAt.Add(in.Interval)
				if status, err = a.sendBroadcast(ctx, r.UserID, page.Text); err != nil {
					return res, err
				}
			}
			if status, err = a.recordDelivery(ctx, id, r.UserID, status); err != nil {
				return res, err
			}
		}
		switch status {
		case store.DeliverySent:
			res.Sent++
		case store.DeliverySkipped:
			res.Skipped++
		default:
			res.Failed++
		}
		res.Handled++
		res.LastUserID = r.UserID
		activity.RecordHeartbeat(ctx, r.UserID)
	}
	return res, nil
}

// sendBroadcast sends the text as written (no markup: an admin's stray "<"
// must not fail every message) and classifies the outcome. An error return
// means the attempt must stop and be retried.
func (a *Activities) sendBroadcast(ctx context.Context, userID int64, text string) (string, error) {
	sctx, cancel := context.WithTimeout(ctx, sendTimeout)
	_, err := a.Telegram.Send(sctx, telegram.Message{ChatID: userID, Text: text, Plain: true, NoPreview: true})
	cancel()
	if k := telegram.Classify(err).Kind; k == telegram.Unauthorized || k == telegram.NotFound {
		// The bot's token or API URL is wrong: no recipient's fault, so
		// the page waits (retried) instead of failing everyone.
		return "", fmt.Errorf("send broadcast to user %d: %w", userID, err)
	}
	err = a.telegramError(ctx, userID, "send broadcast", err)
	if err == nil {
		return store.DeliverySent, nil
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.NonRetryable() {
		if appErr.Type() == ErrUserBlockedBot {
			return store.DeliverySkipped, nil
		}
		activity.GetLogger(ctx).Warn("broadcast message refused", "user_id", userID, "error", err)
		return store.DeliveryFailed, nil
	}
	return "", err
}

// recordDelivery writes one outcome, retrying in place for a few seconds: a
// failed record after a successful send would send again on resume.
func (a *Activities) recordDelivery(ctx context.Context, id uuid.UUID, userID int64, status string) (string, error) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	for wait := 50 * time.Millisecond; ; wait *= 2 {
		stored, err := a.Store.RecordDelivery(rctx, id, userID, status)
		if err == nil {
			return stored, nil
		}
		if sleepUntil(rctx, time.Now().Add(wait)) != nil {
			return "", storeError(fmt.Sprintf("record broadcast delivery to %d", userID), err)
		}
	}
}

// BroadcastReport tells the admin how a broadcast is going. Stage is
// "started" and "progress" (the same message, edited when MessageID is
// set) or "done" (a new message, so the admin is notified).
type BroadcastReport struct {
	AdminID   int64
	MessageID int
	Stage     string
	Total     int
	Sent      int
	Skipped   int
	Failed    int
}

// Broadcast report stages.
const (
	ReportStarted  = "started"
	ReportProgress = "progress"
	ReportDone     = "done"
)

// BroadcastReportResult is the message the report is in.
type BroadcastReportResult struct {
	MessageID int
}

// ReportBroadcast sends or edits the admin's progress message.
func (a *Activities) ReportBroadcast(ctx context.Context, in BroadcastReport) (BroadcastReportResult, error) {
	lang := a.language(ctx, in.AdminID)
	data := map[string]any{"Total": in.Total, "Sent": in.Sent, "Skipped": in.Skipped, "Failed": in.Failed}
	var text string
	switch in.Stage {
	case ReportStarted:
		text = a.Texts.TN(lang, "admin_broadcast_started", in.Total, data)
	case ReportProgress:
		text = a.Texts.T(lang, "admin_broadcast_progress", data)
	case ReportDone:
		text = a.Texts.T(lang, "admin_broadcast_done", data)
	default:
		return BroadcastReportResult{}, permanent("InvalidInput", fmt.Errorf("unknown report stage %q", in.Stage))
	}
	if in.MessageID != 0 && in.Stage != ReportDone {
		err := a.Telegram.Edit(ctx, in.MessageID, telegram.Message{ChatID: in.AdminID, Text: text})
		switch telegram.Classify(err).Kind {
		case telegram.OK, telegram.NotModified:
			return BroadcastReportResult{MessageID: in.MessageID}, nil
		case telegram.BadRequest:
		default:
			return BroadcastReportResult{}, a.telegramError(ctx, in.AdminID, "edit broadcast progress", err)
		}
		// The message is gone (deleted by the admin): send a new one.
	}
	id, err := a.Telegram.Send(ctx, telegram.Message{ChatID: in.AdminID, Text: text})
	if err != nil {
		return BroadcastReportResult{}, a.telegramError(ctx, in.AdminID, "send broadcast "+in.Stage, err)
	}
	return BroadcastReportResult{MessageID: id}, nil
}

// FinishBroadcastInput is a finished broadcast's outcome.
type FinishBroadcastInput struct {
	BroadcastID string
	Sent        int
	Skipped     int
	Failed      int
}

// FinishBroadcast stores the broadcast's totals.
func (a *Activities) FinishBroadcast(ctx context.Context, in FinishBroadcastInput) error {
	id, err := broadcastUUID(in.BroadcastID)
	if err != nil {
		return err
	}
	return storeError("finish broadcast "+in.BroadcastID, a.Store.FinishBroadcast(ctx, id, in.Sent, in.Skipped, in.Failed))
}

func broadcastUUID(id string) (uuid.UUID, error) {
	u, err := uuid.Parse(id)
	if err != nil {
		return uuid.Nil, permanent("InvalidInput", fmt.Errorf("broadcast id %q: %w", id, err))
	}
	return u, nil
}

// sleepUntil waits until t or until ctx ends.
func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
