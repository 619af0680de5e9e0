package activities

import (
	"strings"
	"testing"
)

// TestAdminAlertResumesAfterTheAdminsTold: an attempt retried after one
// that was cut short (Telegram slow, the worker killed) tells only the
// admins the cut attempt had not reached, read from its heartbeat.
func TestAdminAlertResumesAfterTheAdminsTold(t *testing.T) {
	e := newBroadcastEnv(t, 3)
	e.a.Config.AdminIDs = e.users
	alert := AdminAlert{Message: AlertHealthDown, Component: "Xray", Error: "hung"}
	told := func(id int64) int {
		n := 0
		for _, m := range e.tg.Messages(id) {
			if strings.Contains(m.Text, "Xray is down") {
				n++
			}
		}
		return n
	}

	if _, err := e.act.ExecuteActivity(e.a.AlertAdmins, alert); err != nil {
		t.Fatal(err)
	}
	for _, id := range e.users {
		if n := told(id); n != 1 {
			t.Errorf("admin %d told %d times, want once", id, n)
		}
	}

	// The next attempt after one that reached the first admin only.
	e.act.SetHeartbeatDetails(adminAlertProgress{Admins: e.users[:1]})
	v, err := e.act.ExecuteActivity(e.a.AlertAdmins, alert)
	if err != nil {
		t.Fatal(err)
	}
	var res AdminAlertResult
	if err := v.Get(&res); err != nil {
		t.Fatal(err)
	}
	if res.Sent != 3 || res.Failed != 0 {
		t.Errorf("result of the resumed attempt = %+v, want all 3 told", res)
	}
	if n := told(e.users[0]); n != 1 {
		t.Errorf("the admin the cut attempt reached was told %d times, want still once", n)
	}
	for _, id := range e.users[1:] {
		if n := told(id); n != 2 {
			t.Errorf("admin %d told %d times, want twice (once per alert)", id, n)
		}
	}
}
