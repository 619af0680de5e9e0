package activities

import (
	"testing"

	"github.com/google/uuid"

	"vpnflow/internal/dev/testenv"
	"vpnflow/internal/xray"
)

// A reissue that was interrupted before its rollback reached Xray (or a
// restored Xray config) leaves a stale key under the email the next key
// will use. That email only ever holds this user's pending key, so the
// database is the truth: the stale key is replaced, and the reissue goes
// on instead of failing until reconcile happens to remove it.
func TestAddPendingKeyReplacesAStaleKeyUnderItsEmail(t *testing.T) {
	e := newDBEnv(t)
	xc := e.useXray(testenv.Xray(t))
	e.a.Config.XrayEmailDomain = "vpnflow"
	e.paidUser(1)

	v, err := e.act.ExecuteActivity(e.a.BeginReissue, UserRef{UserID: 1})
	if err != nil {
		t.Fatal(err)
	}
	var plan ReissuePlan
	if err := v.Get(&plan); err != nil {
		t.Fatal(err)
	}
	stale := uuid.NewString()
	if err := xc.AddUser(e.ctx, xray.User{Email: plan.NewEmail, UUID: stale, Flow: e.a.Config.VLESSFlow}); err != nil {
		t.Fatal(err)
	}

	if _, err := e.act.ExecuteActivity(e.a.AddPendingKey, KeyRef{UserID: 1, Email: plan.NewEmail}); err != nil {
		t.Fatalf("AddPendingKey over a stale key: %v", err)
	}
	pending, err := e.s.PendingKey(e.ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	got, found, err := xc.GetUser(e.ctx, plan.NewEmail)
	if err != nil || !found {
		t.Fatalf("GetUser(%s) = found %v, %v", plan.NewEmail, found, err)
	}
	if got.UUID != pending {
		t.Fatal("Xray still holds the stale key under the reissue's email")
	}
}
