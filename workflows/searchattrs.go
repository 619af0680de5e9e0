package workflows

import (
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// upsertChanged sets a workflow's search attributes, but in lean runs
// (leanAttrs) only when one of them changes. Each upsert is an event and
// a visibility write on the server; a new Purchase used to write the
// values it was started with (shop.StartPurchase sets them), a new
// Subscription the user id it was started with and "none", and a run
// continued as new everything its previous run left it. Whether an upsert
// is skipped depends only on the values the history holds, so replay
// decides the same way.
func upsertChanged(ctx workflow.Context, updates ...temporal.SearchAttributeUpdate) error {
	if leanIn(ctx) >= leanAttrs && holds(workflow.GetTypedSearchAttributes(ctx), temporal.NewSearchAttributes(updates...)) {
		return nil
	}
	return workflow.UpsertTypedSearchAttributes(ctx, updates...)
}

// holds reports whether have has every value of want. It ranges over
// maps, but its answer (all equal or not) does not depend on the order,
// which workflowcheck cannot see: hence the annotation.
//
//workflowcheck:ignore
func holds(have, want temporal.SearchAttributes) bool {
	current := have.GetUntypedValues()
	for key, v := range want.GetUntypedValues() {
		got, ok := current[key]
		if !ok || !sameValue(got, v) {
			return false
		}
	}
	return true
}

// sameValue compares two search attribute values of the kinds Temporal
// has (keyword, text, int, double, bool, datetime, keyword list). It
// avoids reflect, which workflowcheck cannot prove deterministic; a kind
// it does not know counts as changed, so the upsert is made.
func sameValue(a, b any) bool {
	switch va := a.(type) {
	case time.Time:
		vb, ok := b.(time.Time)
		return ok && va.Equal(vb)
	case []string:
		vb, ok := b.([]string)
		return ok && slices.Equal(va, vb)
	case string, int64, float64, bool:
		return a == b
	}
	return false
}
