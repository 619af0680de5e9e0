package activities

import (
	"context"
	"fmt"

	"go.temporal.io/api/workflowservice/v1"

	"vpnflow/internal/shop"
)

// StuckSubscriptionsQuery finds the Subscription workflows retrying a step
// that failed with an error retrying cannot fix (a wrong inbound tag, say).
var StuckSubscriptionsQuery = fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Running' AND %s = true",
	shop.SubscriptionWorkflowType, shop.AttrSubscriptionStuck.GetName())

// CheckStuckSubscriptions counts the Subscription workflows stuck in retry;
// any at all is reported as the "Subscriptions" component being down, so
// the admins are told when the first one gets stuck and when the last one
// recovers.
func (a *Activities) CheckStuckSubscriptions(ctx context.Context, _ HealthProbe) (HealthProbeResult, error) {
	resp, err := a.Temporal.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: StuckSubscriptionsQuery})
	if err != nil {
		return HealthProbeResult{}, fmt.Errorf("count stuck subscription workflows: %w", err)
	}
	if n := resp.GetCount(); n > 0 {
		return HealthProbeResult{}, fmt.Errorf("%d subscription workflows stuck retrying a step (Temporal UI: %s = true)", n, shop.AttrSubscriptionStuck.GetName())
	}
	return HealthProbeResult{Detail: "none stuck"}, nil
}
