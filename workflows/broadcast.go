package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/shop"
)

// Broadcast pacing and paging. Telegram allows about 30 messages a second
// to different chats. Each broadcast message also waits its turn in the
// worker's send pace (TELEGRAM_SEND_RATE, 28/s), shared with notices first
// come, first served; 20 caps a broadcast below that when nothing else is
// waiting, so notices that arrive find room at once.
const (
	DefaultBroadcastRate = 20
	defaultBroadcastPage = 50
	// broadcastPagesPerRun bounds a run's history (about four events per
	// page, a few more for progress reports) before it continues as new.
	broadcastPagesPerRun = 100
	// broadcastReportStep is how far, in percent, a broadcast moves
	// between two edits of the admin's progress message.
	broadcastReportStep = 5
)

// Broadcast sends one text to every user who existed when it started and
// is not banned, paced under Telegram's limit, reporting progress to the
// admin. Each recipient's outcome is recorded in the database right after
// it is known, so a worker crash resumes after the recorded ones; pages are
// read by keyset, and the workflow continues as new every
// broadcastPagesPerRun pages to keep its history bounded.
func Broadcast(ctx workflow.Context, in shop.BroadcastInput) (shop.BroadcastState, error) {
	if err := in.Validate(); err != nil {
		return shop.BroadcastState{}, invalidInput(err)
	}
	b := &broadcast{in: in}
	if in.State != nil {
		b.state = *in.State
	}
	if err := workflow.SetQueryHandler(ctx, shop.QueryState, func() (shop.BroadcastState, error) { return b.state, nil }); err != nil {
		return b.state, err
	}
	if in.State == nil {
		if err := b.start(ctx); err != nil {
			return b.state, err
		}
	}
	return b.run(ctx)
}

type broadcast struct {
	in    shop.BroadcastInput
	state shop.BroadcastState
}

func (b *broadcast) rate() int {
	if b.in.PerSecond > 0 {
		return b.in.PerSecond
	}
	return DefaultBroadcastRate
}

func (b *broadcast) pageSize() int {
	if b.in.PageSize > 0 {
		return b.in.PageSize
	}
	return defaultBroadcastPage
}

// start stores the broadcast and tells the admin how many it will reach.
func (b *broadcast) start(ctx workflow.Context) error {
	var a *activities.Activities
	var started activities.BroadcastStarted
	if err := workflow.ExecuteActivity(withDB(ctx), a.CreateBroadcast, activities.BroadcastStart{
		BroadcastID: b.in.BroadcastID, AdminID: b.in.AdminID, Text: b.in.Text,
	}).Get(ctx, &started); err != nil {
		return fmt.Errorf("create broadcast: %w", err)
	}
	b.state.Total = started.Total
	b.report(ctx, activities.ReportStarted)
	return nil
}

func (b *broadcast) run(ctx workflow.Context) (shop.BroadcastState, error) {
	var a *activities.Activities
	interval := time.Second / time.Duration(b.rate())
	for pages := 0; ; pages++ {
		if pages >= broadcastPagesPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			next := b.in
			next.Text, next.State = "", &b.state
			return b.state, workflow.NewContinueAsNewError(ctx, Broadcast, next)
		}
		var page activities.BroadcastPageResult
		if err := workflow.ExecuteActivity(withBroadcastPage(ctx), a.SendBroadcastPage, activities.BroadcastPageInput{
			BroadcastID: b.in.BroadcastID, AfterUserID: b.state.AfterUserID, Limit: b.pageSize(),
			Interval: interval, NotBefore: b.state.LastSentAt.Add(interval),
		}).Get(ctx, &page); err != nil {
			return b.state, fmt.Errorf("send page after user %d: %w", b.state.AfterUserID, err)
		}
		b.state.AfterUserID = page.LastUserID
		b.state.Sent += page.Sent
		b.state.Skipped += page.Skipped
		b.state.Failed += page.Failed
		if page.LastSentAt.After(b.state.LastSentAt) {
			b.state.LastSentAt = page.LastSentAt
		}
		if page.End {
			break
		}
		if p := b.state.Percent(); p-b.state.ReportedPercent >= broadcastReportStep {
			b.state.ReportedPercent = p
			b.report(ctx, activities.ReportProgress)
		}
	}
	return b.finish(ctx)
}

func (b *broadcast) finish(ctx workflow.Context) (shop.BroadcastState, error) {
	var a *activities.Activities
	if err := workflow.ExecuteActivity(withDB(ctx), a.FinishBroadcast, activities.FinishBroadcastInput{
		BroadcastID: b.in.BroadcastID, Sent: b.state.Sent, Skipped: b.state.Skipped, Failed: b.state.Failed,
	}).Get(ctx, nil); err != nil {
		return b.state, fmt.Errorf("finish broadcast: %w", err)
	}
	b.state.Done = true
	b.state.ReportedPercent = 100
	b.report(ctx, activities.ReportProgress)
	b.report(ctx, activities.ReportDone)
	return b.state, nil
}

// report sends or edits the admin's progress message. It is best effort:
// the broadcast goes on if the admin cannot be told.
func (b *broadcast) report(ctx workflow.Context, stage string) {
	if stage == activities.ReportProgress && b.state.ProgressMessageID == 0 {
		return
	}
	var a *activities.Activities
	var res activities.BroadcastReportResult
	err := workflow.ExecuteActivity(withReport(ctx), a.ReportBroadcast, activities.BroadcastReport{
		AdminID: b.in.AdminID, MessageID: b.state.ProgressMessageID, Stage: stage, Total: b.state.Total,
		Sent: b.state.Sent, Skipped: b.state.Skipped, Failed: b.state.Failed,
	}).Get(ctx, &res)
	if err != nil {
		workflow.GetLogger(ctx).Warn("broadcast report not delivered", "stage", stage, "error", err)
		return
	}
	if stage != activities.ReportDone {
		b.state.ProgressMessageID = res.MessageID
	}
}

// withReport is for a progress report: given up on after a minute, so a
// Telegram outage holds the broadcast no longer than it must.
func withReport(ctx workflow.Context) workflow.Context {
	return on(ctx, shop.BulkheadTelegram, workflow.ActivityOptions{
		StartToCloseTimeout:    15 * time.Second,
		ScheduleToCloseTimeout: time.Minute,
		RetryPolicy:            backoff(15 * time.Second),
	})
}

// withBroadcastPage is for one page of sends. The heartbeat timeout is
// above one send's bound plus one record's, so a slow Telegram is not
// mistaken for a dead worker; a dead worker's page is retried elsewhere
// after it. A 429 is retried after Telegram's retry_after (the error's
// next retry delay), anything else with backoff, without limit: a
// broadcast waits out an outage.
func withBroadcastPage(ctx workflow.Context) workflow.Context {
	return on(ctx, shop.BulkheadTelegram, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		HeartbeatTimeout:    20 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        time.Minute,
			NonRetryableErrorTypes: []string{"InvalidInput"},
		},
	})
}
