// Package workflows holds vpnflow's business processes as Temporal
// workflows: a Purchase per purchase, a Subscription per user, and the
// shop's scheduled housekeeping. They do no I/O themselves: every side
// effect is an activity (see package activities).
package workflows

import (
	"go.temporal.io/sdk/workflow"

	"vpnflow/internal/schedules"
	"vpnflow/internal/shop"
)

// Registry is the part of a Temporal worker that takes workflows.
type Registry interface {
	RegisterWorkflowWithOptions(w interface{}, options workflow.RegisterOptions)
}

// Register registers every workflow under its stable name. The names are in
// histories and in other workflows' start calls, so they never change.
func Register(r Registry) {
	r.RegisterWorkflowWithOptions(Purchase, workflow.RegisterOptions{Name: shop.PurchaseWorkflowType})
	r.RegisterWorkflowWithOptions(Subscription, workflow.RegisterOptions{Name: shop.SubscriptionWorkflowType})
	r.RegisterWorkflowWithOptions(SandboxExpire, workflow.RegisterOptions{Name: shop.SandboxExpireWorkflowType})
	r.RegisterWorkflowWithOptions(Reconcile, workflow.RegisterOptions{Name: schedules.ReconcileWorkflowType})
	r.RegisterWorkflowWithOptions(ReconcileNode, workflow.RegisterOptions{Name: schedules.ReconcileNodeWorkflowType})
	r.RegisterWorkflowWithOptions(XrayWatch, workflow.RegisterOptions{Name: schedules.XrayWatchWorkflowType})
	r.RegisterWorkflowWithOptions(HealthCheck, workflow.RegisterOptions{Name: schedules.HealthCheckWorkflowType})
	r.RegisterWorkflowWithOptions(CollectTraffic, workflow.RegisterOptions{Name: schedules.CollectTrafficWorkflowType})
	r.RegisterWorkflowWithOptions(PaymentsSweep, workflow.RegisterOptions{Name: schedules.PaymentsSweepWorkflowType})
	r.RegisterWorkflowWithOptions(RevokeExpired, workflow.RegisterOptions{Name: schedules.RevokeExpiredWorkflowType})
	r.RegisterWorkflowWithOptions(NoticeOutbox, workflow.RegisterOptions{Name: schedules.NoticeOutboxWorkflowType})
	r.RegisterWorkflowWithOptions(Broadcast, workflow.RegisterOptions{Name: shop.BroadcastWorkflowType})
	r.RegisterWorkflowWithOptions(Grant, workflow.RegisterOptions{Name: shop.GrantWorkflowType})
	r.RegisterWorkflowWithOptions(Moderate, workflow.RegisterOptions{Name: shop.ModerateWorkflowType})
	r.RegisterWorkflowWithOptions(Refund, workflow.RegisterOptions{Name: shop.RefundWorkflowType})
	r.RegisterWorkflowWithOptions(PromoRedemption, workflow.RegisterOptions{Name: shop.PromoWorkflowType})
	r.RegisterWorkflowWithOptions(XrayUsers, workflow.RegisterOptions{Name: shop.XrayUsersWorkflowType})
	r.RegisterWorkflowWithOptions(NodeEvacuation, workflow.RegisterOptions{Name: shop.EvacuationWorkflowType})
}
