package chaos

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync/atomic"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"golang.org/x/sync/errgroup"

	"vpnflow/internal/shop"
)

// moveExpiries does what the sandbox's "expire in" does for each user, to
// a trial or to a paid period that keeps its plan (the stored expiry
// moved, then the user's Subscription workflow told through the replacing
// extension), but with one statement for all and a signal each: setting
// up 10,000 would otherwise start 10,000 workflows, about 40 minutes of
// the dev server before the storm begins. It returns once every
// workflow holds the new expiry (its ExpiresAt search attribute), so that
// none takes it after instant, the second the storm is measured from
// (which would skip a stage as past, or start late); if they do not all
// hold it by then, the run is not a valid storm and it says so.
func (s *system) moveExpiries(ctx context.Context, users []*user, at, instant time.Time, trial bool, out io.Writer) error {
	ids := make([]int64, len(users))
	for i, u := range users {
		ids[i] = u.id
	}
	tag, err := s.pool.Exec(ctx, `UPDATE subscriptions SET expires_at = $2, updated_at = now()
		WHERE user_id = ANY($1) AND status IN ('trial', 'active')`, ids, at)
	if err != nil {
		return fmt.Errorf("move the expiries to %s: %w", at.Format(time.TimeOnly), err)
	}
	if int(tag.RowsAffected()) != len(ids) {
		return fmt.Errorf("moved %d expiries, want %d: some trials are not live", tag.RowsAffected(), len(ids))
	}
	cfg := s.stack.Config
	policy := shop.SubscriptionPolicy(cfg.PaidStages, cfg.TrialStages, cfg.AutoRenewLead)
	ext := shop.Extension{
		ID: "bench-storm:" + at.UTC().Format(time.RFC3339), Kind: shop.ExtensionGrant,
		ExpiresAt: at, Trial: trial, Replace: true,
	}
	fmt.Fprintf(out, "bench: storm setup: telling %d workflows their expiry is %s\n", len(users), at.UTC().Format(time.TimeOnly))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	var told atomic.Int64
	for _, u := range users {
		g.Go(func() error {
			if err := shop.SignalSubscription(gctx, s.temporal, cfg.TaskQueue, policy, u.id, shop.SignalExtend, ext); err != nil {
				return err
			}
			if m := told.Add(1); m%1000 == 0 {
				fmt.Fprintf(out, "bench: storm setup: %d of %d told, %s before the instant\n", m, len(users), time.Until(instant).Round(time.Second))
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("tell the workflows their new expiry: %w", err)
	}
	return s.awaitExpiry(ctx, len(users), at, instant, out)
}

// awaitExpiry waits until n Subscription workflows hold the expiry at, as
// the server's visibility store reports it, and fails once instant comes
// first.
func (s *system) awaitExpiry(ctx context.Context, n int, at, instant time.Time, out io.Writer) error {
	query := fmt.Sprintf("WorkflowType = 'Subscription' AND ExecutionStatus = 'Running' AND %s >= '%s' AND %s < '%s'",
		shop.AttrExpiresAt.GetName(), at.UTC().Format(time.RFC3339Nano),
		shop.AttrExpiresAt.GetName(), at.Add(time.Second).UTC().Format(time.RFC3339Nano))
	last := time.Time{}
	for {
		res, err := s.temporal.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{
			Namespace: s.stack.Config.TemporalNamespace, Query: query,
		})
		held := 0
		if err == nil {
			held = int(res.GetCount())
		}
		if held >= n {
			fmt.Fprintf(out, "bench: storm setup: all %d workflows hold the new expiry, %s before the instant\n", n, time.Until(instant).Round(time.Second))
			return nil
		}
		if time.Now().After(instant) {
			return fmt.Errorf("only %d of %d workflows held the new expiry by the instant (last count error: %v): the server is too loaded to set up %d users in time; run on a quieter machine or with a smaller BENCH_STORM", held, n, err, n)
		}
		if time.Since(last) >= 10*time.Second {
			fmt.Fprintf(out, "bench: storm setup: %d of %d workflows hold the new expiry, %s before the instant\n", held, n, time.Until(instant).Round(time.Second))
			last = time.Now()
		}
		sleep(ctx, time.Second)
	}
}

// noticePace is the rate of the users' notices (or captions) containing
// text, from the first to the last after at, and the most that arrived in
// any one second.
func noticePace(d *driver, users []*user, at time.Time, text string) (float64, int) {
	var first, last time.Time
	perSecond := map[int64]int{}
	sent := d.tg.FirstSentSince(userIDs(users), at, text)
	for _, date := range sent {
		perSecond[date.Unix()]++
		if first.IsZero() || date.Before(first) {
			first = date
		}
		if date.After(last) {
			last = date
		}
	}
	peak := 0
	for _, c := range perSecond {
		peak = max(peak, c)
	}
	if len(sent) < 2 {
		return 0, peak
	}
	return float64(len(sent)) / max(last.Sub(first), time.Second).Seconds(), peak
}

// steadyPace is the rate of the same notices over the middle 90% of their
// send times (the 5th to the 95th percentile): what the sender holds while
// it has a backlog, without the ramp while the first notices are still
// being written and the stragglers at the end.
func steadyPace(d *driver, users []*user, at time.Time, text string) float64 {
	var dates []time.Time
	for _, date := range d.tg.FirstSentSince(userIDs(users), at, text) {
		dates = append(dates, date)
	}
	if len(dates) < 20 {
		return 0
	}
	slices.SortFunc(dates, time.Time.Compare)
	lo, hi := len(dates)*5/100, len(dates)*95/100
	return float64(hi-lo) / max(dates[hi].Sub(dates[lo]), time.Second).Seconds()
}

// sentSince counts the users with a message containing text dated at or
// after at.
func sentSince(d *driver, users []*user, at time.Time, text string) int {
	return len(d.tg.FirstSentSince(userIDs(users), at, text))
}

func userIDs(users []*user) []int64 {
	ids := make([]int64, len(users))
	for i, u := range users {
		ids[i] = u.id
	}
	return ids
}
