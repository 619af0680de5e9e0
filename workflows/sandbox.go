package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/shop"
)

// SandboxExpire is the sandbox's "expire my subscription in N minutes", so
// an operator can watch reminders, renewal and expiry happen without
// waiting days. It moves the stored expiry and then tells the user's
// Subscription workflow, which owns the timers, through the same replacing
// extension an admin correction would use; the bot never writes keys or
// expiries itself. The worker refuses it outside the sandbox.
func SandboxExpire(ctx workflow.Context, in shop.SandboxExpireInput) (shop.SandboxExpireResult, error) {
	if in.UserID <= 0 {
		return shop.SandboxExpireResult{}, temporal.NewNonRetryableApplicationError("user id must be positive", "InvalidInput", nil)
	}
	if in.In < shop.MinSandboxExpiry || in.In > shop.MaxSandboxExpiry {
		return shop.SandboxExpireResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("expiry in %s is outside %s..%s", in.In, shop.MinSandboxExpiry, shop.MaxSandboxExpiry), "InvalidInput", nil)
	}
	// Listed with the user's other workflows in the Temporal UI.
	if err := workflow.UpsertTypedSearchAttributes(ctx, shop.AttrTelegramUserID.ValueSet(in.UserID)); err != nil {
		return shop.SandboxExpireResult{}, err
	}

	var a *activities.Activities
	// Workflow time, whole seconds: the same instant on every retry and in
	// every message.
	at := workflow.Now(ctx).Add(in.In).Truncate(time.Second)
	// Nothing has changed if this step gives up, and someone is waiting in
	// the chat, so it is bounded.
	dbCtx := on(ctx, shop.BulkheadDB, workflow.ActivityOptions{
		StartToCloseTimeout:    15 * time.Second,
		ScheduleToCloseTimeout: time.Minute,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Second},
	})
	var set activities.SandboxExpiryResult
	if err := workflow.ExecuteActivity(dbCtx, a.SetSandboxExpiry, activities.SandboxExpiryInput{UserID: in.UserID, ExpiresAt: at}).Get(ctx, &set); err != nil {
		return shop.SandboxExpireResult{}, err
	}
	if !set.Live {
		return shop.SandboxExpireResult{}, nil
	}

	// The database has moved; the Subscription workflow must follow, so
	// this is retried until Temporal takes it.
	ext := shop.Extension{
		ID:        "sandbox:" + workflow.GetInfo(ctx).WorkflowExecution.ID,
		Kind:      shop.ExtensionGrant,
		ExpiresAt: set.ExpiresAt,
		Trial:     set.Trial,
		Replace:   true,
	}
	if err := workflow.ExecuteActivity(withTemporal(ctx), a.DeliverExtension, activities.DeliverExtensionInput{
		UserID: in.UserID, Extension: ext,
	}).Get(ctx, nil); err != nil {
		return shop.SandboxExpireResult{}, err
	}
	return shop.SandboxExpireResult{Live: true, ExpiresAt: set.ExpiresAt}, nil
}
