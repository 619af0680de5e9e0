package schedules

import "time"

// Traffic collection: Xray's per-user counters are read with reset and
// added to the database every TrafficEvery.
const (
	TrafficID                  = "vpnflow-collect-traffic"
	CollectTrafficWorkflowType = "CollectTraffic"
	TrafficEvery               = 5 * time.Minute
)

// TrafficInput starts a CollectTraffic run; each run reads whatever Xray
// counted since the last one. RevokedGrace is how long after its
// revocation a key may still show bytes before they count as traffic
// after revocation (zero: store.DefaultRevokedGrace); tests shorten it.
type TrafficInput struct {
	RevokedGrace time.Duration `json:",omitempty"`
}

// trafficDefinition is the traffic collection's schedule. Overlap SKIP
// (as for every schedule) matters here: while a run waits out a database
// outage, no second run resets counters it cannot store yet.
func trafficDefinition() Definition {
	return Definition{
		ID:       TrafficID,
		Workflow: CollectTrafficWorkflowType,
		Every:    TrafficEvery,
		Jitter:   jitter(TrafficEvery),
		Catchup:  catchup(TrafficEvery),
		// Long: a run that times out loses the reading it holds, while
		// a run that waits only delays the next reading.
		Timeout: 24 * time.Hour,
		Args:    TrafficInput{},
	}
}
