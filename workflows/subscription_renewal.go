package workflows

import (
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/notice"
	"vpnflow/internal/shop"
)

// renewByPurchase renews the period from the balance as a Purchase, the
// same path as every other charge, run as this workflow's child under
// purchase/<id>. The id is derived from user and period end, and a closed
// purchase/<id> is never started again (REJECT_DUPLICATE), so a period is
// charged at most once and the renewal shows in the UI like any purchase.
//
// The Purchase credits the balance and delivers the extension here by
// signal, as a renewal ("purchase:<id>", Kind renewal): the next drain
// applies it without the "extended" message, and this workflow sends the
// renewal's own message once the child is done.
func (s *subscription) renewByPurchase(ctx workflow.Context) error {
	var a *activities.Activities
	periodEnd := s.state.ExpiresAt
	s.state.Reminded = append(s.state.Reminded, renewalKey(periodEnd))
	var offer activities.RenewalOffer
	if err := workflow.ExecuteActivity(withConfig(ctx), a.RenewalOffer, activities.RenewalOfferInput{
		UserID: s.state.UserID, PlanID: s.state.PlanID, PeriodEnd: periodEnd,
	}).Get(ctx, &offer); err != nil {
		s.renewalFailed(ctx, periodEnd, err)
		return nil
	}
	if !offer.Found {
		workflow.GetLogger(ctx).Info("auto-renewal skipped: plan no longer sold", "plan", s.state.PlanID)
		// The user counts on the renewal: say it will not happen.
		s.notify(ctx, notice.AutoRenewNeedsPlan())
		return nil
	}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID: shop.PurchaseWorkflowID(offer.PurchaseID),
		// The charge outlives this run: a continue-as-new or a
		// termination of the subscription must not cut a credit short.
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_ABANDON,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		// As shop.StartPurchase starts a purchase, so the child need not
		// upsert them (upsertChanged). Commands are matched on replay by
		// type and workflow type, so runs recorded without them replay.
		TypedSearchAttributes: temporal.NewSearchAttributes(
			shop.AttrTelegramUserID.ValueSet(s.state.UserID),
			shop.AttrPurchaseStatus.ValueSet(shop.PurchasePending),
			shop.AttrPaymentProvider.ValueSet(shop.ProviderBalance),
		),
	})
	var res shop.PurchaseState
	err := workflow.ExecuteChildWorkflow(cctx, shop.PurchaseWorkflowType, shop.PurchaseInput{
		NewPurchase: shop.NewPurchase{
			PurchaseID: offer.PurchaseID, UserID: s.state.UserID, Kind: shop.KindSubscription,
			PlanID: offer.PlanID, Days: offer.Days, Amount: offer.Amount, Currency: offer.Currency,
			Provider: shop.ProviderBalance,
		},
		Renewal: true,
	}).Get(ctx, &res)
	switch {
	case temporal.IsWorkflowExecutionAlreadyStartedError(err):
		return s.renewalStartedBefore(ctx, offer)
	case err != nil:
		s.renewalFailed(ctx, periodEnd, err)
	case res.Status == shop.PurchasePaid:
		s.notify(ctx, notice.AutoRenewDone(offer.PlanID, res.ExpiresAt, offer.Amount, offer.Currency))
	case res.Failure == failureInsufficientBalance:
		out := s.renewalOutcome(ctx, offer)
		s.notify(ctx, notice.AutoRenewShortBalance(offer.Amount, offer.Currency, out.Balance))
	default:
		s.renewalFailed(ctx, periodEnd, temporal.NewNonRetryableApplicationError("renewal purchase "+res.Status+": "+res.Failure, "RenewalNotPaid", nil))
	}
	return nil
}

// renewalStartedBefore handles a renewal whose purchase/<id> an earlier
// attempt started (a run reset or restarted without its state). That
// attempt charged or failed and told the user; this run only catches up
// with a paid renewal's extension, deduplicated by its id.
func (s *subscription) renewalStartedBefore(ctx workflow.Context, offer activities.RenewalOffer) error {
	out := s.renewalOutcome(ctx, offer)
	workflow.GetLogger(ctx).Info("renewal purchase started before; taking its outcome", "purchase", offer.PurchaseID, "status", out.Status)
	if out.Status == shop.PurchasePaid && out.ExpiresAt.After(s.state.ExpiresAt) {
		s.pending = append(s.pending, shop.Extension{
			ID: shop.PurchaseExtensionID(offer.PurchaseID), Kind: shop.ExtensionRenewal, PlanID: offer.PlanID, ExpiresAt: out.ExpiresAt,
		})
	}
	return nil
}

// renewalOutcome reads the renewal's purchase, the balance and the expiry
// from the database; a failed read leaves them zero (the message then
// names no balance).
func (s *subscription) renewalOutcome(ctx workflow.Context, offer activities.RenewalOffer) activities.RenewalOutcome {
	var a *activities.Activities
	var out activities.RenewalOutcome
	if err := workflow.ExecuteActivity(withDB(ctx), a.RenewalOutcome, activities.RenewalOutcomeInput{
		UserID: s.state.UserID, PurchaseID: offer.PurchaseID,
	}).Get(ctx, &out); err != nil {
		workflow.GetLogger(ctx).Warn("renewal outcome not read", "purchase", offer.PurchaseID, "error", err)
	}
	return out
}

// renewalFailed counts a renewal that failed with an error retrying cannot
// fix and tells the user: retrying later could run past the expiry, and
// the user can still renew by hand before it.
func (s *subscription) renewalFailed(ctx workflow.Context, periodEnd time.Time, err error) {
	workflow.GetLogger(ctx).Error("auto-renewal failed", "error", err)
	workflow.GetMetricsHandler(ctx).Counter(autoRenewFailedMetric).Inc(1)
	s.notify(ctx, notice.AutoRenewFailed(s.state.PlanID, periodEnd))
}
