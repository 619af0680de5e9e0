package schedules

import "time"

// The notice outbox is drained by one NoticeOutbox run at a time, each for
// NoticeRunFor, back to back: the schedule fires every NoticeEvery and
// buffers the next run while one is going (overlap BUFFER_ONE), so the
// next starts the moment the last ends, and the schedule restarts the
// chain within a minute if a run fails or is terminated. The drain is
// continuous, so it takes no phase offset; its idle poll is a query every
// few hundred milliseconds, not a run.
const (
	NoticeOutboxID           = "vpnflow-notice-outbox"
	NoticeOutboxWorkflowType = "NoticeOutbox"
	NoticeEvery              = time.Minute
	// NoticeRunFor is how long each run drains. Between two runs the
	// sends stop while the last batches finish and the schedule starts
	// the next run, so a storm of 10,000 notices (six minutes at
	// Telegram's pace) paused six times with one-minute runs. Five
	// minutes of sends at that pace is about 1,700 history events.
	NoticeRunFor = 5 * time.Minute
)

// Notice drain defaults.
const (
	// DefaultNoticeBatch is how many notices one claim takes: about three
	// seconds of sends at Telegram's pace.
	DefaultNoticeBatch = 100
	// DefaultNoticeLease is how long a claimed notice is held by its run
	// before another may claim it (the run died).
	DefaultNoticeLease = 2 * time.Minute
)

// NoticeInput starts a NoticeOutbox run; zero fields take the defaults.
type NoticeInput struct {
	RunFor time.Duration // how long the run drains (zero: NoticeEvery, as runs before NoticeRunFor had)
	Batch  int
	Lease  time.Duration
}

// WithDefaults fills in zero fields.
func (in NoticeInput) WithDefaults() NoticeInput {
	if in.RunFor <= 0 {
		in.RunFor = NoticeEvery
	}
	if in.Batch <= 0 {
		in.Batch = DefaultNoticeBatch
	}
	if in.Lease <= 0 {
		in.Lease = DefaultNoticeLease
	}
	return in
}

func noticeOutboxDefinition() Definition {
	return Definition{
		ID:         NoticeOutboxID,
		Workflow:   NoticeOutboxWorkflowType,
		Every:      NoticeEvery,
		Catchup:    catchup(NoticeEvery),
		Timeout:    10 * time.Minute,
		Args:       NoticeInput{RunFor: NoticeRunFor},
		Continuous: true,
	}
}
