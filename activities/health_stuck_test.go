package activities

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"vpnflow/internal/dev/testenv"
	"vpnflow/internal/shop"
)

// The health probe finds a Subscription workflow marked stuck through
// Temporal's visibility on the real dev server, and nothing otherwise.
func TestCheckStuckSubscriptions(t *testing.T) {
	c := testenv.TemporalClient(t)
	a := &Activities{Temporal: c}
	ctx := context.Background()
	if res, err := a.CheckStuckSubscriptions(ctx, HealthProbe{}); err != nil {
		t.Fatalf("nothing stuck yet: %v", err)
	} else if res.Detail != "none stuck" {
		t.Fatalf("detail %q", res.Detail)
	}
	// No worker polls this queue: the run just stays open, marked stuck
	// as a real one is by its retry loop.
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: shop.SubscriptionWorkflowID(987654), TaskQueue: testenv.TaskQueue(t),
		TypedSearchAttributes: temporal.NewSearchAttributes(shop.AttrSubscriptionStuck.ValueSet(true)),
	}, shop.SubscriptionWorkflowType, shop.SubscriptionInput{UserID: 987654})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.TerminateWorkflow(context.Background(), run.GetID(), run.GetRunID(), "test over") })
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err = a.CheckStuckSubscriptions(ctx, HealthProbe{})
		if err != nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err == nil || !strings.Contains(err.Error(), "1 subscription workflows stuck") {
		t.Fatalf("stuck workflow not reported: %v", err)
	}
}
