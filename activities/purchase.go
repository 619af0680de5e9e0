package activities

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

func purchaseUUID(id string) (uuid.UUID, error) {
	u, err := uuid.Parse(id)
	if err != nil {
		return uuid.Nil, permanent("InvalidInput", fmt.Errorf("purchase id %q: %w", id, err))
	}
	return u, nil
}

// RecordPurchase stores the purchase as pending (idempotent on its id).
func (a *Activities) RecordPurchase(ctx context.Context, in shop.NewPurchase) (RecordPurchaseResult, error) {
	id, err := purchaseUUID(in.PurchaseID)
	if err != nil {
		return RecordPurchaseResult{}, err
	}
	p, err := a.Store.CreatePurchase(ctx, store.NewPurchase{
		ID: id, UserID: in.UserID, Kind: in.Kind, PlanID: in.PlanID, Days: in.Days,
		Amount: in.Amount, Currency: in.Currency, Provider: in.Provider,
	})
	if err != nil {
		return RecordPurchaseResult{}, storeError("record purchase "+in.PurchaseID, err)
	}
	return RecordPurchaseResult{Status: p.Status}, nil
}

// SaveInvoice records the provider's invoice against the purchase.
func (a *Activities) SaveInvoice(ctx context.Context, in SaveInvoiceInput) error {
	id, err := purchaseUUID(in.PurchaseID)
	if err != nil {
		return err
	}
	_, err = a.Store.SetPurchaseInvoice(ctx, id, in.Invoice.InvoiceID, in.Invoice.PayURL, in.Invoice.ExpiresAt)
	return storeError("save invoice for purchase "+in.PurchaseID, err)
}

// CreditPurchase books a payment: one transaction that the schema's unique
// keys make safe to repeat.
func (a *Activities) CreditPurchase(ctx context.Context, in CreditInput) (CreditResult, error) {
	id, err := purchaseUUID(in.PurchaseID)
	if err != nil {
		return CreditResult{}, err
	}
	res, err := a.Store.CreditPurchase(ctx, store.CreditParams{
		PurchaseID: id, ChargeID: in.ChargeID, Referral: a.referralTerms(),
		EmailDomain: a.Config.XrayEmailDomain,
	})
	if err != nil {
		return CreditResult{}, storeError("credit purchase "+in.PurchaseID, err)
	}
	return CreditResult{
		Kind: res.Kind, ExpiresAt: res.ExpiresAt,
		Balance: res.Balance, ReferrerID: res.ReferrerID, ReferralBonusPaid: res.ReferralBonusPaid,
		ReferralBonus: res.ReferralBonus,
	}, nil
}

// referralTerms is the configured referral share. A Stars plan is valued
// at its price in the shop's currency, scaled by the Stars actually paid
// (a promo lowers both alike); Stars the plan list cannot value earn
// nothing.
func (a *Activities) referralTerms() store.ReferralTerms {
	cfg := a.Config
	return store.ReferralTerms{
		Percent: cfg.ReferralPercent, Cap: cfg.ReferralMinor, Currency: cfg.Currency,
		Value: func(p store.Purchase) (int64, bool) {
			if p.Currency == cfg.Currency {
				return p.Amount, true
			}
			plan, ok := cfg.Plan(p.PlanID)
			if p.Currency != "XTR" || !ok || plan.Stars <= 0 {
				return 0, false
			}
			return plan.Price * p.Amount / plan.Stars, true
		},
	}
}

// ExpirePurchase closes an unpaid purchase.
func (a *Activities) ExpirePurchase(ctx context.Context, in PurchaseRef) error {
	id, err := purchaseUUID(in.PurchaseID)
	if err != nil {
		return err
	}
	_, err = a.Store.ExpirePurchase(ctx, id)
	return storeError("expire purchase "+in.PurchaseID, err)
}

// FailPurchaseInput closes a purchase that cannot be paid, with the reason.
type FailPurchaseInput struct {
	PurchaseID string
	Reason     string
}

// FailPurchase records that an unpaid purchase failed, and why, which frees
// a percent promo attached to it. It leaves a paid (or already closed)
// purchase alone, and a purchase that was never recorded is nothing to
// fail, so every retry succeeds the same way.
func (a *Activities) FailPurchase(ctx context.Context, in FailPurchaseInput) error {
	id, err := purchaseUUID(in.PurchaseID)
	if err != nil {
		return err
	}
	reason := in.Reason
	if reason == "" {
		reason = "unknown"
	}
	_, err = a.Store.FailPurchase(ctx, id, reason)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return storeError("fail purchase "+in.PurchaseID, err)
}
