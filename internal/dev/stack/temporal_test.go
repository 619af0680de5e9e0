package stack

import (
	"context"
	"testing"
	"time"

	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"vpnflow/internal/shop"
)

func TestStartTemporalRegistersSearchAttributes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := StartTemporal(ctx, TemporalOptions{UIPort: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	c, err := client.Dial(client.Options{HostPort: srv.Address})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	for key := range shop.AllSearchAttributes().GetUntypedValues() {
		if _, ok := resp.GetCustomAttributes()[key.GetName()]; !ok {
			t.Errorf("search attribute %s not registered; have %v", key.GetName(), resp.GetCustomAttributes())
		}
	}
	if err := srv.Stop(); err != nil {
		t.Errorf("stop: %v", err)
	}
	if _, err := c.WorkflowService().GetSystemInfo(ctx, &workflowservice.GetSystemInfoRequest{}); err == nil {
		t.Error("server still answers after Stop")
	}
}
