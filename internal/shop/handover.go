package shop

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/api/serviceerror"
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
// error that kept the request from being handed over. requestID names the
// request to Temporal (the update's ID): a second call with the same ID,
// after one whose answer was lost, takes the request once and answers as
// the first would have.
func HandOverSubscriptionUpdate(ctx context.Context, c client.Client, taskQueue string, p Policy, userID int64, withStart bool, requestID, update string, arg any) error {
	opts := client.UpdateWorkflowOptions{
		UpdateID:   requestID,
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

// MayHaveArrived reports whether a hand-over that failed with err may
// still have reached the workflow: the call ran out of time or was cut
// off after it was sent, so Temporal may have taken the request although
// its answer never came back. Only asking again with the same request ID
// tells which.
func MayHaveArrived(err error) bool {
	var deadline *serviceerror.DeadlineExceeded
	var canceled *serviceerror.Canceled
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.As(err, &deadline) || errors.As(err, &canceled)
}
