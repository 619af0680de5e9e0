package shop

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// The admin actions (Grant, Moderate, Refund) and the XrayUsers count:
// short workflows the bot starts and waits a few seconds for.

// Registered names of the admin workflows.
const (
	GrantWorkflowType     = "Grant"
	ModerateWorkflowType  = "Moderate"
	RefundWorkflowType    = "Refund"
	XrayUsersWorkflowType = "XrayUsers"
)

// Workflow IDs of the admin actions. They are the locks: one refund per
// purchase, one ban or unban at a time per user, one redemption per user
// and code.
func GrantWorkflowID(reference string) string { return "grant/" + reference }
func ModerationWorkflowID(userID int64) string {
	return "moderation/" + strconv.FormatInt(userID, 10)
}
func RefundWorkflowID(purchaseID string) string { return "refund/" + purchaseID }

// GrantRequest gives a user days of access.
type GrantRequest struct {
	UserID    int64
	Days      int
	Reference string // unique per command: makes the grant happen once
	AdminID   int64
}

// GrantOutcome is the subscription after the grant.
type GrantOutcome struct {
	ExpiresAt time.Time
	Status    string
}

// ModerationRequest bans or unbans a user.
type ModerationRequest struct {
	UserID  int64
	Ban     bool
	AdminID int64
}

// ModerationOutcome is the user's state afterwards.
type ModerationOutcome struct {
	Banned bool
}

// RefundRequest reverses a paid purchase.
type RefundRequest struct {
	PurchaseID string
	AdminID    int64
}

// RefundOutcome is the refund as done.
type RefundOutcome struct {
	UserID          int64
	Provider        string
	Amount          int64
	Currency        string
	AlreadyRefunded bool
	ToBalance       bool      // the money went to the bot balance
	ExpiresAt       time.Time // the subscription's expiry after the days were taken back
}

// actionOptions start an admin or promo workflow. join makes a second
// start while one runs wait for that run instead of failing; userID, when
// set, lets the Temporal UI find the action by user.
func actionOptions(taskQueue, id string, userID int64, join bool) client.StartWorkflowOptions {
	opts := client.StartWorkflowOptions{
		ID: id, TaskQueue: taskQueue,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
	}
	if join {
		opts.WorkflowIDConflictPolicy = enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING
	}
	if userID > 0 {
		opts.TypedSearchAttributes = temporal.NewSearchAttributes(AttrTelegramUserID.ValueSet(userID))
	}
	return opts
}

// startAction starts an admin or promo workflow.
func startAction(ctx context.Context, c client.Client, opts client.StartWorkflowOptions, workflowType string, in any) (client.WorkflowRun, error) {
	run, err := c.ExecuteWorkflow(ctx, opts, workflowType, in)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", opts.ID, err)
	}
	return run, nil
}

// StartGrant starts a grant; its reference makes it happen once.
func StartGrant(ctx context.Context, c client.Client, taskQueue string, in GrantRequest) (client.WorkflowRun, error) {
	return startAction(ctx, c, actionOptions(taskQueue, GrantWorkflowID(in.Reference), in.UserID, false), GrantWorkflowType, in)
}

// StartModerate starts a ban or unban.
func StartModerate(ctx context.Context, c client.Client, taskQueue string, in ModerationRequest) (client.WorkflowRun, error) {
	return startAction(ctx, c, actionOptions(taskQueue, ModerationWorkflowID(in.UserID), in.UserID, false), ModerateWorkflowType, in)
}

// StartRefund starts a refund, or joins the one running for the purchase.
func StartRefund(ctx context.Context, c client.Client, taskQueue string, in RefundRequest) (client.WorkflowRun, error) {
	return startAction(ctx, c, actionOptions(taskQueue, RefundWorkflowID(in.PurchaseID), 0, true), RefundWorkflowType, in)
}

// StartXrayUsers starts a count of Xray's users. It gives up within
// seconds: the bot shows the count as unknown rather than wait.
func StartXrayUsers(ctx context.Context, c client.Client, taskQueue string) (client.WorkflowRun, error) {
	return startAction(ctx, c, client.StartWorkflowOptions{
		ID: "xray-users/" + uuid.Must(uuid.NewV7()).String(), TaskQueue: taskQueue,
		WorkflowExecutionTimeout: 15 * time.Second,
	}, XrayUsersWorkflowType, nil)
}
