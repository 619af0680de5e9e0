package workflows

import (
	"strings"

	"go.temporal.io/sdk/workflow"

	"vpnflow/activities"
	"vpnflow/internal/shop"
)

// stuckMetric counts retries of a step that failed with an error retrying
// cannot fix, by step; the SubscriptionStuck search attribute marks the
// workflow until the step succeeds, and the health check alerts on it.
const stuckMetric = "vpnflow_subscription_stuck"

// retryLater waits configRetry before a failed step is tried again. Runs on
// the edges version mark the workflow stuck first and, when the history is
// long enough, return errContinueAsNew instead of waiting: a retry loop that
// lasts weeks must not grow one run's history without bound.
func (s *subscription) retryLater(ctx workflow.Context, step string, err error) error {
	workflow.GetLogger(ctx).Error(step+" failed; retrying later", "error", err, "retry_in", configRetry)
	if s.edges {
		workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"step": step}).Counter(stuckMetric).Inc(1)
		if s.state.Stuck != step {
			s.state.Stuck = step
			if err := workflow.UpsertTypedSearchAttributes(ctx, shop.AttrSubscriptionStuck.ValueSet(true)); err != nil {
				return err
			}
		}
		if s.shouldContinueAsNew(ctx) {
			return errContinueAsNew
		}
	}
	return workflow.Sleep(ctx, configRetry)
}

// unstuck clears the stuck mark once a step succeeds.
func (s *subscription) unstuck(ctx workflow.Context) error {
	if !s.edges || s.state.Stuck == "" {
		return nil
	}
	s.state.Stuck = ""
	return workflow.UpsertTypedSearchAttributes(ctx, shop.AttrSubscriptionStuck.ValueSet(false))
}

// Cleanup entries a reissue leaves when the run continues as new before
// it finished removing keys.
const (
	cleanupKeyPrefix = "key:"
	cleanupAbort     = "abort-reissue"
)

// cleanup does the first leftover reissue step; it stays queued until done.
func (s *subscription) cleanup(ctx workflow.Context) error {
	var a *activities.Activities
	item := s.state.Cleanup[0]
	email, isKey := strings.CutPrefix(item, cleanupKeyPrefix)
	err := s.untilDone(ctx, "reissue cleanup", func() error {
		if isKey {
			return workflow.ExecuteActivity(withXray(ctx), a.RemoveKey, activities.KeyRef{UserID: s.state.UserID, Email: email}).Get(ctx, nil)
		}
		return workflow.ExecuteActivity(withDB(ctx), a.AbortReissue, activities.UserRef{UserID: s.state.UserID}).Get(ctx, nil)
	})
	if err != nil {
		return err
	}
	s.state.Cleanup = s.state.Cleanup[1:]
	if isKey {
		s.endSessions(ctx, email)
	}
	return nil
}
