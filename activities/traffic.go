package activities

import (
	"context"
	"sort"
	"time"

	"go.temporal.io/sdk/activity"

	"vpnflow/internal/store"
)

// TrafficDelta is bytes one Xray user moved since the previous reading.
type TrafficDelta struct {
	Email string
	Up    int64
	Down  int64
}

// ReadTrafficInput asks for a node's per-user counters.
type ReadTrafficInput struct {
	NodeID int16 // zero (an input from before nodes): the worker's own node
}

// TrafficReading is one reading of the counters, users with traffic only.
// It travels through the workflow's history to the database activity:
// counters read with reset exist nowhere else until they are added.
type TrafficReading struct {
	Deltas []TrafficDelta
	// ReadAt is when the counters were read and reset, at the latest: the
	// next reading's bytes all come after it.
	ReadAt time.Time
}

// ReadTrafficCounters reads every user's counters and resets them in the
// same step. Only the answer of this call carries those bytes, so it is
// retried little: a reading lost with its answer is lost traffic, and a
// failed reading leaves the counters for the next run.
func (a *Activities) ReadTrafficCounters(ctx context.Context, in ReadTrafficInput) (TrafficReading, error) {
	xc, err := a.nodeXray(ctx, in.NodeID)
	if err != nil {
		return TrafficReading{}, err
	}
	readAt := time.Now()
	counters, err := xc.Traffic(ctx, true)
	if err != nil {
		return TrafficReading{}, xrayError("read traffic counters", err)
	}
	out := TrafficReading{Deltas: make([]TrafficDelta, 0, len(counters)), ReadAt: readAt}
	for email, t := range counters {
		if t.Uplink > 0 || t.Downlink > 0 {
			out.Deltas = append(out.Deltas, TrafficDelta{Email: email, Up: t.Uplink, Down: t.Downlink})
		}
	}
	sort.Slice(out.Deltas, func(i, j int) bool { return out.Deltas[i].Email < out.Deltas[j].Email })
	return out, nil
}

// RecordTrafficInput is a reading to add, under its batch id.
type RecordTrafficInput struct {
	BatchID string
	Deltas  []TrafficDelta
	ReadAt  time.Time // the reading's; zero (a reading from before it existed): now
	// RevokedGrace is how long after its revocation a key may still show
	// bytes (zero: store.DefaultRevokedGrace).
	RevokedGrace time.Duration
}

// RecordTrafficResult says what adding the batch did. A retry after the
// write committed reports the same: the batch id is the workflow run's, so
// a batch already in the database was added by an earlier attempt of this
// very activity.
type RecordTrafficResult struct {
	Applied bool // the batch is in the database
	Updated int  // subscriptions whose counters grew
	// Revoked counts revoked keys that moved bytes after their revocation
	// (store.RevokedTrafficSince; the health check reports them).
	Revoked int
}

// RecordTrafficBatch adds a reading to the subscriptions' counters, once
// per batch id, so a retry after a lost answer never counts twice. In the
// same transaction it records the bytes of keys revoked before the
// reading began: revocation that did not hold.
func (a *Activities) RecordTrafficBatch(ctx context.Context, in RecordTrafficInput) (RecordTrafficResult, error) {
	deltas := make([]store.TrafficDelta, len(in.Deltas))
	for i, d := range in.Deltas {
		deltas[i] = store.TrafficDelta{Email: d.Email, Up: d.Up, Down: d.Down}
	}
	res, err := a.Store.AddTrafficBatch(ctx, store.TrafficBatch{
		ID: in.BatchID, Deltas: deltas, ReadAt: in.ReadAt, RevokedGrace: in.RevokedGrace,
	})
	if err != nil {
		return RecordTrafficResult{}, storeError("record traffic batch "+in.BatchID, err)
	}
	if res.Revoked > 0 {
		activity.GetLogger(ctx).Error("revoked keys moved traffic after their revocation", "batch", in.BatchID, "keys", res.Revoked)
	}
	return RecordTrafficResult{Applied: true, Updated: res.Updated, Revoked: res.Revoked}, nil
}
