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
