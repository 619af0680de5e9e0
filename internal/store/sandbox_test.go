package store_test

import (
	"testing"
	"time"

	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

func TestSetSandboxExpiry(t *testing.T) {
	e := newEnv(t)
	e.user(1, "")
	trial, err := e.s.StartTrial(e.ctx, 1, 72*time.Hour, domain)
	if err != nil {
		t.Fatal(err)
	}

	// Earlier than now+72h: the sandbox may move the expiry back.
	at := e.dbNow().Add(2 * time.Minute).Truncate(time.Microsecond)
	sub, err := e.s.SetSandboxExpiry(e.ctx, 1, at)
	if err != nil {
		t.Fatal(err)
	}
	if !sub.ExpiresAt.Equal(at) || sub.Status != shop.StatusTrial || !sub.IsTrial || sub.VLESSUUID != trial.VLESSUUID {
		t.Errorf("after sandbox expiry: %v (is_trial=%t)", sub, sub.IsTrial)
	}
	if got, _ := e.s.GetSubscription(e.ctx, 1); !got.ExpiresAt.Equal(at) {
		t.Errorf("stored expiry %s, want %s", got.ExpiresAt, at)
	}
	// Retried with the same instant: same result, one more audit row.
	if again, err := e.s.SetSandboxExpiry(e.ctx, 1, at); err != nil || !again.ExpiresAt.Equal(at) {
		t.Errorf("retry: %v, %v", again, err)
	}
	if n := e.count(`SELECT count(*) FROM audit_log WHERE user_id = 1 AND event = $1`, store.EventSandboxExpiry); n != 2 {
		t.Errorf("%d audit rows, want 2", n)
	}

	// Expired, missing or not given: refused, nothing written.
	e.exec(`UPDATE subscriptions SET status = 'expired' WHERE user_id = 1`)
	_, err = e.s.SetSandboxExpiry(e.ctx, 1, at.Add(time.Hour))
	wantErr(t, err, store.ErrNotFound)
	if got, _ := e.s.GetSubscription(e.ctx, 1); !got.ExpiresAt.Equal(at) {
		t.Errorf("expired subscription's expiry moved to %s", got.ExpiresAt)
	}
	e.user(2, "")
	_, err = e.s.SetSandboxExpiry(e.ctx, 2, at)
	wantErr(t, err, store.ErrNotFound)
	_, err = e.s.SetSandboxExpiry(e.ctx, 1, time.Time{})
	wantErr(t, err, store.ErrInvalid)
	if n := e.count(`SELECT count(*) FROM audit_log WHERE event = $1`, store.EventSandboxExpiry); n != 2 {
		t.Errorf("%d audit rows after refusals, want 2", n)
	}
}
