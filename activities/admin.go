package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"golang.org/x/sync/errgroup"

	"vpnflow/internal/shop"
	"vpnflow/internal/store"
	"vpnflow/internal/telegram"
)

// Error types of the admin and promo activities, for workflows to branch on.
const (
	ErrNotRefundable = "NotRefundable"
)

// GrantInput gives a user time without payment (negative Days takes it
// back). Kind and Reference make it happen once: ("admin", a fresh id per
// command), ("promo", the code), ("refund", the purchase id).
type GrantInput struct {
	UserID    int64
	Days      int
	Kind      string
	Reference string
}

// GrantResult is the subscription after the grant, the same whether this
// call or an earlier attempt booked it (each grant's reference is unique to
// its command, so a grant found booked is a retry's).
type GrantResult struct {
	ExpiresAt time.Time
	Status    string
}

// GrantTime books the grant in the database, once per (user, kind,
// reference); the caller then delivers the new expiry to the user's
// Subscription workflow.
func (a *Activities) GrantTime(ctx context.Context, in GrantInput) (GrantResult, error) {
	res, err := a.Store.GrantTime(ctx, store.GrantParams{
		UserID: in.UserID, Duration: time.Duration(in.Days) * 24 * time.Hour, Kind: in.Kind, Reference: in.Reference,
		EmailDomain: a.Config.XrayEmailDomain,
	})
	if err != nil {
		return GrantResult{}, adminStoreError(fmt.Sprintf("grant %d days to user %d", in.Days, in.UserID), err)
	}
	return GrantResult{ExpiresAt: res.ExpiresAt, Status: res.SubscriptionStatus}, nil
}

// BanInput bans or unbans a user.
type BanInput struct {
	UserID int64
	Banned bool
}

// BanResult is the user's state after the call: the same on a retry after
// the commit.
type BanResult struct {
	Banned bool
}

// SetBanned records a ban or unban in the database (the user and their
// subscription's status, in one transaction).
func (a *Activities) SetBanned(ctx context.Context, in BanInput) (BanResult, error) {
	if _, err := a.Store.SetBanned(ctx, in.UserID, in.Banned); err != nil {
		return BanResult{}, adminStoreError(fmt.Sprintf("set banned=%t for user %d", in.Banned, in.UserID), err)
	}
	return BanResult{Banned: in.Banned}, nil
}

// DeliverBanInput hands a ban or unban to the user's Subscription workflow.
type DeliverBanInput struct {
	UserID int64
	Ban    shop.Ban
}

// DeliverBan signals the user's Subscription workflow, starting it if it is
// not running; the workflow takes the key out of Xray (or puts it back).
func (a *Activities) DeliverBan(ctx context.Context, in DeliverBanInput) error {
	err := shop.SignalSubscription(ctx, a.Temporal, a.Config.TaskQueue, a.policy(), in.UserID, shop.SignalBan, in.Ban)
	if err != nil {
		return fmt.Errorf("deliver ban=%t to user %d: %w", in.Ban.Banned, in.UserID, err)
	}
	return nil
}

// PurchaseInfo is a stored purchase as a refund needs it.
type PurchaseInfo struct {
	PurchaseID string
	UserID     int64
	Kind       string
	PlanID     string
	Days       int
	Amount     int64
	Currency   string
	Provider   string
	Status     string
	ChargeID   string // Telegram's charge id for Stars; not a secret
}

// LoadPurchase reads a purchase.
func (a *Activities) LoadPurchase(ctx context.Context, in PurchaseRef) (PurchaseInfo, error) {
	id, err := purchaseUUID(in.PurchaseID)
	if err != nil {
		return PurchaseInfo{}, err
	}
	p, err := a.Store.GetPurchase(ctx, id)
	if err != nil {
		return PurchaseInfo{}, adminStoreError("load purchase "+in.PurchaseID, err)
	}
	return PurchaseInfo{
		PurchaseID: p.ID.String(), UserID: p.UserID, Kind: p.Kind, PlanID: p.PlanID, Days: p.Days,
		Amount: p.Amount, Currency: p.Currency, Provider: p.Provider, Status: p.Status, ChargeID: p.ProviderChargeID,
	}, nil
}

// RefundStarsInput names a Stars payment to give back.
type RefundStarsInput struct {
	UserID   int64
	ChargeID string
}

// RefundStars asks Telegram to return a Stars payment. Telegram refunds a
// charge once and says CHARGE_ALREADY_REFUNDED after that, so a retry after
// a lost answer succeeds without a second refund.
func (a *Activities) RefundStars(ctx context.Context, in RefundStarsInput) error {
	if in.ChargeID == "" {
		return permanent(ErrNotRefundable, errors.New("the purchase has no Telegram charge id"))
	}
	err := a.Telegram.RefundStars(ctx, in.UserID, in.ChargeID)
	if err == nil || strings.Contains(err.Error(), "CHARGE_ALREADY_REFUNDED") {
		return nil
	}
	err = fmt.Errorf("refund stars charge %s of user %d: %w", in.ChargeID, in.UserID, err)
	switch f := telegram.Classify(err); f.Kind {
	case telegram.RateLimited:
		return temporal.NewApplicationErrorWithOptions(err.Error(), errRateLimited, temporal.ApplicationErrorOptions{
			Cause: err, NextRetryDelay: f.RetryAfter + time.Second,
		})
	case telegram.BadRequest, telegram.NotModified, telegram.Blocked, telegram.Unauthorized:
		return permanent(ErrNotRefundable, err)
	}
	return err
}

// RecordRefundInput reverses a paid purchase in the database.
type RecordRefundInput struct {
	PurchaseID string
	Reason     string
}

// RecordRefundResult is the refund as booked. AlreadyRefunded means another
// request (an earlier /refund) refunded it; a retry of this activity after
// its commit reports the refund as its own.
type RecordRefundResult struct {
	AlreadyRefunded bool
	Balance         int64
	// The referral bonus the purchase had earned, taken back from
	// ReferrerID: ReferralShortfall is what their balance could not cover
	// (recorded in the audit log as referral_reversed).
	ReferrerID        int64
	ReferralReversed  int64
	ReferralShortfall int64
}

// RecordRefund marks the purchase refunded with one ledger row
// (store.RefundPurchase: a repeat finds it refunded and changes nothing).
func (a *Activities) RecordRefund(ctx context.Context, in RecordRefundInput) (RecordRefundResult, error) {
	id, err := purchaseUUID(in.PurchaseID)
	if err != nil {
		return RecordRefundResult{}, err
	}
	res, err := a.Store.RefundPurchase(ctx, store.RefundParams{PurchaseID: id, Reason: in.Reason, Request: requestKey(ctx)})
	if err != nil {
		return RecordRefundResult{}, adminStoreError("record refund of purchase "+in.PurchaseID, err)
	}
	return RecordRefundResult{
		AlreadyRefunded: res.AlreadyRefunded, Balance: res.Balance, ReferrerID: res.Referral.ReferrerID,
		ReferralReversed: res.Referral.Reversed, ReferralShortfall: res.Referral.Shortfall,
	}, nil
}

// CreditRefundResult is the buyer's balance once the refund is credited
// (by this call or an earlier attempt).
type CreditRefundResult struct {
	Balance int64
}

// CreditRefundToBalance gives a refunded Crypto Pay purchase's money back
// as balance, once.
func (a *Activities) CreditRefundToBalance(ctx context.Context, in PurchaseRef) (CreditRefundResult, error) {
	id, err := purchaseUUID(in.PurchaseID)
	if err != nil {
		return CreditRefundResult{}, err
	}
	_, balance, err := a.Store.CreditRefundToBalance(ctx, id)
	if err != nil {
		return CreditRefundResult{}, adminStoreError("credit refund of purchase "+in.PurchaseID, err)
	}
	return CreditRefundResult{Balance: balance}, nil
}

// RedeemPromoInput is a user entering a promo code.
type RedeemPromoInput struct {
	Code   string
	UserID int64
}

// RedeemPromoResult is the redeemed code. AlreadyRedeemed means an earlier
// request redeemed it (a retry of this activity after its commit does not
// count as one). It is not an error:
// the caller still applies the code (idempotently), which also finishes a
// redemption whose application was interrupted.
type RedeemPromoResult struct {
	Code            string
	Kind            string // shop.PromoDays or shop.PromoPercent
	Value           int
	AlreadyRedeemed bool
}

// RedeemPromo uses one of the code's uses for the user; the store keeps
// the uses within the limit under any concurrency.
func (a *Activities) RedeemPromo(ctx context.Context, in RedeemPromoInput) (RedeemPromoResult, error) {
	p, err := a.Store.RedeemPromoFor(ctx, in.Code, in.UserID, requestKey(ctx))
	res := RedeemPromoResult{Code: p.Code, Kind: p.Kind, Value: p.Value}
	if errors.Is(err, store.ErrPromoAlreadyRedeemed) {
		res.AlreadyRedeemed = true
		return res, nil
	}
	if err != nil {
		return RedeemPromoResult{}, adminStoreError(fmt.Sprintf("redeem promo %q for user %d", in.Code, in.UserID), err)
	}
	return res, nil
}

// PromoDiscountInput keeps a percent code for the user's next purchase.
type PromoDiscountInput struct {
	Code    string
	UserID  int64
	Percent int
}

// SavePromoDiscount stores a redeemed percent code until the bot applies it
// to the user's next plan purchase.
func (a *Activities) SavePromoDiscount(ctx context.Context, in PromoDiscountInput) error {
	err := a.Store.SavePromoDiscount(ctx, in.Code, in.UserID, in.Percent)
	return adminStoreError(fmt.Sprintf("save promo %q discount for user %d", in.Code, in.UserID), err)
}

// XrayCountInput asks how many users Xray serves.
type XrayCountInput struct{}

// XrayCount is Xray's user count on the shop's inbound.
type XrayCount struct {
	Users int64
}

// CountXrayUsers counts the users on the inbounds of the nodes in service,
// asked at once, for /stats.
func (a *Activities) CountXrayUsers(ctx context.Context, _ XrayCountInput) (XrayCount, error) {
	nodes, err := a.ListXrayNodes(ctx, XrayNodesInput{})
	if err != nil {
		return XrayCount{}, err
	}
	counts := make([]int64, len(nodes.Nodes))
	g, gctx := errgroup.WithContext(ctx)
	for i, n := range nodes.Nodes {
		g.Go(func() error {
			xc, err := a.nodeXray(gctx, n.ID)
			if err == nil {
				counts[i], err = xc.CountUsers(gctx)
			}
			return xrayError("count xray users on node "+n.Name, err)
		})
	}
	if err := g.Wait(); err != nil {
		return XrayCount{}, err
	}
	var total int64
	for _, c := range counts {
		total += c
	}
	return XrayCount{Users: total}, nil
}

// adminStoreError is storeError plus the outcomes only admin tools meet.
func adminStoreError(op string, err error) error {
	if err == nil {
		return nil
	}
	wrapped := fmt.Errorf("%s: %w", op, err)
	switch {
	case errors.Is(err, store.ErrPromoExpired):
		return permanent(shop.ErrPromoExpired, wrapped)
	case errors.Is(err, store.ErrPromoExhausted):
		return permanent(shop.ErrPromoExhausted, wrapped)
	case errors.Is(err, store.ErrPurchaseNotPaid):
		return permanent(shop.ErrNotPaid, wrapped)
	}
	return storeError(op, err)
}
