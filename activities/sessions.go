package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/sdk/activity"

	"vpnflow/internal/sessionagent"
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
//
// Ending sessions works only from inside the node's network namespace. A
// node on another machine than the worker has a session agent beside its
// Xray (nodes.agent_url, internal/sessionagent), and the same calls go to
// it instead: one HTTP call in place of the local ones.

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
	res, err := a.endSessions(ctx, node, xc, []string{email})
	if err != nil {
		return res, sessionsError("end sessions of "+email, err)
	}
	if res.Connections > 0 {
		activity.GetLogger(ctx).Info("revoked key's sessions ended", "user_id", in.UserID, "email", email,
			"addresses", res.Addresses, "connections", res.Connections)
	}
	return res, nil
}

// endSessions ends the live sessions of keys removed from node, whose
// Xray client is xc: here, or through the node's session agent. A reason
// why sessions cannot be ended there at all comes back in Unable, logged
// at error and counted; other errors (Xray or the agent away) come back as
// errors.
func (a *Activities) endSessions(ctx context.Context, node int16, xc *xray.Client, emails []string) (EndSessionsResult, error) {
	if !a.Config.XrayEndSessions || len(emails) == 0 {
		return EndSessionsResult{Off: !a.Config.XrayEndSessions}, nil
	}
	metrics := activity.GetMetricsHandler(ctx)
	ender, err := a.sessionsOn(ctx, node, xc)
	if err != nil {
		return EndSessionsResult{}, err
	}
	d, err := ender.DisconnectUsers(ctx, emails)
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
	case errors.Is(err, sessionagent.ErrUnauthorized):
		reason = "agent_token"
	case sessionsRetryable(err) || ctx.Err() != nil:
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

// sessionEnder ends revoked keys' sessions on one node: its Xray client,
// for a node on this machine, or its session agent.
type sessionEnder interface {
	DisconnectUsers(ctx context.Context, emails []string) (xray.Disconnected, error)
	CheckDisconnect(ctx context.Context) error
}

// sessionsOn is what ends sessions on node (0: the worker's own), whose
// Xray client is xc: xc itself, or the node's session agent if it has one.
func (a *Activities) sessionsOn(ctx context.Context, node int16, xc *xray.Client) (sessionEnder, error) {
	if node <= 0 {
		node = a.NodeID
	}
	ep, err := a.Nodes.Endpoint(ctx, node)
	if err != nil {
		return nil, fmt.Errorf("node of the sessions to end: %w", err)
	}
	if ep.AgentURL == "" {
		return xc, nil
	}
	agent, err := sessionagent.NewClient(ep.AgentURL, a.Config.SessionAgentToken)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", ep.Name, err)
	}
	return agent, nil
}

// sessionsRetryable says whether ending sessions failed for now: Xray or
// the node's session agent did not answer.
func sessionsRetryable(err error) bool {
	return xray.IsRetryable(err) || errors.Is(err, sessionagent.ErrUnavailable)
}

// sessionsError is xrayError for ending sessions, which may have gone to
// the node's session agent: an agent that did not answer is tried again.
func sessionsError(op string, err error) error {
	if errors.Is(err, sessionagent.ErrUnavailable) {
		return fmt.Errorf("%s: %w", op, err)
	}
	return xrayError(op, err)
}
