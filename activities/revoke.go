package activities

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/activity"
	"golang.org/x/sync/errgroup"

	"vpnflow/internal/schedules"
	"vpnflow/internal/shop"
	"vpnflow/internal/store"
	"vpnflow/internal/xray"
)

// RevokeExpiredInput is one run of the revocation sweep: every page of keys
// expired as of Now. A run reads them all: rows stay marked live until
// their workflows expire them, so a run that stopped early would find the
// same first pages next time and never reach the rest.
type RevokeExpiredInput struct {
	Now      time.Time
	PageSize int
	// WatchUntil, when set, asks for the next expiry storm due after Now
	// and up to it (RevokeExpiredResult.StormAt), so the run can sleep
	// until then instead of leaving the storm to the next run.
	WatchUntil time.Time
}

// RevokeExpiredResult counts what the sweep found and did.
type RevokeExpiredResult struct {
	Expired  int // rows past their expiry: still marked live, or expired within RevokeLookback
	Removed  int // keys taken out of Xray
	Restored int // keys put back: their rows were renewed while the sweep worked
	Errors   int // keys Xray refused to remove for good (logged; the workflow and reconcile go on)
	// SessionsEnded counts the connections of removed keys that were ended
	// (endSessions); the users' workflows end any left when they expire them.
	SessionsEnded int
	// Told counts expiry notices written to the outbox for rows still
	// marked live: their users hear of the expiry at Telegram's pace, not
	// when their workflows get to it.
	Told int
	// StormAt is when the next expiry storm within WatchUntil is all past
	// (store.NextExpiryStorm, schedules.RevokeStormSize): zero when none
	// is due, or when it could not be read (the next run looks again).
	StormAt time.Time `json:",omitzero"`
}

// Add sums two runs' counts; StormAt is the later one's.
func (r RevokeExpiredResult) Add(later RevokeExpiredResult) RevokeExpiredResult {
	return RevokeExpiredResult{
		Expired: r.Expired + later.Expired, Removed: r.Removed + later.Removed, Restored: r.Restored + later.Restored,
		Errors: r.Errors + later.Errors, SessionsEnded: r.SessionsEnded + later.SessionsEnded, Told: r.Told + later.Told,
		StormAt: later.StormAt,
	}
}

// revokeProgress is the sweep's heartbeat: the counts so far and the users
// whose keys were removed but not yet checked for a renewal. A retried
// attempt checks those first: the fresh Xray listing no longer shows their
// keys, so nothing else would.
type revokeProgress struct {
	Result    RevokeExpiredResult
	Unchecked []int64
}

// RevokeLookback is how far back the sweep looks at rows already expired:
// a workflow expires the row first and removes the key after, and in a
// storm that removal waits its turn on the Xray queue; the sweep takes
// such keys out too. Older ones are left to reconciliation (every 10
// minutes).
const RevokeLookback = 15 * time.Minute

// afterRevokeRemovals, when set by a test, runs between a page's removals
// and the check for renewals: the moment a renewal can race the sweep.
var afterRevokeRemovals func(removed []int64)

// revokeParallel bounds the Xray removals in flight. Removals are the only
// calls made in parallel; the database sees three statements per page.
const revokeParallel = 16

// RevokeExpired takes out of Xray the keys whose rows are past their
// expiry: still marked live, because their Subscription workflows have not
// got to them yet (an expiry storm) or missed them, or expired by their
// workflow within RevokeLookback while its own removal waits on the Xray
// queue. When the first page holds any such row, each node's Xray is
// listed once (a run with nothing due asks Xray nothing). For each
// page: one query lists the expired rows, their keys that are in Xray are
// removed, and one query reads which of them went live meanwhile (a
// renewal); those keys are put back. A renewal writes the database before
// it adds the key, so it either is seen by that second read or adds its
// key after the removal: no renewed user is left without a key. Then one
// transaction writes the expiry notices of the rows still marked live
// (tellExpired). No
// connection is held across an Xray call; a heartbeat follows each page.
// The workflows still expire their users and find the keys gone. Last, with
// WatchUntil set, it reads when the next expiry storm is due.
func (a *Activities) RevokeExpired(ctx context.Context, in RevokeExpiredInput) (RevokeExpiredResult, error) {
	now := clockOr(in.Now)
	res, err := a.revokeExpired(ctx, in, now)
	if err != nil || !in.WatchUntil.After(now) {
		return res, err
	}
	at, ok, err := a.Store.NextExpiryStorm(ctx, now, in.WatchUntil, schedules.RevokeStormSize)
	switch {
	case err != nil:
		activity.GetLogger(ctx).Warn("revoke: the next expiry storm could not be read; the next run looks again", "error", err)
	case ok:
		res.StormAt = at
	}
	return res, nil
}

func (a *Activities) revokeExpired(ctx context.Context, in RevokeExpiredInput, now time.Time) (RevokeExpiredResult, error) {
	var res RevokeExpiredResult
	if activity.HasHeartbeatDetails(ctx) {
		var p revokeProgress
		if err := activity.GetHeartbeatDetails(ctx, &p); err == nil {
			res = p.Result
			if err := a.restoreRenewed(ctx, p.Unchecked, now, &res); err != nil {
				return res, err
			}
		}
	}
	pageSize := in.PageSize
	if pageSize <= 0 || pageSize > store.MaxPage {
		pageSize = schedules.DefaultPageSize
	}
	page := func(after int64) ([]store.LiveKey, error) {
		keys, err := a.Store.ExpiredKeys(ctx, now, now.Add(-RevokeLookback), after, pageSize)
		if err != nil {
			return nil, storeError("list expired keys", err)
		}
		return keys, nil
	}
	keys, err := page(0)
	if err != nil {
		return res, err
	}
	// Most runs find nothing due: they end here, without listing every key
	// of every node, and without failing while a node is down.
	if len(keys) == 0 {
		return res, nil
	}
	inXray, err := a.listKeysOnNodes(ctx)
	if err != nil {
		return RevokeExpiredResult{}, err
	}
	for {
		res.Expired += len(keys)
		if err := a.revokePage(ctx, keys, inXray, now, &res); err != nil {
			return res, err
		}
		activity.RecordHeartbeat(ctx, revokeProgress{Result: res})
		if len(keys) < pageSize {
			return res, nil
		}
		if keys, err = page(keys[len(keys)-1].UserID); err != nil {
			return res, err
		}
	}
}

// revokePage removes the page's keys that are in Xray, then puts back
// those whose rows were renewed meanwhile.
func (a *Activities) revokePage(ctx context.Context, keys []store.LiveKey, inXray map[string]nodeClient, now time.Time, res *RevokeExpiredResult) error {
	log := activity.GetLogger(ctx)
	var removedIDs []int64
	var removed, refused atomic.Int64
	ok := make([]bool, len(keys))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(revokeParallel)
	for i, k := range keys {
		nc, there := inXray[strings.ToLower(k.XrayEmail)]
		if !there {
			continue
		}
		g.Go(func() error {
			if err := nc.xc.RemoveUser(gctx, k.XrayEmail); err != nil {
				if xray.IsRetryable(err) || gctx.Err() != nil {
					return fmt.Errorf("remove expired key %s: %w", k.XrayEmail, err)
				}
				refused.Add(1)
				log.Warn("revoke: xray refused to remove an expired key", "user_id", k.UserID, "email", k.XrayEmail, "error", err)
				return nil
			}
			ok[i] = true
			removed.Add(1)
			return nil
		})
	}
	err := g.Wait()
	res.Removed += int(removed.Load())
	res.Errors += int(refused.Load())
	for i, k := range keys {
		if ok[i] {
			removedIDs = append(removedIDs, k.UserID)
		}
	}
	activity.RecordHeartbeat(ctx, revokeProgress{Result: *res, Unchecked: removedIDs})
	if afterRevokeRemovals != nil {
		afterRevokeRemovals(removedIDs)
	}
	// Put back renewed keys even when a removal failed: the ones removed
	// are checked whatever happened to the rest.
	if rerr := a.restoreRenewed(ctx, removedIDs, now, res); rerr != nil {
		return rerr
	}
	a.tellExpired(ctx, keys, now, res)
	// Then end the removed keys' sessions, skipping those put back. A
	// failure is only logged: the keys are out of Xray either way, and each
	// user's workflow ends their sessions again when it expires them.
	// Each node's keys go to that node, in one batch.
	emails := map[nodeClient][]string{}
	for i, k := range keys {
		if ok[i] {
			nc := inXray[strings.ToLower(k.XrayEmail)]
			emails[nc] = append(emails[nc], k.XrayEmail)
		}
	}
	for nc, batch := range emails {
		ended, serr := a.endSessions(ctx, nc.id, nc.xc, batch)
		res.SessionsEnded += ended.Connections
		if serr != nil {
			log.Warn("revoke: sessions of removed keys not ended; their workflows try again", "keys", len(batch), "error", serr)
		}
	}
	return err
}

// tellExpired writes the expiry notices of the page's rows still marked
// live (one transaction). A failure is only logged: each user's workflow
// writes its notice when it expires the row.
func (a *Activities) tellExpired(ctx context.Context, keys []store.LiveKey, now time.Time, res *RevokeExpiredResult) {
	var live []int64
	for _, k := range keys {
		if k.Status == shop.StatusTrial || k.Status == shop.StatusActive {
			live = append(live, k.UserID)
		}
	}
	told, err := a.Store.EnqueueExpiryNotices(ctx, now, live)
	res.Told += told
	if err != nil {
		activity.GetLogger(ctx).Warn("revoke: expiry notices not written; the users' workflows write them", "users", len(live), "error", err)
	}
}

// restoreRenewed adds back the keys of rows among ids that are live again.
func (a *Activities) restoreRenewed(ctx context.Context, ids []int64, now time.Time, res *RevokeExpiredResult) error {
	live, err := a.Store.LiveKeysAmong(ctx, now, ids)
	if err != nil {
		return storeError("read which revoked keys were renewed", err)
	}
	for _, k := range live {
		xc, err := a.nodeXray(ctx, k.NodeID)
		if err != nil {
			return err
		}
		u := xray.User{Email: k.XrayEmail, UUID: k.VLESSUUID.String(), Flow: a.Config.VLESSFlow}
		if err := addReplacingStale(ctx, xc, u); err != nil {
			return xrayError("put back renewed key "+k.XrayEmail, err)
		}
		res.Restored++
		activity.GetLogger(ctx).Info("revoke: renewed while being revoked; key put back", "user_id", k.UserID, "email", k.XrayEmail)
	}
	return nil
}

// nodeClient is a node and its Xray client.
type nodeClient struct {
	id int16
	xc *xray.Client
}

// listKeysOnNodes lists the users of every node in service: which node's
// Xray holds each email (lower-cased). A node that does not answer is left
// out, logged: its expired keys wait for the next sweep or for
// reconciliation, and the other nodes' are taken out now.
func (a *Activities) listKeysOnNodes(ctx context.Context) (map[string]nodeClient, error) {
	nodes, err := a.ListXrayNodes(ctx, XrayNodesInput{})
	if err != nil {
		return nil, err
	}
	inXray := map[string]nodeClient{}
	var lastErr error
	answered := 0
	for _, n := range nodes.Nodes {
		xc, err := a.nodeXray(ctx, n.ID)
		if err != nil {
			return nil, err
		}
		users, err := xc.ListUsers(ctx)
		if err != nil {
			lastErr = xrayError("list xray users of node "+n.Name, err)
			activity.GetLogger(ctx).Warn("revoke: node skipped, its xray does not answer", "node", n.Name, "error", err)
			continue
		}
		answered++
		for _, u := range users {
			inXray[strings.ToLower(u.Email)] = nodeClient{id: n.ID, xc: xc}
		}
	}
	if lastErr != nil && answered == 0 {
		return nil, lastErr // no node answered: the sweep is retried
	}
	return inXray, nil
}
