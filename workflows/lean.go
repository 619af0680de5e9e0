package workflows

import (
	"go.temporal.io/sdk/workflow"
)

// The Temporal dev server is the shop's bottleneck, and every event a
// purchase writes to a history is its work: a workflow task is three
// events and a round trip, an activity three more, and every
// workflow.GetVersion two (its marker and the TemporalChangeVersion
// upsert, a visibility write). leanChange versions the cuts that make a
// purchase cheaper (issue 11). Each cut is a version of this one change
// ID, read once at the start of a Purchase or Subscription run, instead
// of a change ID of its own: a run recorded at version n replays with
// cuts 1..n and no others, and it pays for one marker, not one per cut.
const leanChange = "lean-pipeline"

// The cuts, in the order they came. A run takes the newest (leanVersion).
const (
	// leanImplied: the versions older changes had when leanChange came
	// are implied (impliedVersion) instead of each being recorded.
	leanImplied workflow.Version = 1
	// leanLocal: short database steps run as local activities (local.go).
	leanLocal workflow.Version = 2
	// leanDeliver: a purchase hands its extension to the Subscription
	// workflow in a local activity.
	leanDeliver workflow.Version = 3
	// leanPolicy: a Subscription run reads the configured policy in a
	// local activity, once per moment (refreshPolicy).
	leanPolicy workflow.Version = 4
	// leanActivation: a key is added to Xray without a timer for the
	// "activation in progress" notice (subscription.addKey).
	leanActivation workflow.Version = 5
	// leanAttrs: search attributes are upserted only when they change
	// (upsertChanged).
	leanAttrs workflow.Version = 6
	// leanTimer: the Subscription's main loop keeps one timer, cancelled
	// when its moment moves, instead of leaving one behind at every wake
	// (subscription.sleep).
	leanTimer workflow.Version = 7
	// leanExpiry: the expiry's database step (ExpireSubscription) runs as
	// a local activity, like the purchase's (dbStep). In an expiry storm
	// every user's workflow wakes at once, and the server's work per user
	// is what decides how fast the notices follow the revocation.
	leanExpiry workflow.Version = 8
	// leanXray: a user's Xray calls (the key added on activation or a
	// move, removed at expiry, its sessions ended) are tried once as a
	// local activity before they go to the Xray bulkhead (xrayStep). An
	// expiry or a move then takes one workflow task where it took three.
	leanXray workflow.Version = 9
	// leanNotice: a notice with nothing queued before it in the outbox is
	// tried once as a local activity, when its turn in the worker's
	// Telegram pace is near (outbox.sendNow). An expiry or a reminder then
	// takes one workflow task instead of two, and in a storm the notices
	// keep to Telegram's pace instead of the server's.
	leanNotice workflow.Version = 10
	// leanOutbox: the expiry notice is written to the notice outbox in the
	// expiry's own transaction (ExpireInput.Tell), and the NoticeOutbox
	// workflow sends it, instead of this workflow. In a storm the
	// revocation sweep writes most of them first, so users are told at
	// Telegram's pace whatever the pace of their workflows.
	leanOutbox workflow.Version = 11
	// leanReminder: a reminder is written to the notice outbox in a local
	// database step (EnqueueReminder) and the NoticeOutbox workflow sends
	// it, instead of this workflow. When everyone who bought on launch
	// day is reminded in the same minute, each workflow takes one step
	// and the reminders go at Telegram's pace.
	leanReminder workflow.Version = 12

	leanVersion = leanReminder
)

type leanKey struct{}

// withLean reads the run's lean version (recording it, on a first run)
// and carries it in ctx for the helpers that act on it. It must come
// before any other GetVersion of the run, so a run recorded before
// leanChange reads DefaultVersion and keeps every old marker.
func withLean(ctx workflow.Context) workflow.Context {
	return workflow.WithValue(ctx, leanKey{}, workflow.GetVersion(ctx, leanChange, workflow.DefaultVersion, leanVersion))
}

// leanIn is the lean version carried in ctx: DefaultVersion outside a
// Purchase or Subscription run, and in update handlers, which run in the
// workflow's root context until they call scope.
func leanIn(ctx workflow.Context) workflow.Version {
	if v, ok := ctx.Value(leanKey{}).(workflow.Version); ok {
		return v
	}
	return workflow.DefaultVersion
}

// version is workflow.GetVersion for the changes leanImplied implies: a
// run at leanImplied or later takes their version without a marker. That
// is deterministic: whether the marker is written depends only on the
// lean version, which the history holds. Other change IDs, and runs before
// leanImplied (or contexts without the lean version), ask Temporal.
func version(ctx workflow.Context, changeID string, maxSupported workflow.Version) workflow.Version {
	if leanIn(ctx) >= leanImplied {
		if v, ok := impliedVersion(changeID); ok {
			return v
		}
	}
	return workflow.GetVersion(ctx, changeID, workflow.DefaultVersion, maxSupported)
}

// impliedVersion is the version each change had when leanChange came,
// frozen: a later version of one of these needs a change ID (or a lean
// version) of its own, because lean runs never read this one again.
func impliedVersion(changeID string) (workflow.Version, bool) {
	switch changeID {
	case versionBulkheads, versionOutbox, versionRecordFailure, versionRefundExtras,
		edgesChange, autoRenewRearmChange, autoRenewChange:
		return 1, true
	}
	return workflow.DefaultVersion, false
}

// withLeanOf carries a run's lean version into a context that lacks it
// (an update handler's).
func withLeanOf(ctx workflow.Context, v workflow.Version) workflow.Context {
	return workflow.WithValue(ctx, leanKey{}, v)
}
