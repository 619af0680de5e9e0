package activities

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"golang.org/x/sync/errgroup"

	"vpnflow/internal/schedules"
	"vpnflow/internal/store"
	"vpnflow/internal/xray"
)

// Reconciliation makes each node's Xray serve exactly the live keys of
// that node, one node per activity. The database is the truth; Xray loses
// every API-added user when it restarts.
//
// Keys never leave these activities: the workflow passes user ids and page
// bounds and gets counts back. Every database read is its own short query,
// so no connection is held while Xray is called.
//
// A reissue in progress (see workflows.subscription.reissue) is left to its
// workflow: Xray may then hold the pending key under the next key email as
// well as the current key under the current email. Reconciliation keeps the
// current key in place and neither adds nor removes the pending one.

// ReconcilePageInput names one page of a node's live subscriptions: up to
// Limit of them with user ids above AfterUserID, live at Now (the
// workflow's clock).
type ReconcilePageInput struct {
	AfterUserID int64
	Limit       int
	Now         time.Time // zero (an input from before it existed): the worker's clock
	NodeID      int16     // zero (an input from before nodes): the worker's own node
}

// ReconcilePageResult counts what one page held and repaired, and says where
// the next page starts.
type ReconcilePageResult struct {
	NextAfter int64 // the last user id of the page
	Checked   int   // live keys of this node looked up in Xray
	Readded   int   // keys that were missing from Xray or held another UUID or flow
	Errors    int   // keys that could not be repaired (logged)
	Done      bool  // the page was the last one
}

// ReconcilePage reads one page of live keys and makes sure Xray holds each
// under its email with its UUID. A key that is missing or different is read
// again first — it may have expired or been reissued since the page was
// read — and then (re-)added. A row whose expiry has passed is not live,
// whatever its status: its key is never added (RemoveOrphans removes it).
// Xray being away fails the page, which the workflow retries; the page is
// idempotent.
func (a *Activities) ReconcilePage(ctx context.Context, in ReconcilePageInput) (ReconcilePageResult, error) {
	op := fmt.Sprintf("reconcile live keys after user %d", in.AfterUserID)
	if in.Limit <= 0 || in.Limit > store.MaxPage {
		return ReconcilePageResult{}, permanent("Invalid", fmt.Errorf("%s: page size must be 1-%d, got %d", op, store.MaxPage, in.Limit))
	}
	now := clockOr(in.Now)
	node := a.nodeOr(in.NodeID)
	xc, err := a.nodeXray(ctx, node)
	if err != nil {
		return ReconcilePageResult{}, err
	}
	keys, err := a.Store.ActiveSubscriptionsOn(ctx, node, now, in.AfterUserID, in.Limit)
	if err != nil {
		return ReconcilePageResult{}, storeError(op, err)
	}
	res := ReconcilePageResult{NextAfter: in.AfterUserID, Done: len(keys) < in.Limit}
	if len(keys) > 0 {
		res.NextAfter = keys[len(keys)-1].UserID
	}
	// Look-ups run a few at a time: each is a round trip to Xray (and a
	// repair one to the database too), and one at a time a page of a
	// thousand takes seconds. The first error that needs a retry stops the
	// page.
	var (
		mu       sync.Mutex
		finished int
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(reconcileParallel)
	for _, k := range keys {
		g.Go(func() error {
			outcome, err := a.reconcileKey(gctx, xc, node, k, now)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			res.Checked++
			switch outcome {
			case keyRepaired:
				res.Readded++
			case keyFailed:
				res.Errors++
			}
			if finished++; finished%200 == 0 {
				activity.RecordHeartbeat(ctx, finished)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return ReconcilePageResult{}, err
	}
	if res.Readded > 0 || res.Errors > 0 {
		activity.GetLogger(ctx).Info("reconcile: page repaired", "after_user", in.AfterUserID, "last_user", res.NextAfter,
			"checked", res.Checked, "readded", res.Readded, "errors", res.Errors)
	}
	return res, nil
}

// reconcileParallel bounds the look-ups one page runs at once.
const reconcileParallel = 8

type keyOutcome int

const (
	keyOK keyOutcome = iota
	keyRepaired
	keyFailed
)

// reconcileKey checks one live key. An error means the page must stop and
// be retried (Xray or the database is away); a key Xray refuses is
// keyFailed and logged.
func (a *Activities) reconcileKey(ctx context.Context, xc *xray.Client, node int16, k store.LiveKey, now time.Time) (keyOutcome, error) {
	have, found, err := xc.GetUser(ctx, k.XrayEmail)
	if err != nil {
		return a.keyXrayError(ctx, k.UserID, k.XrayEmail, "look up", err)
	}
	if found && a.serves(have, k.VLESSUUID.String()) {
		return keyOK, nil
	}
	sub, err := a.Store.GetSubscription(ctx, k.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return keyOK, nil
	}
	if err != nil {
		return keyOK, storeError(fmt.Sprintf("re-read subscription of user %d", k.UserID), err)
	}
	if !sub.LiveAt(now) || sub.NodeID != node {
		return keyOK, nil // expired, banned or moved meanwhile: the orphan sweep removes it
	}
	u := xray.User{Email: sub.XrayEmail, UUID: sub.VLESSUUID.String(), Flow: a.Config.VLESSFlow}
	// Xray cannot change a user in place: a different one is replaced.
	if err = addReplacingStale(ctx, xc, u); err != nil {
		return a.keyXrayError(ctx, k.UserID, u.Email, "add", err)
	}
	was := "missing"
	if found {
		was = "different"
	}
	activity.GetLogger(ctx).Debug("reconcile: key restored in xray", "user_id", k.UserID, "email", u.Email, "was", was)
	return keyRepaired, nil
}

// serves reports whether an Xray user carries this UUID with our flow.
func (a *Activities) serves(u xray.User, uuid string) bool {
	return strings.EqualFold(u.UUID, uuid) && u.Flow == a.Config.VLESSFlow
}

func (a *Activities) keyXrayError(ctx context.Context, userID int64, email, op string, err error) (keyOutcome, error) {
	switch {
	case errors.Is(err, xray.ErrInboundNotFound):
		return keyOK, permanent(ErrConfiguration, err)
	case xray.IsRetryable(err) || ctx.Err() != nil:
		return keyOK, fmt.Errorf("reconcile %s: %s: %w", email, op, err)
	}
	activity.GetLogger(ctx).Warn("reconcile: xray refused a key", "user_id", userID, "email", email, "op", op, "error", err)
	return keyFailed, nil
}

// RemoveOrphansInput sets the node, the page size of the database scan and
// the time (the workflow's clock) keys are judged live at.
type RemoveOrphansInput struct {
	PageSize int
	Now      time.Time // zero (an input from before it existed): the worker's clock
	NodeID   int16     // zero (an input from before nodes): the worker's own node
}

// RemoveOrphansResult counts Xray's users and what was removed.
type RemoveOrphansResult struct {
	InXray  int // users of the inbound
	Foreign int // users not under our email domain, left alone
	Removed int // our users no live key accounts for
	Errors  int
	// SessionsEnded counts the connections of removed keys that were
	// ended (endSessions).
	SessionsEnded int
}

// RemoveOrphans removes from a node's Xray every user under our email
// domain that no live key of that node accounts for — including the key of a row still
// 'active' or 'trial' whose expiry has passed; users of other domains
// (another tool's) are never touched.
//
// Xray's API returns the whole inbound in one reply, so this is one
// activity per run rather than one per page: it keeps the user ids of our
// emails (not the keys), scans the live keys page by page, heartbeating,
// and removes what is left. Xray is listed before the database is read: a
// key added to Xray after the listing is not judged at all, and one in the
// listing was added after its subscription went live (the database is
// written first), so the scan cannot mistake a new key for an orphan. Each
// orphan is read again just before it is removed.
func (a *Activities) RemoveOrphans(ctx context.Context, in RemoveOrphansInput) (RemoveOrphansResult, error) {
	pageSize := in.PageSize
	if pageSize <= 0 || pageSize > store.MaxPage {
		pageSize = schedules.DefaultPageSize
	}
	now := clockOr(in.Now)
	domain := a.Config.XrayEmailDomain
	node := a.nodeOr(in.NodeID)
	xc, err := a.nodeXray(ctx, node)
	if err != nil {
		return RemoveOrphansResult{}, err
	}
	users, err := xc.ListUsers(ctx)
	if err != nil {
		return RemoveOrphansResult{}, xrayError("list xray users", err)
	}
	res := RemoveOrphansResult{InXray: len(users)}
	suspects := map[int64][]string{}
	for _, u := range users {
		id, ok := xray.ParseUserEmail(u.Email, domain)
		if !ok {
			res.Foreign++
			continue
		}
		suspects[id] = append(suspects[id], u.Email)
	}
	users = nil // the keys are not needed any more

	for after := int64(0); len(suspects) > 0; {
		keys, err := a.Store.ActiveSubscriptionsOn(ctx, node, now, after, pageSize)
		if err != nil {
			return res, storeError("scan live keys", err)
		}
		for _, k := range keys {
			emails, ok := suspects[k.UserID]
			if !ok {
				continue
			}
			emails = slices.DeleteFunc(emails, func(e string) bool { return a.wanted(k.XrayEmail, k.PendingUUID != nil, e) })
			if len(emails) == 0 {
				delete(suspects, k.UserID)
			} else {
				suspects[k.UserID] = emails
			}
		}
		activity.RecordHeartbeat(ctx, after)
		if len(keys) < pageSize {
			break
		}
		after = keys[len(keys)-1].UserID
	}

	ids := make([]int64, 0, len(suspects))
	for id := range suspects {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	removed, err := a.removeOrphans(ctx, xc, node, ids, suspects, now, &res)
	// A key no live row accounts for must not keep its sessions either:
	// those removed are ended in one batch, also when the loop stopped.
	ended, serr := a.endSessions(ctx, node, xc, removed)
	res.SessionsEnded = ended.Connections
	if serr != nil {
		activity.GetLogger(ctx).Warn("reconcile: sessions of removed orphans not ended", "keys", len(removed), "error", serr)
	}
	return res, err
}

// removeOrphans reads each suspect's row again and removes from node (whose
// client is xc) the emails it does not account for there; it returns the
// emails removed, also on error.
func (a *Activities) removeOrphans(ctx context.Context, xc *xray.Client, node int16, ids []int64, suspects map[int64][]string, now time.Time, res *RemoveOrphansResult) ([]string, error) {
	log := activity.GetLogger(ctx)
	var removed []string
	for _, id := range ids {
		sub, err := a.Store.GetSubscription(ctx, id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return removed, storeError(fmt.Sprintf("re-read subscription of user %d", id), err)
		}
		live := err == nil && sub.LiveAt(now) && sub.NodeID == node
		for _, email := range suspects[id] {
			if live && a.wanted(sub.XrayEmail, sub.PendingUUID != nil, email) {
				continue // went live since the scan
			}
			if err := xc.RemoveUser(ctx, email); err != nil {
				if xray.IsRetryable(err) || ctx.Err() != nil {
					return removed, fmt.Errorf("remove orphan %s: %w", email, err)
				}
				res.Errors++
				log.Warn("reconcile: xray refused to remove an orphan", "email", email, "error", err)
				continue
			}
			res.Removed++
			removed = append(removed, email)
			log.Info("reconcile: orphan removed from xray", "user_id", id, "email", email)
		}
		activity.RecordHeartbeat(ctx, id)
	}
	return removed, nil
}

// nodeOr is id, or the worker's own node for an input from before nodes.
func (a *Activities) nodeOr(id int16) int16 {
	if id <= 0 {
		return a.NodeID
	}
	return id
}

// clockOr is the time a workflow passed in, or the worker's clock for an
// input scheduled before workflows passed one.
func clockOr(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

// wanted reports whether email is a key a live subscription has in Xray:
// its current key, or the pending key of a reissue in progress.
func (a *Activities) wanted(current string, reissuing bool, email string) bool {
	if strings.EqualFold(email, current) {
		return true
	}
	if !reissuing {
		return false
	}
	next, ok := xray.NextKeyEmail(current, a.Config.XrayEmailDomain)
	return ok && strings.EqualFold(email, next)
}

// XrayUptimeInput asks for a node's Xray uptime.
type XrayUptimeInput struct {
	NodeID int16 // zero (an input from before nodes): the worker's own node
}

// XrayUptimeResult is Xray's uptime and, by this worker's clock, when the
// Xray process started.
type XrayUptimeResult struct {
	Uptime    time.Duration
	StartedAt time.Time
}

// XrayUptime reads a node's Xray uptime.
func (a *Activities) XrayUptime(ctx context.Context, in XrayUptimeInput) (XrayUptimeResult, error) {
	xc, err := a.nodeXray(ctx, in.NodeID)
	if err != nil {
		return XrayUptimeResult{}, err
	}
	up, err := xc.Uptime(ctx)
	if err != nil {
		return XrayUptimeResult{}, xrayError("read xray uptime", err)
	}
	return XrayUptimeResult{Uptime: up, StartedAt: time.Now().Add(-up).Truncate(time.Second)}, nil
}

// TriggerReconcileInput says why a reconciliation is wanted now.
type TriggerReconcileInput struct {
	Reason string
}

// TriggerReconcile starts a run of the reconcile schedule at once.
func (a *Activities) TriggerReconcile(ctx context.Context, in TriggerReconcileInput) error {
	err := schedules.TriggerNow(ctx, a.Temporal, schedules.ReconcileID)
	if schedules.IsNotFound(err) {
		return permanent(ErrConfiguration, fmt.Errorf("%w (the worker creates it at start; or run `starter schedules apply`)", err))
	}
	if err != nil {
		return err
	}
	activity.GetLogger(ctx).Info("reconcile triggered", "reason", in.Reason)
	return nil
}

// SaveXrayWatchState stores what XrayWatch saw as its schedule's input.
func (a *Activities) SaveXrayWatchState(ctx context.Context, in schedules.XrayWatchInput) error {
	return saveState(ctx, a, schedules.XrayWatchID, in)
}

func saveState(ctx context.Context, a *Activities, scheduleID string, state any) error {
	err := schedules.SaveState(ctx, a.Temporal, scheduleID, state)
	if schedules.IsNotFound(err) {
		// Started by hand, not by the schedule: there is nowhere to keep it.
		activity.GetLogger(ctx).Warn("schedule missing; state not saved", "schedule", scheduleID)
		return nil
	}
	return err
}
