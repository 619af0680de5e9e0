package shop

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/client"
)

// The SandboxExpire workflow: the sandbox's "expire my subscription in N
// minutes".

// SandboxExpireWorkflowType is the stable name of SandboxExpire.
const SandboxExpireWorkflowType = "SandboxExpire"

// The sandbox lets an expiry be set this far ahead: at least long enough to
// watch a reminder arrive, at most a day.
const (
	MinSandboxExpiry = time.Minute
	MaxSandboxExpiry = 24 * time.Hour
)

// SandboxExpireWorkflowID names one "expire in N minutes" request; n makes
// each request its own workflow (the bot uses the request time).
func SandboxExpireWorkflowID(userID, n int64) string {
	return fmt.Sprintf("sandbox-expire/%d/%d", userID, n)
}

// SandboxExpireInput asks for the user's subscription to end In from now.
type SandboxExpireInput struct {
	UserID int64
	In     time.Duration
}

// SandboxExpireResult is the new expiry; Live is false when the user had no
// trial or active subscription, and nothing changed.
type SandboxExpireResult struct {
	Live      bool
	ExpiresAt time.Time
}

// StartSandboxExpire starts one "expire in N minutes" request; n makes it
// its own workflow.
func StartSandboxExpire(ctx context.Context, c client.Client, taskQueue string, n int64, in SandboxExpireInput) (client.WorkflowRun, error) {
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:        SandboxExpireWorkflowID(in.UserID, n),
		TaskQueue: taskQueue,
		// It is one short step and a signal; anything longer is a stuck
		// worker, and the user has long been told to try again.
		WorkflowExecutionTimeout: 10 * time.Minute,
	}, SandboxExpireWorkflowType, in)
	if err != nil {
		return nil, fmt.Errorf("start sandbox expire for user %d: %w", in.UserID, err)
	}
	return run, nil
}
