package workflows

import (
	"reflect"
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

// holds reports whether have has every value of want.
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

func sameValue(a, b any) bool {
	if ta, ok := a.(time.Time); ok {
		tb, ok := b.(time.Time)
		return ok && ta.Equal(tb)
	}
	return reflect.DeepEqual(a, b)
}
