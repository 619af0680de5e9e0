package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"vpnflow/internal/store"
)

// ErrNotSandbox refuses a sandbox-only activity on a real deployment.
const ErrNotSandbox = "NotSandbox"

// SandboxExpiryInput moves a user's expiry to ExpiresAt (sandbox only).
type SandboxExpiryInput struct {
	UserID    int64
	ExpiresAt time.Time
}

// SandboxExpiryResult is the subscription after the change. Live is false
// when the user had no trial or active subscription; nothing was changed.
type SandboxExpiryResult struct {
	Live      bool
	Trial     bool
	ExpiresAt time.Time
}

// SetSandboxExpiry sets the stored expiry of a live subscription, earlier
// or later. The worker refuses it unless it runs in the sandbox, whoever
// started the workflow.
func (a *Activities) SetSandboxExpiry(ctx context.Context, in SandboxExpiryInput) (SandboxExpiryResult, error) {
	if !a.Config.Sandbox {
		return SandboxExpiryResult{}, permanent(ErrNotSandbox, errors.New("sandbox expiry refused: VPNFLOW_SANDBOX is off"))
	}
	sub, err := a.Store.SetSandboxExpiry(ctx, in.UserID, in.ExpiresAt)
	if errors.Is(err, store.ErrNotFound) {
		return SandboxExpiryResult{}, nil
	}
	if err != nil {
		return SandboxExpiryResult{}, storeError(fmt.Sprintf("set sandbox expiry of user %d", in.UserID), err)
	}
	return SandboxExpiryResult{Live: true, Trial: sub.IsTrial, ExpiresAt: sub.ExpiresAt}, nil
}
