package activities

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"golang.org/x/sync/errgroup"

	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

// The overdue sweep is the database's side of expiry. Only a user's
// Subscription workflow expires a row, on a timer; a row that stays
// 'active' or 'trial' past its expiry means that timer was missed (the
// workflow was terminated or reset, it never ran, the row was changed
// behind its back). The sweep hands each such row to its workflow, which
// expires it, and counts it, because each one is a bug somewhere.

// OverdueSampleSize is how many user ids a sweep names to the admins.
const OverdueSampleSize = 10

// OverduePageInput names one page of the sweep: up to Limit live rows that
// expired before Before, with user ids above AfterUserID. Before is the
// workflow's clock minus a grace, never the database's.
type OverduePageInput struct {
	Before      time.Time
	AfterUserID int64
	Limit       int
}

// OverduePageResult counts the overdue rows of one page, all handed to their
// workflows, and names the first few.
type OverduePageResult struct {
	NextAfter int64   // the last user id of the page
	Found     int     // overdue rows, each signalled
	Sample    []int64 // the first OverdueSampleSize of them
	Done      bool    // the page was the last one
}

// HandOverOverdue reads one page of overdue rows and signal-with-starts the
// Subscription workflow of each with shop.SignalExpireOverdue. A row is
// signalled again if the page is retried; the workflow expires a row once.
// The signal carries the row's expiry, plan and status, never its key.
func (a *Activities) HandOverOverdue(ctx context.Context, in OverduePageInput) (OverduePageResult, error) {
	op := fmt.Sprintf("hand over overdue subscriptions after user %d", in.AfterUserID)
	if in.Limit <= 0 || in.Limit > store.MaxPage || in.Before.IsZero() {
		return OverduePageResult{}, permanent("Invalid", fmt.Errorf("%s: need a time and a page size of 1-%d, got %s and %d", op, store.MaxPage, in.Before, in.Limit))
	}
	rows, err := a.Store.OverdueSubscriptions(ctx, in.Before, in.AfterUserID, in.Limit)
	if err != nil {
		return OverduePageResult{}, storeError(op, err)
	}
	res := OverduePageResult{NextAfter: in.AfterUserID, Found: len(rows), Done: len(rows) < in.Limit}
	if len(rows) == 0 {
		return res, nil
	}
	res.NextAfter = rows[len(rows)-1].UserID
	for _, r := range rows[:min(len(rows), OverdueSampleSize)] {
		res.Sample = append(res.Sample, r.UserID)
	}
	var (
		mu   sync.Mutex
		sent int
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(reconcileParallel)
	log := activity.GetLogger(ctx)
	for _, r := range rows {
		g.Go(func() error {
			err := shop.SignalSubscription(gctx, a.Temporal, a.Config.TaskQueue, a.policy(), r.UserID,
				shop.SignalExpireOverdue, shop.Overdue{ExpiresAt: r.ExpiresAt, PlanID: r.PlanID, Status: r.Status})
			if err != nil {
				return fmt.Errorf("signal overdue subscription of user %d: %w", r.UserID, err)
			}
			log.Warn("overdue subscription handed to its workflow: its expiry timer was missed",
				"user_id", r.UserID, "status", r.Status, "expires_at", r.ExpiresAt)
			mu.Lock()
			defer mu.Unlock()
			if sent++; sent%200 == 0 {
				activity.RecordHeartbeat(ctx, sent)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return OverduePageResult{}, fmt.Errorf("%s: %w", op, err)
	}
	return res, nil
}

// OverdueAlert is the admin alert a sweep that found overdue rows sends.
type OverdueAlert struct {
	Count  int     // overdue rows the whole sweep found
	Sample []int64 // a few of their user ids
}

// AlertOverdueMessage is the catalogue id of the alert.
const AlertOverdueMessage = "admin_overdue"

// AlertAdminsOverdue tells every admin, in their language, how many live
// subscriptions were found past their expiry, naming a few. It fails only
// when nobody was told, so a retry never repeats a delivered alert.
func (a *Activities) AlertAdminsOverdue(ctx context.Context, in OverdueAlert) (AdminAlertResult, error) {
	if in.Count <= 0 {
		return AdminAlertResult{}, permanent("Invalid", fmt.Errorf("overdue alert without a count (%d)", in.Count))
	}
	ids := make([]string, 0, len(in.Sample)+1)
	for _, id := range in.Sample {
		ids = append(ids, strconv.FormatInt(id, 10))
	}
	if in.Count > len(in.Sample) {
		ids = append(ids, "…")
	}
	users := strings.Join(ids, ", ")
	return a.tellAdmins(ctx, "overdue alert", func(lang string) string {
		return a.Texts.T(lang, AlertOverdueMessage, map[string]any{"Count": in.Count, "Users": users})
	})
}
