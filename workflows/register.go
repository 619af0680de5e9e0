// Package workflows holds vpnflow's business processes as Temporal
// workflows: a Purchase per purchase, a Subscription per user, and the
// shop's scheduled housekeeping. They do no I/O themselves: every side
// effect is an activity (see package activities).
package workflows

import (
	"go.temporal.io/sdk/workflow"

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
}
