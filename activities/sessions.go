package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/sdk/activity"

	"vpnflow/internal/xray"
)

// Removing a key from Xray stops new connections only: Xray checks a key
// at the handshake and never again, so a revoked user's open connections
// would go on for as long as they carry traffic. Wherever a key leaves Xray
// because the database says it must (expiry, ban, reissue, the sweeps),
// its sessions are ended too (xray.Client.Disconnect).
//
// Ending them is a separate step from the removal, never part of it: the
// removal is what revokes, is retried until it succeeds, and must not wait
// on (or fail for) a mechanism that needs privileges an operator may not
// have granted. The workflow runs EndSessions right after the removal;
// the sweeps, which remove many keys in one activity, end theirs in one
// batch after their removals (endSessions).

// Metrics of ending sessions, on /metrics with a _total suffix.
const (
	// SessionsEndedMetric counts the connections ended after revocations.
	SessionsEndedMetric = "vpnflow_sessions_ended"
	// SessionsNotEndedMetric counts revocations whose sessions could not be
	// ended, by reason: "denied" (no CAP_NET_ADMIN in Xray's network
	// namespace), "online_stats_off" (Xray's policy lacks
	// statsUserOnline), "error" (anything else). The health check's
	// Revocation component tells the admins.
	SessionsNotEndedMetric = "vpnflow_sessions_not_ended"
)

// EndSessionsInput names a key just removed from Xray: Email, or when it is
// empty the user's current key (as RemoveVLESSUser names it).
type EndSessionsInput struct {
	UserID int64
	Email  string
	// NodeID is the node the key was removed from when it is not the
	// user's current one (a move left it); 0: the user's node.
	NodeID int16 `json:",omitempty"`
}

// EndSessionsResult says what ending the key's sessions did.
type EndSessionsResult struct {
	Off         bool // XRAY_END_SESSIONS is off: nothing was tried
	Present     bool // the key is in Xray again (renewed since): nothing to end
	Addresses   int  // addresses the key had live sessions from
	Connections int  // TCP connections ended (theirs, and neighbours' behind the same address)
	// Unable says why this worker cannot end sessions at all (no
	// CAP_NET_ADMIN in Xray's network namespace, Xray not tracking online
	// users): an operator's problem, reported, never retried.
	Unable string `json:",omitempty"`
}

// EndSessions ends the live sessions of a key just removed from Xray. A
// worker that cannot end sessions answers with Unable instead of an error,
// so the workflow goes on; Xray being away is an error, retried a little.
func (a *Activities) EndSessions(ctx context.Context, in EndSessionsInput) (EndSessionsResult, error) {
	if !a.Config.XrayEndSessions {
		return EndSessionsResult{Off: true}, nil
	}
	email, node, err := a.userKey(ctx, in.UserID)
	if err != nil {
		return EndSessionsResult{}, storeError(fmt.Sprintf("read key of user %d", in.UserID), err)
	}
	if in.Email != "" {
		// A key replaced by a reissue: on the same node as its successor.
		email = in.Email
	}
	if in.NodeID > 0 {
		node = in.NodeID
	}
	xc, err := a.nodeXray(ctx, node)
	if err != nil {
		return EndSessionsResult{}, err
	}
	release, err := a.admitXray(ctx, xc)
	if err != nil {
		return EndSessionsResult{}, err
	}
	defer release()
	res, err := a.endSessions(ctx, xc, []string{email})
	if err != nil {
		return res, xrayError("end sessions of "+email, err)
	}
	if res.Connections > 0 {
		activity.GetLogger(ctx).Info("revoked key's sessions ended", "user_id", in.UserID, "email", email,
			"addresses", res.Addresses, "connections", res.Connections)
	}
	return res, nil
}

// endSessions ends the live sessions of keys removed from the Xray of xc.
// A reason why sessions cannot be ended here at all comes back in Unable,
// logged at error and counted; other errors (Xray away) come back as
// errors.
func (a *Activities) endSessions(ctx context.Context, xc *xray.Client, emails []string) (EndSessionsResult, error) {
	if !a.Config.XrayEndSessions || len(emails) == 0 {
		return EndSessionsResult{Off: !a.Config.XrayEndSessions}, nil
	}
	metrics := activity.GetMetricsHandler(ctx)
	d, err := xc.DisconnectUsers(ctx, emails)
	res := EndSessionsResult{Present: len(d.Present) > 0, Addresses: len(d.IPs), Connections: d.Connections}
	metrics.Counter(SessionsEndedMetric).Inc(int64(d.Connections))
	reason := ""
	switch {
	case err == nil:
		return res, nil
	case errors.Is(err, xray.ErrDisconnectDenied):
		reason = "denied"
	case errors.Is(err, xray.ErrOnlineStatsOff):
		reason = "online_stats_off"
	case xray.IsRetryable(err) || ctx.Err() != nil:
		return res, err
	default:
		reason = "error"
	}
	metrics.WithTags(map[string]string{"reason": reason}).Counter(SessionsNotEndedMetric).Inc(1)
	res.Unable = err.Error()
	activity.GetLogger(ctx).Error("revoked keys' open sessions could not be ended; they run on until they close",
		"emails", strings.Join(emails, ","), "reason", reason, "error", err)
	return res, nil
}
