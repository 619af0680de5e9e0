package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/shop"
)

// beforeLean makes env's run one recorded before leanChange: every older
// change is read from its own marker again.
func beforeLean(env *testsuite.TestWorkflowEnvironment) {
	env.OnGetVersion(leanChange, workflow.DefaultVersion, leanVersion).Return(workflow.DefaultVersion)
}

// A lean run takes the versions of older changes as they were when
// leanChange came, without asking for their markers; a run from before
// asks. Here the marker of versionBulkheads, if asked, says "before
// bulkheads", which would put Crypto Pay calls on the workflows' queue.
func TestLeanRunImpliesOlderVersions(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lean  bool
		queue string
	}{
		{"lean run", true, shop.BulkheadQueue("default-test-taskqueue", shop.BulkheadCryptoPay)},
		{"run before lean", false, "default-test-taskqueue"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pe := newPurchaseEnv(t, shop.ProviderCryptoPay)
			if !tc.lean {
				beforeLean(pe.TestWorkflowEnvironment)
			}
			pe.OnGetVersion(versionBulkheads, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
			var queue string
			pe.OnActivity(pe.a.CreateInvoice, mock.Anything, mock.Anything).Return(func(ctx context.Context, _ activities.CreateInvoiceInput) (activities.Invoice, error) {
				queue = activity.GetInfo(ctx).TaskQueue
				return activities.Invoice{InvoiceID: "1001", PayURL: "http://pay/1001", ExpiresAt: pe.Now().Add(time.Hour)}, nil
			})
			pe.creditOK()
			pe.deliveries()
			pe.RegisterDelayedCallback(func() {
				pe.SignalWorkflow(shop.SignalPayment, shop.Payment{Provider: shop.ProviderCryptoPay, InvoiceID: "1001", Source: "webhook"})
			}, time.Second)

			pe.ExecuteWorkflow(Purchase, pe.in)

			require.Equal(t, shop.PurchasePaid, pe.result(t).Status)
			require.Equal(t, tc.queue, queue)
		})
	}
}
