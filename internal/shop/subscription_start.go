package shop

import (
	"context"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// DefaultReissueEvery limits key reissues per user.
const DefaultReissueEvery = 10 * time.Minute

// SubscriptionPolicy is the timing configuration every Subscription
// workflow is started with: reminder stages before a paid and a trial
// expiry, and how long before expiry auto-renewal charges the balance.
func SubscriptionPolicy(paidReminders, trialReminders []time.Duration, autoRenewLead time.Duration) Policy {
	return Policy{
		PaidReminders:  paidReminders,
		TrialReminders: trialReminders,
		AutoRenewLead:  autoRenewLead,
		ReissueEvery:   DefaultReissueEvery,
	}
}

// SubscriptionStartOptions starts or reuses a user's Subscription workflow:
// one open run per user; a closed one is replaced. A new run starts with
// the search attributes it would set first, so it need not upsert them.
func SubscriptionStartOptions(taskQueue string, userID int64) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       SubscriptionWorkflowID(userID),
		TaskQueue:                taskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			AttrTelegramUserID.ValueSet(userID),
			AttrSubscriptionStatus.ValueSet(StatusNone),
			AttrSubscriptionStuck.ValueSet(false),
		),
	}
}

// SignalSubscription signals the user's Subscription workflow, starting it
// if it is not running. It returns once Temporal has durably accepted the
// signal.
func SignalSubscription(ctx context.Context, c client.Client, taskQueue string, p Policy, userID int64, signal string, arg any) error {
	_, err := c.SignalWithStartWorkflow(ctx, SubscriptionWorkflowID(userID), signal, arg,
		SubscriptionStartOptions(taskQueue, userID), SubscriptionWorkflowType, SubscriptionInput{UserID: userID, Policy: p})
	if err != nil {
		return fmt.Errorf("signal %s to the subscription of user %d: %w", signal, userID, err)
	}
	return nil
}

// UpdateSubscriptionWithStart sends an update to the user's Subscription
// workflow, starting the workflow if it is not running, and returns once
// the update has completed (its handle then holds the outcome).
func UpdateSubscriptionWithStart(ctx context.Context, c client.Client, taskQueue string, p Policy, userID int64, update string, arg any) (client.WorkflowUpdateHandle, error) {
	start := c.NewWithStartWorkflowOperation(SubscriptionStartOptions(taskQueue, userID),
		SubscriptionWorkflowType, SubscriptionInput{UserID: userID, Policy: p})
	return c.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: start,
		UpdateOptions: client.UpdateWorkflowOptions{
			UpdateName: update, Args: []any{arg},
			WaitForStage: client.WorkflowUpdateStageCompleted,
		},
	})
}
