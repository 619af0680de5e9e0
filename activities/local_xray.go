package activities

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/activity"
	"golang.org/x/sync/semaphore"

	"vpnflow/internal/xray"
)

// A user's Xray call (add the key, remove it, end its sessions) may run as
// a local activity, in the workflow task that decided it (workflows:
// xrayStep). That saves the server an activity and a workflow task per
// call, which in an expiry storm or a failover is most of its work per
// user. A local call skips the Xray bulkhead, so it is admitted only when
// it cannot hold the worker up:
//   - at most LocalXray calls run locally at once, and a call waits at most
//     localXrayQueue for its turn;
//   - the node's circuit breaker must be closed: a node that has timed out
//     recently is only tried through the bulkhead;
//   - the workflow gives the call a few seconds and one attempt.
//
// A call that is not admitted, or fails, is handed by the workflow to the
// same activity on the Xray bulkhead, with the retries it has there.

// localXrayQueue is how long a local call waits for a local Xray slot
// before it gives up and the workflow hands it to the bulkhead.
const localXrayQueue = 100 * time.Millisecond

// ErrNotAdmittedLocally: the local Xray slots are busy or the node's
// breaker is not closed; the call goes to the Xray bulkhead instead. It is
// retryable, which is what makes the workflow hand it over.
var ErrNotAdmittedLocally = errors.New("xray call not run locally (local slots busy or node not healthy); handed to the xray queue")

// NewLocalXray bounds the Xray calls run as local activities at once.
func NewLocalXray(slots int) *semaphore.Weighted {
	return semaphore.NewWeighted(int64(max(slots, 1)))
}

// admitXray admits a call to xc. Outside a local activity it admits
// everything (the bulkhead already bounds it). The returned release must
// be called when the call is done.
func (a *Activities) admitXray(ctx context.Context, xc *xray.Client) (release func(), err error) {
	if !activity.IsActivity(ctx) || !activity.GetInfo(ctx).IsLocalActivity {
		return func() {}, nil
	}
	if a.LocalXray == nil || xc.Circuit() != "closed" {
		return nil, ErrNotAdmittedLocally
	}
	wait, cancel := context.WithTimeout(ctx, localXrayQueue)
	defer cancel()
	if err := a.LocalXray.Acquire(wait, 1); err != nil {
		return nil, ErrNotAdmittedLocally
	}
	return func() { a.LocalXray.Release(1) }, nil
}
