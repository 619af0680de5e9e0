package activities

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"vpnflow/internal/dev/stack"
	"vpnflow/internal/dev/testenv"
	"vpnflow/internal/notice"
	"vpnflow/internal/telegram"
)

// A user's Xray call run as a local activity is admitted only within the
// worker's local Xray slots (and while the node's breaker is closed); run
// as an activity, the bulkhead bounds it and it always runs. Against real
// PostgreSQL and Xray.
func TestLocalXrayCallsAreBounded(t *testing.T) {
	e := newDBEnv(t)
	xc := e.useXray(testenv.NewXray(t, stack.XrayOptions{}))
	e.paidUser(1)
	sub, err := e.s.GetSubscription(e.ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	inXray := func() bool {
		t.Helper()
		_, ok, err := xc.GetUser(e.ctx, sub.XrayEmail)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	local := func() error {
		t.Helper()
		_, err := e.act.ExecuteLocalActivity(e.a.EnsureVLESSUser, UserRef{UserID: 1})
		return err
	}
	notAdmitted := func(err error) bool {
		return err != nil && strings.Contains(err.Error(), ErrNotAdmittedLocally.Error())
	}

	// A worker without local Xray slots runs none locally.
	if err := local(); !notAdmitted(err) || inXray() {
		t.Fatalf("without slots: err = %v, key in xray = %v; want not admitted, no key", err, inXray())
	}
	// Every slot taken: refused after a short wait, not queued.
	e.a.LocalXray = NewLocalSlots(1)
	if !e.a.LocalXray.TryAcquire(1) {
		t.Fatal("fresh slot busy")
	}
	if err := local(); !notAdmitted(err) || inXray() {
		t.Fatalf("slots busy: err = %v, key in xray = %v; want not admitted, no key", err, inXray())
	}
	// The same call on the bulkhead is not bounded by the local slots.
	if _, err := e.run(e.a.EnsureVLESSUser, UserRef{UserID: 1}, nil); err != nil || !inXray() {
		t.Fatalf("as an activity with the local slots busy: err = %v, key in xray = %v; want the key added", err, inXray())
	}
	// A free slot: the local call runs, and gives its slot back.
	e.a.LocalXray.Release(1)
	if _, err := e.act.ExecuteLocalActivity(e.a.RemoveVLESSUser, UserRef{UserID: 1}); err != nil || inXray() {
		t.Fatalf("local remove: err = %v, key in xray = %v; want removed", err, inXray())
	}
	if err := local(); err != nil || !inXray() {
		t.Fatalf("local add: err = %v, key in xray = %v; want added", err, inXray())
	}
	if !e.a.LocalXray.TryAcquire(1) {
		t.Error("a local call kept its slot")
	}
}

// A notice run as a local activity is admitted only within the worker's
// local Telegram slots and when its turn in the send pace is near; run as
// an activity it waits for its turn. Against the Telegram stand-in.
func TestLocalNoticesAreBounded(t *testing.T) {
	e := newBroadcastEnv(t, 1)
	ann := e.users[0]
	paced, err := telegram.New(e.tg.Token(), e.tg.URL(), nil, telegram.NewPace(1, prometheus.NewRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	e.a.Telegram = paced
	n := notice.AutoRenewSet(true)
	n.UserID = ann
	before := len(e.tg.Messages(ann))
	sent := func() int { return len(e.tg.Messages(ann)) - before }
	local := func() error {
		t.Helper()
		_, err := e.act.ExecuteLocalActivity(e.a.Notify, n)
		return err
	}

	if err := local(); err == nil || !strings.Contains(err.Error(), ErrNotAdmittedLocally.Error()) || sent() != 0 {
		t.Fatalf("without slots: err = %v, %d sent; want not admitted, none sent", err, sent())
	}
	e.a.LocalTelegram = NewLocalSlots(1)
	if err := local(); err != nil || sent() != 1 {
		t.Fatalf("first local notice: err = %v, %d sent; want sent", err, sent())
	}
	// At one message a second the next turn is a second away: refused at
	// once, not waited for.
	start := time.Now()
	if err := local(); err == nil || !strings.Contains(err.Error(), telegram.ErrNoSendSlot.Error()) || sent() != 1 {
		t.Fatalf("local notice with its turn a second away: err = %v, %d sent; want refused, not sent", err, sent())
	}
	if waited := time.Since(start); waited > 500*time.Millisecond {
		t.Errorf("a refused local notice took %s; it must not wait for its turn", waited)
	}
	if _, err := e.act.ExecuteActivity(e.a.Notify, n); err != nil || sent() != 2 {
		t.Fatalf("the same notice as an activity: err = %v, %d sent; want it to wait for its turn and be sent", err, sent())
	}
}
