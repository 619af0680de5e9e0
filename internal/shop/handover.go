package shop

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/client"
)

// The bot never waits for a workflow to finish a user's request. It shows
// the user a "working on it" message at once, hands the request to the
// workflow, and leaves: the workflow answers by editing that message into
// the outcome. Only what the bot itself learns while handing over (a
// validator's refusal, or that Temporal could not take the request) is the
// bot's to say.

// Reply is where a workflow answers a request the bot handed over.
type Reply struct {
	// MessageID is the bot's "working on it" message in the user's chat,
	// edited into the outcome; 0 when it could not be sent, and the
	// outcome then comes as a new message.
	MessageID int
}

// HandOverSubscriptionUpdate sends an update to the user's Subscription
// workflow (withStart: starting the workflow if it is not running) and
// returns as soon as Temporal has accepted it: nil when the workflow now
// answers the user itself, the validator's refusal (RefusalFrom), or the
// error that kept the request from being handed over.
func HandOverSubscriptionUpdate(ctx context.Context, c client.Client, taskQueue string, p Policy, userID int64, withStart bool, update string, arg any) error {
	opts := client.UpdateWorkflowOptions{
		WorkflowID: SubscriptionWorkflowID(userID), UpdateName: update, Args: []any{arg},
		WaitForStage: client.WorkflowUpdateStageAccepted,
	}
	var (
		h   client.WorkflowUpdateHandle
		err error
	)
	if withStart {
		opts.WorkflowID = ""
		start := c.NewWithStartWorkflowOperation(SubscriptionStartOptions(taskQueue, userID),
			SubscriptionWorkflowType, SubscriptionInput{UserID: userID, Policy: p})
		h, err = c.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{StartWorkflowOperation: start, UpdateOptions: opts})
	} else {
		h, err = c.UpdateWorkflow(ctx, opts)
	}
	if err != nil {
		return fmt.Errorf("hand %s over to the subscription of user %d: %w", update, userID, err)
	}
	return acceptedOutcome(ctx, h)
}

// acceptedOutcome reads an accepted update's handle without waiting for
// its completion: a refusal is known at acceptance, and the client hands
// it back in a completed handle, which answers even a cancelled context.
// Any other answer (still running, finished, failed in its handler) means
// the workflow has the request and answers the user itself.
func acceptedOutcome(ctx context.Context, h client.WorkflowUpdateHandle) error {
	now, cancel := context.WithCancel(ctx)
	cancel()
	if err := h.Get(now, nil); RefusalFrom(err).Refused() {
		return err
	}
	return nil
}
