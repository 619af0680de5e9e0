package activities

import (
	"context"
	"errors"
	"fmt"

	"vpnflow/internal/shop"
	"vpnflow/internal/store"
	"vpnflow/internal/xray"
)

// policy is the subscription policy of the configuration this worker runs
// with.
func (a *Activities) policy() shop.Policy {
	return shop.SubscriptionPolicy(a.Config.PaidStages, a.Config.TrialStages, a.Config.AutoRenewLead)
}

// PolicyRequest asks for the current subscription policy.
type PolicyRequest struct{}

// CurrentPolicy is the subscription policy of the configuration this worker
// runs with. Subscription workflows read it at the start of each run and of
// each period, so a changed configuration reaches existing users.
func (a *Activities) CurrentPolicy(_ context.Context, _ PolicyRequest) (shop.Policy, error) {
	return a.policy(), nil
}

// DeliverExtension signals the user's Subscription workflow, starting it if
// it is not running. It returns once Temporal has durably accepted the
// signal; the workflow deduplicates by the extension's id.
func (a *Activities) DeliverExtension(ctx context.Context, in DeliverExtensionInput) error {
	err := shop.SignalSubscription(ctx, a.Temporal, a.Config.TaskQueue, a.policy(), in.UserID, shop.SignalExtend, in.Extension)
	if err != nil {
		return fmt.Errorf("deliver extension %s to user %d: %w", in.Extension.ID, in.UserID, err)
	}
	return nil
}

// StartTrial books the user's one free trial.
func (a *Activities) StartTrial(ctx context.Context, in UserRef) (shop.TrialResult, error) {
	sub, err := a.Store.StartTrial(ctx, in.UserID, a.Config.TrialDuration, a.Config.XrayEmailDomain)
	if err != nil {
		return shop.TrialResult{}, storeError(fmt.Sprintf("start trial for user %d", in.UserID), err)
	}
	return shop.TrialResult{ExpiresAt: sub.ExpiresAt}, nil
}

// ExpireSubscription marks the subscription expired if its time is up at
// in.At, the workflow's clock (zero: the database's); a renewal that moved
// the expiry wins and is reported back, with the row's status ("" when the
// user has no subscription row).
func (a *Activities) ExpireSubscription(ctx context.Context, in ExpireInput) (ExpireResult, error) {
	expire := a.Store.ExpireSubscription
	if in.Tell {
		expire = a.Store.ExpireAndTell
	}
	expired, err := expire(ctx, in.UserID, in.At)
	if errors.Is(err, store.ErrNotFound) {
		// No row, so no key may be in Xray: an answer, not an error the
		// workflow would retry every few minutes forever.
		return ExpireResult{}, nil
	}
	if err != nil {
		return ExpireResult{}, storeError(fmt.Sprintf("expire subscription of user %d", in.UserID), err)
	}
	if expired {
		return ExpireResult{Expired: true, Status: shop.StatusExpired}, nil
	}
	sub, err := a.Store.GetSubscription(ctx, in.UserID)
	if err != nil {
		return ExpireResult{}, storeError(fmt.Sprintf("read subscription of user %d", in.UserID), err)
	}
	if sub.Status == shop.StatusExpired {
		// Expired by an earlier attempt whose answer was lost (or by
		// another path): the same outcome, the key goes.
		return ExpireResult{Expired: true, Status: shop.StatusExpired}, nil
	}
	return ExpireResult{ExpiresAt: sub.ExpiresAt, Status: sub.Status}, nil
}

// EnsureVLESSUser makes sure the user's current key is in the Xray of
// their node. The UUID is read here, by reference, so it never enters a
// workflow's history.
func (a *Activities) EnsureVLESSUser(ctx context.Context, in UserRef) error {
	sub, err := a.Store.GetSubscription(ctx, in.UserID)
	if err != nil {
		return storeError(fmt.Sprintf("read key of user %d", in.UserID), err)
	}
	xc, err := a.nodeXray(ctx, sub.NodeID)
	if err != nil {
		return err
	}
	release, err := a.admitXray(ctx, xc)
	if err != nil {
		return err
	}
	defer release()
	u := xray.User{Email: sub.XrayEmail, UUID: sub.VLESSUUID.String(), Flow: a.Config.VLESSFlow}
	return xrayError("add vless user "+u.Email, addReplacingStale(ctx, xc, u))
}

// addReplacingStale adds the key. If Xray holds another key under the same
// email (a reissue that did not finish, or a restore), that key is stale:
// each email belongs to one user's one key version, and the database is the
// truth, so the stale key is removed and the stored one added.
func addReplacingStale(ctx context.Context, xc *xray.Client, u xray.User) error {
	err := xc.AddUser(ctx, u)
	if errors.Is(err, xray.ErrUUIDMismatch) {
		if err = xc.RemoveUser(ctx, u.Email); err == nil {
			err = xc.AddUser(ctx, u)
		}
	}
	return err
}

// RemoveVLESSUser removes the user's current key from the Xray of their
// node (a missing user is fine). The email is read from the database:
// reissues change it.
func (a *Activities) RemoveVLESSUser(ctx context.Context, in UserRef) error {
	email, node, err := a.userKey(ctx, in.UserID)
	if err != nil {
		return storeError(fmt.Sprintf("read key of user %d", in.UserID), err)
	}
	xc, err := a.nodeXray(ctx, node)
	if err != nil {
		return err
	}
	release, err := a.admitXray(ctx, xc)
	if err != nil {
		return err
	}
	defer release()
	return xrayError("remove vless user "+email, xc.RemoveUser(ctx, email))
}

// userKey is the email of the user's current key and the node it is on:
// the subscription's, or the first key's on the worker's own node (0)
// when there is no subscription row.
func (a *Activities) userKey(ctx context.Context, userID int64) (string, int16, error) {
	sub, err := a.Store.GetSubscription(ctx, userID)
	switch {
	case err == nil:
		return sub.XrayEmail, sub.NodeID, nil
	case errors.Is(err, store.ErrNotFound):
		return store.XrayEmail(userID, a.Config.XrayEmailDomain), 0, nil
	}
	return "", 0, err
}

func xrayError(op string, err error) error {
	if err == nil {
		return nil
	}
	err = fmt.Errorf("%s: %w", op, err)
	if errors.Is(err, xray.ErrInboundNotFound) {
		return permanent(ErrConfiguration, err)
	}
	if !xray.IsRetryable(err) {
		return permanent("Xray", err)
	}
	return err
}
