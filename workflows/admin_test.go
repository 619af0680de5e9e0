package workflows

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"vpnflow/activities"
	"vpnflow/internal/notice"
	"vpnflow/internal/shop"
)

var newExpiry = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// adminEnv records the admin workflows' activity calls in order.
type adminEnv struct {
	*testsuite.TestWorkflowEnvironment
	calls      []string
	grants     []activities.GrantInput
	extensions []shop.Extension
	bans       []activities.DeliverBanInput
	notices    []notice.Notice
	purchase   activities.PurchaseInfo
	promo      activities.RedeemPromoResult
	promoErr   error
	recordFail int // RecordRefund fails this many times first
	refunded   bool
}

func newAdminEnv() *adminEnv {
	env := newTestEnv()
	a := &activities.Activities{}
	env.RegisterActivity(a)
	e := &adminEnv{TestWorkflowEnvironment: env}
	env.OnActivity(a.GrantTime, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.GrantInput) (activities.GrantResult, error) {
		e.calls = append(e.calls, "GrantTime")
		e.grants = append(e.grants, in)
		return activities.GrantResult{ExpiresAt: newExpiry, Status: shop.StatusActive}, nil
	})
	env.OnActivity(a.DeliverExtension, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.DeliverExtensionInput) error {
		e.calls = append(e.calls, "DeliverExtension")
		e.extensions = append(e.extensions, in.Extension)
		return nil
	})
	env.OnActivity(a.SetBanned, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.BanInput) (activities.BanResult, error) {
		e.calls = append(e.calls, "SetBanned")
		return activities.BanResult{Banned: true}, nil
	})
	env.OnActivity(a.DeliverBan, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.DeliverBanInput) error {
		e.calls = append(e.calls, "DeliverBan")
		e.bans = append(e.bans, in)
		return nil
	})
	env.OnActivity(a.LoadPurchase, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.PurchaseRef) (activities.PurchaseInfo, error) {
		e.calls = append(e.calls, "LoadPurchase")
		return e.purchase, nil
	})
	env.OnActivity(a.RefundStars, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RefundStarsInput) error {
		e.calls = append(e.calls, "RefundStars")
		return nil
	})
	env.OnActivity(a.RecordRefund, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RecordRefundInput) (activities.RecordRefundResult, error) {
		e.calls = append(e.calls, "RecordRefund")
		if e.recordFail > 0 {
			e.recordFail--
			return activities.RecordRefundResult{}, errors.New("connection reset")
		}
		already := e.refunded
		e.refunded = true
		return activities.RecordRefundResult{AlreadyRefunded: already}, nil
	})
	env.OnActivity(a.CreditRefundToBalance, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.PurchaseRef) (activities.CreditRefundResult, error) {
		e.calls = append(e.calls, "CreditRefundToBalance")
		return activities.CreditRefundResult{Balance: 300}, nil
	})
	env.OnActivity(a.Notify, mock.Anything, mock.Anything).Return(func(_ context.Context, n notice.Notice) error {
		e.calls = append(e.calls, "Notify")
		e.notices = append(e.notices, n)
		return nil
	})
	env.OnActivity(a.RedeemPromo, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.RedeemPromoInput) (activities.RedeemPromoResult, error) {
		e.calls = append(e.calls, "RedeemPromo")
		return e.promo, e.promoErr
	})
	env.OnActivity(a.SavePromoDiscount, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.PromoDiscountInput) error {
		e.calls = append(e.calls, "SavePromoDiscount")
		return nil
	})
	return e
}

// errorType is the innermost named application error type in err's chain:
// a workflow's failure wraps the activity's.
func errorType(err error) string {
	typ := ""
	for ; err != nil; err = errors.Unwrap(err) {
		if appErr, ok := err.(*temporal.ApplicationError); ok && appErr.Type() != "" {
			typ = appErr.Type()
		}
	}
	return typ
}

func TestGrantBooksThenDelivers(t *testing.T) {
	e := newAdminEnv()
	e.ExecuteWorkflow(Grant, shop.GrantRequest{UserID: 42, Days: 7, Reference: "ref-1", AdminID: 1})
	require.NoError(t, e.GetWorkflowError())
	require.Equal(t, []string{"GrantTime", "DeliverExtension"}, e.calls)
	require.Equal(t, activities.GrantInput{UserID: 42, Days: 7, Kind: "admin", Reference: "ref-1"}, e.grants[0])
	require.Equal(t, shop.Extension{ID: "grant:ref-1", Kind: "grant", ExpiresAt: newExpiry}, e.extensions[0])
	var out shop.GrantOutcome
	require.NoError(t, e.GetWorkflowResult(&out))
	require.Equal(t, newExpiry, out.ExpiresAt)
}

func TestGrantRefusesBadInput(t *testing.T) {
	e := newAdminEnv()
	e.ExecuteWorkflow(Grant, shop.GrantRequest{UserID: 42, Days: 0, Reference: "r"})
	require.Equal(t, "InvalidInput", errorType(e.GetWorkflowError()))
	require.Empty(t, e.calls)
}

func TestModerateRecordsThenSignals(t *testing.T) {
	for _, ban := range []bool{true, false} {
		e := newAdminEnv()
		e.ExecuteWorkflow(Moderate, shop.ModerationRequest{UserID: 42, Ban: ban, AdminID: 1})
		require.NoError(t, e.GetWorkflowError())
		require.Equal(t, []string{"SetBanned", "DeliverBan"}, e.calls)
		require.Equal(t, activities.DeliverBanInput{UserID: 42, Ban: shop.Ban{Banned: ban, By: 1}}, e.bans[0])
	}
}

func starsPurchase(status string) activities.PurchaseInfo {
	return activities.PurchaseInfo{PurchaseID: "p1", UserID: 42, Kind: shop.KindSubscription, PlanID: "1m", Days: 30,
		Amount: 150, Currency: "XTR", Provider: shop.ProviderStars, Status: status, ChargeID: "ch-1"}
}

func TestRefundStarsCallsTelegramOnceEvenIfTheDatabaseRetries(t *testing.T) {
	e := newAdminEnv()
	e.purchase = starsPurchase(shop.PurchasePaid)
	e.recordFail = 2
	e.ExecuteWorkflow(Refund, shop.RefundRequest{PurchaseID: "p1", AdminID: 1})
	require.NoError(t, e.GetWorkflowError())
	require.Equal(t, []string{"LoadPurchase", "RefundStars", "RecordRefund", "RecordRefund", "RecordRefund",
		"GrantTime", "DeliverExtension", "Notify"}, e.calls)
	require.Equal(t, activities.GrantInput{UserID: 42, Days: -30, Kind: "refund", Reference: "p1"}, e.grants[0])
	require.Equal(t, shop.Extension{ID: "refund:p1", Kind: "refund", ExpiresAt: newExpiry, Replace: true}, e.extensions[0])
	require.Equal(t, "refund_done", e.notices[0].Message)
	var out shop.RefundOutcome
	require.NoError(t, e.GetWorkflowResult(&out))
	require.False(t, out.AlreadyRefunded)
	require.False(t, out.ToBalance)
}

func TestRefundOfARefundedPurchaseSkipsTelegramAndTheNotice(t *testing.T) {
	e := newAdminEnv()
	e.purchase = starsPurchase(shop.PurchaseRefunded)
	e.refunded = true
	e.ExecuteWorkflow(Refund, shop.RefundRequest{PurchaseID: "p1", AdminID: 1})
	require.NoError(t, e.GetWorkflowError())
	require.NotContains(t, e.calls, "RefundStars")
	require.NotContains(t, e.calls, "Notify")
	var out shop.RefundOutcome
	require.NoError(t, e.GetWorkflowResult(&out))
	require.True(t, out.AlreadyRefunded)
}

func TestRefundCryptoPayGoesToTheBalance(t *testing.T) {
	e := newAdminEnv()
	e.purchase = starsPurchase(shop.PurchasePaid)
	e.purchase.Provider, e.purchase.Currency, e.purchase.Amount = shop.ProviderCryptoPay, "USD", 300
	e.ExecuteWorkflow(Refund, shop.RefundRequest{PurchaseID: "p1", AdminID: 1})
	require.NoError(t, e.GetWorkflowError())
	require.Equal(t, []string{"LoadPurchase", "RecordRefund", "CreditRefundToBalance", "GrantTime", "DeliverExtension", "Notify"}, e.calls)
	var out shop.RefundOutcome
	require.NoError(t, e.GetWorkflowResult(&out))
	require.True(t, out.ToBalance)
}

func TestRefundRefusesUnpaidAndTopUps(t *testing.T) {
	e := newAdminEnv()
	e.purchase = starsPurchase(shop.PurchaseExpired)
	e.ExecuteWorkflow(Refund, shop.RefundRequest{PurchaseID: "p1"})
	require.Equal(t, shop.ErrNotPaid, errorType(e.GetWorkflowError()))
	require.Equal(t, []string{"LoadPurchase"}, e.calls)

	e = newAdminEnv()
	e.purchase = activities.PurchaseInfo{PurchaseID: "p2", UserID: 42, Kind: shop.KindTopUp, Amount: 500, Currency: "USD",
		Provider: shop.ProviderCryptoPay, Status: shop.PurchasePaid}
	e.ExecuteWorkflow(Refund, shop.RefundRequest{PurchaseID: "p2"})
	require.Equal(t, activities.ErrNotRefundable, errorType(e.GetWorkflowError()))
	require.Equal(t, []string{"LoadPurchase"}, e.calls)
}

func TestPromoRedemption(t *testing.T) {
	e := newAdminEnv()
	e.promo = activities.RedeemPromoResult{Code: "WINTER", Kind: shop.PromoDays, Value: 7}
	e.ExecuteWorkflow(PromoRedemption, shop.PromoRequest{Code: "winter", UserID: 42})
	require.NoError(t, e.GetWorkflowError())
	require.Equal(t, []string{"RedeemPromo", "GrantTime", "DeliverExtension"}, e.calls)
	require.Equal(t, activities.GrantInput{UserID: 42, Days: 7, Kind: "promo", Reference: "WINTER"}, e.grants[0])
	require.Equal(t, shop.Extension{ID: "promo:WINTER", Kind: "promo", ExpiresAt: newExpiry}, e.extensions[0])

	// Already redeemed: applied again (idempotent downstream), reported.
	e = newAdminEnv()
	e.promo = activities.RedeemPromoResult{Code: "WINTER", Kind: shop.PromoDays, Value: 7, AlreadyRedeemed: true}
	e.ExecuteWorkflow(PromoRedemption, shop.PromoRequest{Code: "WINTER", UserID: 42})
	require.NoError(t, e.GetWorkflowError())
	var out shop.PromoOutcome
	require.NoError(t, e.GetWorkflowResult(&out))
	require.True(t, out.AlreadyRedeemed)
	require.Equal(t, []string{"RedeemPromo", "GrantTime", "DeliverExtension"}, e.calls)

	e = newAdminEnv()
	e.promo = activities.RedeemPromoResult{Code: "SALE", Kind: shop.PromoPercent, Value: 20}
	e.ExecuteWorkflow(PromoRedemption, shop.PromoRequest{Code: "SALE", UserID: 42})
	require.NoError(t, e.GetWorkflowError())
	require.Equal(t, []string{"RedeemPromo", "SavePromoDiscount"}, e.calls)

	e = newAdminEnv()
	e.promoErr = temporal.NewNonRetryableApplicationError("no uses left", shop.ErrPromoExhausted, nil)
	e.ExecuteWorkflow(PromoRedemption, shop.PromoRequest{Code: "SALE", UserID: 42})
	require.Equal(t, shop.ErrPromoExhausted, errorType(e.GetWorkflowError()))
	require.Equal(t, []string{"RedeemPromo"}, e.calls)
}
