package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/notice"
	"vpnflow/internal/shop"
)

// validateAutoRenew refuses auto-renewal for a subscription without a plan
// (one made by a trial, a grant or a promo): there is nothing to renew, and
// the user is told to buy a plan once instead of waiting for a renewal
// that would never come.
func (s *subscription) validateAutoRenew(ctx workflow.Context, req shop.AutoRenewRequest) error {
	if s.state.Status == shop.StatusNone {
		return refuse(shop.RefusedNotActive, 0)
	}
	if req.On && (s.state.PlanID == "" || s.state.PlanID == shop.TrialPlanID) {
		return refuse(shop.RefusedNoPlan, 0)
	}
	return nil
}

func (s *subscription) setAutoRenew(ctx workflow.Context, req shop.AutoRenewRequest) error {
	ctx = withLeanOf(ctx, s.lean)
	var a *activities.Activities
	if err := dbStep(ctx, a.SetAutoRenew, activities.AutoRenewSetting{UserID: s.state.UserID, On: req.On}, nil); err != nil {
		s.answer(ctx, req.Reply, notice.RequestFailed())
		return err
	}
	s.state.AutoRenew = req.On
	s.answer(ctx, req.Reply, notice.AutoRenewSet(req.On))
	// Runs from before autoRenewRearmChange slept on until their next
	// reminder or the expiry; a renewal due earlier waited for it.
	if req.On && version(ctx, autoRenewRearmChange, 1) >= 1 {
		s.rearm = true
	}
	return nil
}

// autoRenewFailedMetric counts auto-renewals that failed with an error
// retrying cannot fix: each is a user who expected a renewal and got none.
const autoRenewFailedMetric = "vpnflow_autorenew_failed"

// autoRenewRearmChange versions waking the main loop when auto-renewal
// is turned on, so the renewal is not late when it comes before the next
// reminder.
const autoRenewRearmChange = "autorenew-rearm"

// autoRenewChange versions auto-renewal as a Purchase child workflow
// (subscription_renewal.go). Runs that renewed through the AutoRenew
// activity before it replay that path.
const autoRenewChange = "autorenew-child-purchase"

// autoRenew charges the balance once for the period and extends it.
func (s *subscription) autoRenew(ctx workflow.Context) error {
	if version(ctx, autoRenewChange, 1) >= 1 {
		return s.renewByPurchase(ctx)
	}
	return s.autoRenewActivity(ctx)
}

// autoRenewActivity is the renewal of runs recorded before autoRenewChange:
// one activity records, credits or fails the purchase (its id is derived
// from user and period end, so a retry or a worker restart can never
// charge twice), then the extension is applied here.
func (s *subscription) autoRenewActivity(ctx workflow.Context) error {
	var a *activities.Activities
	periodEnd := s.state.ExpiresAt
	s.state.Reminded = append(s.state.Reminded, renewalKey(periodEnd))
	var res activities.AutoRenewResult
	if err := workflow.ExecuteActivity(withDB(ctx), a.AutoRenew, activities.AutoRenewInput{
		UserID: s.state.UserID, PlanID: s.state.PlanID, PeriodEnd: periodEnd,
	}).Get(ctx, &res); err != nil {
		workflow.GetLogger(ctx).Error("auto-renewal failed", "error", err)
		if s.edges {
			// Retrying later could run past the expiry; the user can still
			// renew by hand before it, so they are told now.
			workflow.GetMetricsHandler(ctx).Counter(autoRenewFailedMetric).Inc(1)
			s.notify(ctx, notice.AutoRenewFailed(s.state.PlanID, periodEnd))
		}
		return nil
	}
	switch {
	case res.Renewed:
		if err := s.apply(ctx, shop.Extension{
			ID: fmt.Sprintf("renewal:%d", periodEnd.Unix()), Kind: shop.ExtensionRenewal, PlanID: s.state.PlanID, ExpiresAt: res.ExpiresAt,
		}); err != nil {
			return err
		}
		s.notify(ctx, notice.AutoRenewDone(s.state.PlanID, res.ExpiresAt, res.Price, res.Currency))
	case res.NoPlan:
		workflow.GetLogger(ctx).Info("auto-renewal skipped: plan no longer sold", "plan", s.state.PlanID)
		if s.edges {
			// The user counts on the renewal: say it will not happen.
			s.notify(ctx, notice.AutoRenewNeedsPlan())
		}
	default:
		s.notify(ctx, notice.AutoRenewShortBalance(res.Price, res.Currency, res.Balance))
	}
	return nil
}
