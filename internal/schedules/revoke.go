package schedules

import "time"

// The revocation sweep takes expired keys out of Xray whether or not each
// user's Subscription workflow has got to its expiry yet. In an expiry
// storm (everyone who bought on launch day) the workflows expire their
// users at the pace of the Temporal server, minutes behind; the sweep
// removes the keys within RevokeEvery of their expiry: one query when
// nothing is due; otherwise one Xray listing per node, three statements
// per page of keys, removals in parallel. It writes
// the users' expiry notices to the outbox, drained at Telegram's pace
// (NoticeOutboxID). Each user's workflow still expires its user (database,
// history) and finds the key gone.
const (
	RevokeID                  = "vpnflow-revoke-expired"
	RevokeExpiredWorkflowType = "RevokeExpired"
	RevokeEvery               = 30 * time.Second
)

// A run does not wait for the next one to find a storm due within its
// interval. After its sweep it asks when the next expiry storm is due (a
// second in which RevokeStormSize or more keys expire) and, when that is
// within RevokeWatch of its start, sleeps until then and sweeps again. A
// lone expiry is left to its own workflow, which gets to it in
// milliseconds: waking a run for each would list every node's keys for
// nothing.
//
// RevokeWatch ends a run before the next can start (RevokeEvery later,
// less its jitter), with a margin for the last sweep: the Schedule skips a
// start while a run is still going. A storm due after it is the next run's,
// found by its first sweep or its own watch.
const (
	RevokeStormSize = 20
	RevokeWatch     = RevokeEvery - 5*time.Second
)

// RevokeInput starts a RevokeExpired run; zero fields take the defaults.
type RevokeInput struct {
	PageSize int
}

// WithDefaults fills in zero fields.
func (in RevokeInput) WithDefaults() RevokeInput {
	if in.PageSize <= 0 {
		in.PageSize = DefaultPageSize
	}
	return in
}

func revokeDefinition() Definition {
	return Definition{
		ID:       RevokeID,
		Workflow: RevokeExpiredWorkflowType,
		Every:    RevokeEvery,
		Jitter:   jitter(RevokeEvery),
		Catchup:  catchup(RevokeEvery),
		Timeout:  10 * time.Minute,
		Args:     RevokeInput{},
	}
}
