package botapp

import (
	"context"
	"sync"

	"vpnflow/internal/store"
)

// A newcomer's /start answers with the menu while their row is still being
// written: the menu of someone who has just arrived needs nothing the
// database knows (no subscription, Telegram's name and language), and the
// write is the slowest step of the update: a commit, behind whatever else
// the database is committing. While the purchase pipeline saturated two
// cores, a probe's one-row inserts took 9–19 ms at p99 per 5-second window
// (60 ms at most), where its reads took 2–4 ms (24 ms at most).
//
// Answering first opens a window in which the user can press a button on
// that menu before their row exists. The press must not register them a
// second time, without the referrer their /start carried, so it waits for
// the registration in flight here instead (App.user).

// registrations are the first /starts whose user row is being written.
// The zero value is ready to use.
type registrations struct {
	mu      sync.Mutex
	pending map[int64]*registration
}

// registration is one user's row being written; done closes when it is.
type registration struct {
	done    chan struct{}
	user    store.User
	created bool
	err     error
}

// begin records that userID's row is being written. It returns nil when a
// registration of the same user is already in flight: the caller then
// goes the usual way, waiting for it.
func (r *registrations) begin(userID int64) *registration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pending == nil {
		r.pending = make(map[int64]*registration)
	}
	if _, busy := r.pending[userID]; busy {
		return nil
	}
	reg := &registration{done: make(chan struct{})}
	r.pending[userID] = reg
	return reg
}

// finish records the outcome and releases whoever waits for it.
func (r *registrations) finish(userID int64, reg *registration, u store.User, created bool, err error) {
	reg.user, reg.created, reg.err = u, created, err
	r.mu.Lock()
	delete(r.pending, userID)
	r.mu.Unlock()
	close(reg.done)
}

// wait waits for userID's registration in flight, if there is one. Its
// outcome is not the waiter's: the waiter reads the row afresh.
func (r *registrations) wait(ctx context.Context, userID int64) {
	r.mu.Lock()
	reg := r.pending[userID]
	r.mu.Unlock()
	if reg == nil {
		return
	}
	select {
	case <-reg.done:
	case <-ctx.Done():
	}
}
