package workflows

import (
	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
)

// stepRecord is the step that stores the purchase; when it fails there is
// no row of this purchase to mark failed.
const stepRecord = "record purchase"

// versionRecordFailure guards marking a purchase failed in the database.
const versionRecordFailure = "record-purchase-failure"

// failureInsufficientBalance is the failure of a balance purchase the
// balance did not cover; a renewal's parent reads it from the result.
const failureInsufficientBalance = "insufficient balance"

// recordFailure marks the purchase failed in the database, with
// state.Failure as the reason, which also frees a percent promo attached to
// it. The store leaves a purchase that was paid after all alone. Histories
// recorded before this step existed replay without it.
func (p *purchase) recordFailure(ctx workflow.Context) {
	if version(ctx, versionRecordFailure, 1) == workflow.DefaultVersion {
		return
	}
	var a *activities.Activities
	if err := dbStep(ctx, a.FailPurchase, activities.FailPurchaseInput{
		PurchaseID: p.in.PurchaseID, Reason: p.state.Failure,
	}, nil); err != nil {
		// withDB retries until the database answers, so only a permanent
		// error gets here; the workflow's own failure records the purchase.
		workflow.GetLogger(ctx).Error("purchase failure not recorded", "error", err)
	}
}
