package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"vpnflow/internal/store"
)

// RenewalOfferInput asks what renewing the period of UserID ending at
// PeriodEnd costs today.
type RenewalOfferInput struct {
	UserID    int64
	PlanID    string
	PeriodEnd time.Time
}

// RenewalOffer is the balance purchase that renews a period: its id is
// derived from user and period end (RenewalPurchaseID), so the Purchase
// workflow purchase/<id> exists once per period; days and price are the
// plan's as configured now. Found is false when the plan is no longer sold.
type RenewalOffer struct {
	Found      bool
	PurchaseID string
	PlanID     string
	Days       int
	Amount     int64
	Currency   string
}

// RenewalOffer reads the subscription's plan from the current configuration
// for an auto-renewal. It reads nothing else, so it is safe to repeat.
func (a *Activities) RenewalOffer(_ context.Context, in RenewalOfferInput) (RenewalOffer, error) {
	plan, ok := a.Config.Plan(in.PlanID)
	if !ok {
		return RenewalOffer{}, nil
	}
	return RenewalOffer{
		Found: true, PurchaseID: RenewalPurchaseID(in.UserID, in.PeriodEnd).String(),
		PlanID: plan.ID, Days: plan.Days, Amount: plan.Price, Currency: a.Config.Currency,
	}, nil
}

// RenewalOutcomeInput names a renewal purchase.
type RenewalOutcomeInput struct {
	UserID     int64
	PurchaseID string
}

// RenewalOutcome is a renewal purchase as the database has it, with what
// the user is told about it: the balance left, and the expiry it bought.
type RenewalOutcome struct {
	Status    string // a purchase status; "" when there is no such purchase
	Balance   int64
	ExpiresAt time.Time // the subscription's expiry now
}

// RenewalOutcome reads a renewal's result: for the short-balance notice,
// and for a renewal whose Purchase workflow an earlier attempt started.
func (a *Activities) RenewalOutcome(ctx context.Context, in RenewalOutcomeInput) (RenewalOutcome, error) {
	id, err := purchaseUUID(in.PurchaseID)
	if err != nil {
		return RenewalOutcome{}, err
	}
	var out RenewalOutcome
	p, err := a.Store.GetPurchase(ctx, id)
	switch {
	case err == nil:
		out.Status = p.Status
	case !errors.Is(err, store.ErrNotFound):
		return out, storeError("read renewal "+in.PurchaseID, err)
	}
	u, err := a.Store.GetUser(ctx, in.UserID)
	if err != nil {
		return out, storeError(fmt.Sprintf("read balance of user %d", in.UserID), err)
	}
	out.Balance = u.Balance
	sub, err := a.Store.GetSubscription(ctx, in.UserID)
	switch {
	case err == nil:
		out.ExpiresAt = sub.ExpiresAt
	case !errors.Is(err, store.ErrNotFound):
		return out, storeError(fmt.Sprintf("read subscription of user %d", in.UserID), err)
	}
	return out, nil
}
