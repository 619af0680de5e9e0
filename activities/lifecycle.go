package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"vpnflow/internal/shop"
	"vpnflow/internal/store"
	"vpnflow/internal/xray"
)

// BeginReissue mints the user's next key as pending and names the emails
// the old and new keys live under in Xray.
func (a *Activities) BeginReissue(ctx context.Context, in UserRef) (ReissuePlan, error) {
	if _, err := a.Store.BeginReissue(ctx, in.UserID); err != nil {
		return ReissuePlan{}, storeError(fmt.Sprintf("begin reissue for user %d", in.UserID), err)
	}
	sub, err := a.Store.GetSubscription(ctx, in.UserID)
	if err != nil {
		return ReissuePlan{}, storeError(fmt.Sprintf("read subscription of user %d", in.UserID), err)
	}
	next, ok := xray.NextKeyEmail(sub.XrayEmail, a.Config.XrayEmailDomain)
	if !ok {
		return ReissuePlan{}, permanent(ErrConfiguration, fmt.Errorf("email %q is not under XRAY_EMAIL_DOMAIN %q", sub.XrayEmail, a.Config.XrayEmailDomain))
	}
	return ReissuePlan{OldEmail: sub.XrayEmail, NewEmail: next}, nil
}

// AddPendingKey adds the pending key to Xray under its new email,
// replacing a stale key left there by an interrupted reissue.
func (a *Activities) AddPendingKey(ctx context.Context, in KeyRef) error {
	pending, err := a.Store.PendingKey(ctx, in.UserID)
	if err != nil {
		return storeError(fmt.Sprintf("read pending key of user %d", in.UserID), err)
	}
	xc, err := a.userXray(ctx, in.UserID)
	if err != nil {
		return err
	}
	return xrayError("add reissued key "+in.Email, addReplacingStale(ctx, xc, xray.User{Email: in.Email, UUID: pending, Flow: a.Config.VLESSFlow}))
}

// CommitReissue makes the pending key the user's key.
func (a *Activities) CommitReissue(ctx context.Context, in KeyRef) error {
	return storeError(fmt.Sprintf("commit reissue for user %d", in.UserID), a.Store.CommitReissueAs(ctx, in.UserID, in.Email))
}

// AbortReissue drops the pending key from the database.
func (a *Activities) AbortReissue(ctx context.Context, in UserRef) error {
	err := a.Store.AbortReissue(ctx, in.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return storeError(fmt.Sprintf("abort reissue for user %d", in.UserID), err)
}

// RemoveKey removes one key by its email (missing is fine) from the Xray
// of the user's node.
func (a *Activities) RemoveKey(ctx context.Context, in KeyRef) error {
	xc, err := a.userXray(ctx, in.UserID)
	if err != nil {
		return err
	}
	return xrayError("remove key "+in.Email, xc.RemoveUser(ctx, in.Email))
}

// SetAutoRenew records the user's auto-renewal choice.
func (a *Activities) SetAutoRenew(ctx context.Context, in AutoRenewSetting) error {
	return storeError(fmt.Sprintf("set auto-renew of user %d", in.UserID), a.Store.SetAutoRenew(ctx, in.UserID, in.On))
}

// renewalNamespace derives auto-renewal purchase ids: the same user and
// period always give the same purchase, so a renewal can never be charged
// twice, whatever retries or restarts happen.
var renewalNamespace = uuid.MustParse("5d1c3c1e-7a53-4a63-9b0e-2f4c9e0d7a11")

// RenewalPurchaseID is the purchase id of the renewal of userID's period
// ending at periodEnd.
func RenewalPurchaseID(userID int64, periodEnd time.Time) uuid.UUID {
	return uuid.NewSHA1(renewalNamespace, fmt.Appendf(nil, "autorenew:%d:%d", userID, periodEnd.Unix()))
}

// AutoRenew renews from the balance: a balance purchase whose id is derived
// from (user, period end), credited by the same transaction as any other
// purchase. A short balance changes nothing and is reported, not retried.
// Only runs of the Subscription workflow recorded before its
// autorenew-child-purchase version call it (their histories must replay);
// newer runs renew through a Purchase child workflow (RenewalOffer,
// workflows/subscription_renewal.go).
func (a *Activities) AutoRenew(ctx context.Context, in AutoRenewInput) (AutoRenewResult, error) {
	plan, ok := a.Config.Plan(in.PlanID)
	if !ok {
		return AutoRenewResult{NoPlan: true}, nil
	}
	id := RenewalPurchaseID(in.UserID, in.PeriodEnd)
	res := AutoRenewResult{Price: plan.Price, Currency: a.Config.Currency}
	if _, err := a.Store.CreatePurchase(ctx, store.NewPurchase{
		ID: id, UserID: in.UserID, Kind: shop.KindSubscription, PlanID: plan.ID, Days: plan.Days,
		Amount: plan.Price, Currency: a.Config.Currency, Provider: shop.ProviderBalance,
	}); err != nil {
		return res, storeError("record renewal "+id.String(), err)
	}
	credit, err := a.Store.CreditPurchase(ctx, store.CreditParams{
		PurchaseID: id, EmailDomain: a.Config.XrayEmailDomain,
		Referral: a.referralTerms(),
	})
	if errors.Is(err, store.ErrInsufficientBalance) || errors.Is(err, store.ErrPurchaseClosed) {
		// Closed: failed for lack of balance by an earlier attempt (a retry
		// after its commit), so this period stays unrenewed, reported the
		// same way.
		if errors.Is(err, store.ErrInsufficientBalance) {
			if _, ferr := a.Store.FailPurchase(ctx, id, "insufficient balance"); ferr != nil {
				return res, storeError("close unpaid renewal "+id.String(), ferr)
			}
		}
		u, uerr := a.Store.GetUser(ctx, in.UserID)
		if uerr != nil {
			return res, storeError(fmt.Sprintf("read balance of user %d", in.UserID), uerr)
		}
		res.Balance = u.Balance
		return res, nil
	}
	if err != nil {
		return res, storeError("credit renewal "+id.String(), err)
	}
	res.Renewed, res.ExpiresAt, res.Balance = true, credit.ExpiresAt, credit.Balance
	return res, nil
}
