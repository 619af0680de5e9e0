package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	faketg "vpnflow/internal/dev/fake/telegram"
	"vpnflow/internal/dev/vlessclient"
	"vpnflow/internal/schedules"
	"vpnflow/internal/shop"
)

// TestRevocationEndsOpenSessions is verified revocation end to end: real
// VLESS+REALITY clients (Xray-core), run from the keys the bot sent, move
// traffic through the shop's Xray to a local web server. Each way a key is
// revoked — a ban, a reissue (the old key), an expiry — stops new
// connections and ends the streams already open, within a bound the test
// measures and logs; a customer whose key stays valid keeps streaming
// throughout. The revoked keys' counters then stay still. One session the
// shop cannot end (from 127.0.0.1, which Xray leaves out of its online
// lists) keeps moving bytes after its ban: the traffic readings catch it
// and the admins are told once. "My subscription" shows the traffic.
func TestRevocationEndsOpenSessions(t *testing.T) {
	t.Parallel() // waits on the shop's clocks most of its time (harness: parallel)
	s := startTrafficShop(t, map[string]string{
		"TRIAL_DURATION": "75s", "REMINDERS_TRIAL": "5s", "HEALTH_CHECK_INTERVAL": "10s",
	})
	admin := s.newUser("Admin")
	s.say(admin, "/start")
	s.runInProcess()
	target := vlessclient.NewTarget(t)

	// Everyone starts a trial; all but the one whose trial is to expire
	// get 30 days from the admin.
	customer := func(name string, keep bool) int64 {
		u := s.register(name)
		s.press(u, "trial")
		s.waitFor(u, 0, "the trial key", isKey)
		if keep {
			s.adminSays(admin, "/grant "+idStr(u)+" 30", "access extended by")
		}
		return u
	}
	stay, banned, reissuer, leaker := customer("Stay", true), customer("Banned", true), customer("Reissuer", true), customer("Leaker", true)
	stayFlow := target.Download(t, s.connect(stay, "127.0.0.2", target), "the valid key's download", false)
	bannedHC := s.connect(banned, "127.0.0.3", target)
	bannedFlows := []*vlessclient.Flow{
		target.Download(t, bannedHC, "banned: plain download", false),
		target.Download(t, bannedHC, "banned: TLS download", true),
	}
	reissuerHC := s.connect(reissuer, "127.0.0.4", target)
	oldEmail := s.email(reissuer)
	reissuerFlows := []*vlessclient.Flow{
		target.Download(t, reissuerHC, "old key: plain download", false),
		target.Download(t, reissuerHC, "old key: TLS download", true),
	}
	leakerFlow := target.Download(t, s.connect(leaker, "", target), "loopback session: download", false)
	expiring := customer("Expiring", false)
	expiringSub, err := s.store.GetSubscription(t.Context(), expiring)
	if err != nil {
		t.Fatal(err)
	}
	expiringHC := s.connect(expiring, "127.0.0.5", target)
	expiringFlows := []*vlessclient.Flow{
		target.Download(t, expiringHC, "expired: plain download", false),
		target.Download(t, expiringHC, "expired: TLS download", true),
		target.Upload(t, expiringHC, "expired-upload"),
	}
	vlessclient.WaitFlowing(t, slices.Concat([]*vlessclient.Flow{stayFlow, leakerFlow}, bannedFlows, reissuerFlows, expiringFlows)...)
	if time.Until(expiringSub.ExpiresAt) < 20*time.Second {
		t.Fatalf("the trial expires in %s, too soon for the ban and the reissue first", time.Until(expiringSub.ExpiresAt))
	}

	// A ban.
	bannedAt := time.Now()
	s.adminSays(admin, "/ban "+idStr(banned), "is blocked")
	for _, f := range bannedFlows {
		last := vlessclient.LastByteAfter(t, f, bannedAt, revokeLimit)
		t.Logf("ban: %s: last byte %s after /ban; %s", f.Name, last.Round(time.Millisecond), vlessclient.EndedAfter(f, bannedAt))
	}
	if err := vlessclient.NewStream(bannedHC, target); err == nil {
		t.Error("the banned key opened a new connection")
	}

	// A reissue: the old key keeps working until the new one is delivered,
	// then its sessions end; the new key works.
	oldLink := s.keyLink(reissuer)
	after := s.lastID(reissuer)
	s.say(reissuer, "/sub")
	s.waitText(reissuer, after, "My subscription")
	pressedAt := time.Now()
	s.press(reissuer, "New key")
	s.waitFor(reissuer, after, "the new key", func(m faketg.Message) bool {
		return isKey(m) && !strings.Contains(m.Caption, oldLink)
	})
	deliveredAt := time.Now()
	for _, f := range reissuerFlows {
		last := vlessclient.LastByteAfter(t, f, pressedAt, revokeLimit)
		t.Logf("reissue: %s: last byte %s after the press (new key delivered after %s); %s", f.Name,
			last.Round(time.Millisecond), deliveredAt.Sub(pressedAt).Round(time.Millisecond), vlessclient.EndedAfter(f, pressedAt))
	}
	if err := vlessclient.NewStream(reissuerHC, target); err == nil {
		t.Error("the replaced key opened a new connection")
	}
	if err := vlessclient.NewStream(s.connect(reissuer, "127.0.0.6", target), target); err != nil {
		t.Errorf("the new key does not work: %v", err)
	}

	// An expiry, measured from the expiry instant.
	for _, f := range expiringFlows {
		last := vlessclient.LastByteAfter(t, f, expiringSub.ExpiresAt, revokeLimit)
		t.Logf("expiry: %s: last byte %s after the expiry instant; %s", f.Name, last.Round(time.Millisecond), vlessclient.EndedAfter(f, expiringSub.ExpiresAt))
	}
	if err := vlessclient.NewStream(expiringHC, target); err == nil {
		t.Error("the expired key opened a new connection")
	}
	vlessclient.KeepsFlowing(t, stayFlow, 2*time.Second)

	// The revoked keys' counters stay still while the valid one's grow.
	for name, email := range map[string]string{"banned": s.email(banned), "replaced": oldEmail, "expired": s.email(expiring)} {
		if n := s.growth(email, 2*time.Second); n != 0 {
			t.Errorf("the %s key %s moved %d bytes after its revocation", name, email, n)
		}
	}
	if n := s.growth(s.email(stay), 2*time.Second); n <= 0 {
		t.Errorf("the valid key's counters did not move (%d): the check above proves nothing", n)
	}

	// A session the shop cannot end: banned, it goes on.
	s.adminSays(admin, "/ban "+idStr(leaker), "is blocked")
	leakedAt := time.Now()
	time.Sleep(3 * time.Second)
	vlessclient.KeepsFlowing(t, leakerFlow, 2*time.Second)
	t.Logf("loopback session: still moving bytes %s after its ban", leakerFlow.LastAt().Sub(leakedAt).Round(time.Millisecond))
	// Two readings after the grace: the second holds only bytes moved
	// after every revocation above.
	const grace = 5 * time.Second
	time.Sleep(time.Until(leakedAt.Add(grace)))
	s.collectTraffic(grace)
	time.Sleep(2 * time.Second)
	res := s.collectTraffic(grace)
	caught := s.revokedTraffic()
	if res.Revoked != 1 || len(caught) != 1 || caught[0].Email != s.email(leaker) {
		t.Fatalf("readings after the revocations: %+v, revoked keys with traffic %+v; want only %s", res, caught, s.email(leaker))
	}
	t.Logf("caught: %s moved %d bytes after its revocation", caught[0].Email, caught[0].Up+caught[0].Down)
	alert := s.waitText(admin, 0, "Revocation is down")
	if !strings.Contains(alert.Text, "user "+idStr(leaker)) {
		t.Errorf("the alert does not name the user:\n%s", alert.Text)
	}
	seen := s.describeSchedule(schedules.HealthCheckID).Info.NumActions
	s.eventually("two more health checks", func() error {
		if d := s.describeSchedule(schedules.HealthCheckID); d.Info.NumActions < seen+2 || len(d.Info.RunningWorkflows) > 0 {
			return fmt.Errorf("%d checks since", d.Info.NumActions-seen)
		}
		return nil
	})
	if n := s.alertsSeen(admin, "Revocation is down"); n != 1 {
		t.Errorf("the admin was told %d times, want once:\n%s", n, s.conversation(admin))
	}

	// "My subscription" shows the traffic the readings recorded.
	after = s.lastID(stay)
	s.say(stay, "/sub")
	m := s.waitText(stay, after, "Traffic used:")
	if strings.Contains(m.Text, "Traffic used: 0\u00a0B") {
		t.Errorf("My subscription shows no traffic:\n%s", m.Text)
	}

	// The revocations' histories replay against the current code; `make
	// record-histories` keeps them as fixtures.
	s.replayHistories(map[string]string{
		"subscription-ban-end-sessions":     shop.SubscriptionWorkflowID(banned),
		"subscription-reissue-end-sessions": shop.SubscriptionWorkflowID(reissuer),
		"subscription-expiry-end-sessions":  shop.SubscriptionWorkflowID(expiring),
		"healthcheck-revocation":            s.completedRun("HealthCheck"),
	})
}
