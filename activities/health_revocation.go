package activities

import (
	"context"
	"fmt"
	"strings"
	"time"

	"vpnflow/internal/i18n"
	"vpnflow/internal/store"
)

// RevokedTrafficWindow is how long a revoked key seen moving bytes keeps
// the Revocation component down: the admins are told when the first one
// shows up, and that it is over once none has for this long.
const RevokedTrafficWindow = time.Hour

// revokedShown bounds the keys the alert names.
const revokedShown = 5

// CheckRevocation is the health check's probe of revocation itself: down
// while this worker cannot end revoked keys' sessions (no CAP_NET_ADMIN in
// Xray's network namespace, with XRAY_END_SESSIONS on), or while revoked
// keys have moved bytes after their revocation within RevokedTrafficWindow
// (store.RevokedTrafficSince: the traffic readings find them). Xray being
// away is the Xray component's to report, not this one's.
func (a *Activities) CheckRevocation(ctx context.Context, _ HealthProbe) (HealthProbeResult, error) {
	var problems []string
	detail := "revoked keys' sessions are ended"
	if !a.Config.XrayEndSessions {
		detail = "ending revoked keys' sessions is off (XRAY_END_SESSIONS=false)"
	} else {
		denied, unknown := a.checkDisconnectOnNodes(ctx)
		if len(denied) > 0 {
			problems = append(problems, "revoked keys' open sessions cannot be ended: "+strings.Join(denied, "; "))
		}
		if len(unknown) > 0 {
			detail = "xray unreachable on " + strings.Join(unknown, ", ") + "; whether sessions can be ended there is unknown"
		}
	}
	leaks, err := a.Store.RevokedTrafficSince(ctx, time.Now().Add(-RevokedTrafficWindow), revokedShown+1)
	if err != nil {
		return HealthProbeResult{}, fmt.Errorf("read traffic of revoked keys: %w", err)
	}
	if len(leaks) > 0 {
		problems = append(problems, "revoked keys moved traffic after their revocation: "+describeLeaks(leaks))
	}
	if len(problems) > 0 {
		return HealthProbeResult{}, fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return HealthProbeResult{Detail: detail}, nil
}

// checkDisconnectOnNodes asks each node in service whether sessions can be
// ended there (CheckDisconnect: this worker's, or the node's session
// agent's): the nodes where they cannot (denied, with why) and those that
// did not answer (unknown). A node without an agent that this worker does
// not share a network namespace with is denied: its revoked keys' sessions
// run on until they close.
func (a *Activities) checkDisconnectOnNodes(ctx context.Context) (denied, unknown []string) {
	eps, err := a.Nodes.Nodes(ctx)
	if err != nil && len(eps) == 0 {
		return nil, []string{"every node (" + err.Error() + ")"}
	}
	for _, ep := range eps {
		if !ep.Probed {
			continue
		}
		var ender sessionEnder
		xc, err := a.nodeXray(ctx, ep.ID)
		if err == nil {
			ender, err = a.sessionsOn(ctx, ep.ID, xc)
		}
		if err == nil {
			err = ender.CheckDisconnect(ctx)
		}
		switch {
		case err == nil:
		case sessionsRetryable(err) || ctx.Err() != nil:
			unknown = append(unknown, ep.Name)
		default:
			denied = append(denied, ep.Name+": "+err.Error())
		}
	}
	return denied, unknown
}

func describeLeaks(leaks []store.RevokedTraffic) string {
	var parts []string
	for i, l := range leaks {
		if i == revokedShown {
			parts = append(parts, "…")
			break
		}
		parts = append(parts, fmt.Sprintf("user %d (%s): %s after its revocation at %s", l.UserID, l.Email,
			i18n.FormatBytes("en", l.Up+l.Down), l.RevokedAt.UTC().Format(time.DateTime+" UTC")))
	}
	return strings.Join(parts, ", ")
}
