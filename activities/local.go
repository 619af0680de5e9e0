package activities

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/activity"
	"golang.org/x/sync/semaphore"

	"vpnflow/internal/telegram"
	"vpnflow/internal/xray"
)

// A user's Xray call (add the key, remove it, end its sessions) and a
// notice to them may run as a local activity, in the workflow task that
// decided it (workflows: xrayStep, outbox.sendNow). That saves the server
// an activity and a workflow task per call, which in an expiry storm or a
// failover is most of its work per user. A local call skips its bulkhead,
// so it is admitted only when it cannot hold the worker up:
//   - at most LocalXray calls run locally at once, and a call waits at most
//     localQueue for its turn;
//   - the node's circuit breaker must be closed: a node that has timed out
//     recently is only tried through the bulkhead;
//   - the workflow gives the call a few seconds and one attempt.
//
// A call that is not admitted, or fails, is handed by the workflow to the
// same activity on its bulkhead, with the retries it has there.
//
// A notice is admitted locally under the same kind of bound (LocalTelegram
// slots, the same short wait), and only if its turn in the worker's
// Telegram pace comes within localSendTurn: in a storm the pace is the
// limit, and a notice that would wait for it waits in the user's outbox,
// on the Telegram bulkhead, instead of in a local slot.

// localQueue is how long a local call waits for a local slot before it
// gives up and the workflow hands it to the bulkhead.
const localQueue = 100 * time.Millisecond

// localSendTurn is how far off a local notice's turn in the Telegram pace
// may be (two turns at the default 28/s).
const localSendTurn = 75 * time.Millisecond

// ErrNotAdmittedLocally: the local slots of the call's kind are busy, or
// the node's breaker is not closed; the call goes to its bulkhead instead.
// It is retryable, which is what makes the workflow hand it over.
var ErrNotAdmittedLocally = errors.New("call not run locally (local slots busy or the system not healthy); handed to its queue")

// NewLocalSlots bounds the calls of one kind run as local activities at
// once.
func NewLocalSlots(slots int) *semaphore.Weighted {
	return semaphore.NewWeighted(int64(max(slots, 1)))
}

// admitXray admits a call to xc. Outside a local activity it admits
// everything (the bulkhead already bounds it). The returned release must
// be called when the call is done.
func (a *Activities) admitXray(ctx context.Context, xc *xray.Client) (release func(), err error) {
	if !activity.IsActivity(ctx) || !activity.GetInfo(ctx).IsLocalActivity {
		return func() {}, nil
	}
	if xc.Circuit() != "closed" {
		return nil, ErrNotAdmittedLocally
	}
	return admitLocal(ctx, a.LocalXray)
}

// admitTelegram admits a notice: outside a local activity as it is; in
// one, within the LocalTelegram slots, and with its wait for a turn in
// the send pace bounded by localSendTurn (the returned context carries
// that bound to the client).
func (a *Activities) admitTelegram(ctx context.Context) (context.Context, func(), error) {
	if !activity.IsActivity(ctx) || !activity.GetInfo(ctx).IsLocalActivity {
		return ctx, func() {}, nil
	}
	release, err := admitLocal(ctx, a.LocalTelegram)
	if err != nil {
		return ctx, nil, err
	}
	return telegram.WithPaceWait(ctx, localSendTurn), release, nil
}

// admitLocal takes one of slots, waiting at most localQueue.
func admitLocal(ctx context.Context, slots *semaphore.Weighted) (func(), error) {
	if slots == nil {
		return nil, ErrNotAdmittedLocally
	}
	wait, cancel := context.WithTimeout(ctx, localQueue)
	defer cancel()
	if err := slots.Acquire(wait, 1); err != nil {
		return nil, ErrNotAdmittedLocally
	}
	return func() { slots.Release(1) }, nil
}
