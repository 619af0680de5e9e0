package shop

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
)

// The Broadcast workflow: one text to every user, paced.

// BroadcastWorkflowType is the Broadcast workflow's registered name.
const BroadcastWorkflowType = "Broadcast"

// BroadcastWorkflowID is the ID of a broadcast's workflow.
func BroadcastWorkflowID(id string) string { return "broadcast/" + id }

// BroadcastInput starts (or continues) a broadcast.
type BroadcastInput struct {
	BroadcastID string
	AdminID     int64
	// Text is needed by the first run only, which stores it; pages read it
	// from the database, so it does not travel through every continue-as-new.
	Text      string
	PerSecond int // 0: the workflow's default rate
	PageSize  int // 0: the workflow's default page
	State     *BroadcastState
}

// BroadcastState is a broadcast's progress: its state query's answer, its
// result, and what a continue-as-new carries.
type BroadcastState struct {
	Total             int
	AfterUserID       int64 // keyset cursor: every recipient up to here is handled
	Sent              int
	Skipped           int // blocked the bot
	Failed            int
	ProgressMessageID int // the admin's progress message, 0 if none
	ReportedPercent   int
	LastSentAt        time.Time
	Done              bool
}

// Handled is how many recipients have an outcome.
func (s BroadcastState) Handled() int { return s.Sent + s.Skipped + s.Failed }

// Percent is how far the broadcast is, 0 to 100.
func (s BroadcastState) Percent() int {
	if s.Total <= 0 {
		return 100
	}
	return min(100, s.Handled()*100/s.Total)
}

// Validate checks a broadcast's input; the Broadcast workflow fails a run
// whose input does not pass.
func (in BroadcastInput) Validate() error {
	switch {
	case in.BroadcastID == "":
		return errors.New("broadcast id is empty")
	case in.AdminID <= 0:
		return errors.New("admin id must be positive")
	case in.State == nil && in.Text == "":
		return errors.New("text is empty")
	case in.PerSecond < 0 || in.PageSize < 0:
		return errors.New("rate and page size cannot be negative")
	}
	return nil
}

// StartBroadcast starts a new broadcast; its id is new, so a duplicate is
// refused rather than joined.
func StartBroadcast(ctx context.Context, c client.Client, taskQueue string, in BroadcastInput) error {
	_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: BroadcastWorkflowID(in.BroadcastID), TaskQueue: taskQueue,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
	}, BroadcastWorkflowType, in)
	if err != nil {
		return fmt.Errorf("start broadcast %s: %w", in.BroadcastID, err)
	}
	return nil
}
