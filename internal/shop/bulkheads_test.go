package shop

import "testing"

func TestOpsQueueBelongsToItsBase(t *testing.T) {
	if got := OpsQueue("vpnflow"); got != "vpnflow-ops" {
		t.Fatalf("OpsQueue = %q", got)
	}
	for _, q := range []string{"vpnflow", "vpnflow-ops"} {
		if got := BaseQueue(q); got != "vpnflow" {
			t.Errorf("BaseQueue(%q) = %q, want vpnflow", q, got)
		}
	}
	if got := BulkheadQueue(BaseQueue(OpsQueue("shop")), BulkheadDB); got != "shop-db" {
		t.Errorf("bulkhead of the ops queue = %q", got)
	}
	if !IsOpsQueue("vpnflow-ops") || IsOpsQueue("vpnflow") {
		t.Error("IsOpsQueue")
	}
}
