package workflows

import (
	"testing"

	"go.temporal.io/sdk/workflow"

	"vpnflow/internal/shop"
)

type namesRegistry map[string]bool

func (r namesRegistry) RegisterWorkflowWithOptions(_ interface{}, o workflow.RegisterOptions) {
	r[o.Name] = true
}

// Starters know a workflow only by its contract's type name: each must be
// registered under exactly that name.
func TestEveryContractTypeNameIsRegistered(t *testing.T) {
	r := namesRegistry{}
	Register(r)
	for _, name := range []string{
		shop.PurchaseWorkflowType, shop.SubscriptionWorkflowType, shop.SandboxExpireWorkflowType,
		shop.BroadcastWorkflowType, shop.GrantWorkflowType, shop.ModerateWorkflowType,
		shop.RefundWorkflowType, shop.PromoWorkflowType, shop.XrayUsersWorkflowType,
	} {
		if !r[name] {
			t.Errorf("no workflow is registered as %q", name)
		}
	}
}
