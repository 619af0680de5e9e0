package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"vpnflow/internal/dev/devstack"
	"vpnflow/internal/dev/vlessclient"
	"vpnflow/internal/schedules"
	"vpnflow/internal/store"
	"vpnflow/workflows"
)

// revokeLimit is how long a revoked key's open stream may go on before
// the test calls revocation broken: a correctness limit, far above what
// is measured (the tests log the figures).
const revokeLimit = 60 * time.Second

// startTrafficShop is a shop whose customers send real traffic through
// its Xray to local servers: REALITY borrows a local TLS server, and
// private destinations are allowed.
func startTrafficShop(t *testing.T, extra map[string]string) *shopEnv {
	t.Helper()
	return startShopWith(t, extra, devstack.Options{XrayTarget: vlessclient.LocalTLSTarget(t), XrayAllowPrivate: true})
}

// keyLink is the vless:// link of the newest key message the user got.
func (s *shopEnv) keyLink(userID int64) string {
	s.t.Helper()
	msgs := s.tg.Messages(userID)
	for i := len(msgs) - 1; i >= 0; i-- {
		if !isKey(msgs[i]) {
			continue
		}
		_, rest, _ := strings.Cut(msgs[i].Caption, "vless://")
		link, _, _ := strings.Cut(rest, "\n")
		return "vless://" + strings.TrimSpace(link)
	}
	s.t.Fatalf("user %d has no key message:\n%s", userID, s.conversation(userID))
	return ""
}

// connect starts a VLESS client with the user's newest key, connecting
// from the address from ("" for 127.0.0.1, which Xray leaves out of its
// online lists), and returns an HTTP client that goes through it.
func (s *shopEnv) connect(userID int64, from string, target *vlessclient.Target) *http.Client {
	s.t.Helper()
	return vlessclient.HTTP(vlessclient.Start(s.t, s.keyLink(userID), from), target.Roots())
}

// email is the user's current key email.
func (s *shopEnv) email(userID int64) string {
	s.t.Helper()
	sub, err := s.store.GetSubscription(context.Background(), userID)
	if err != nil {
		s.t.Fatal(err)
	}
	return sub.XrayEmail
}

// growth reads the key's Xray counters (without reset) twice, over, and
// returns how many bytes they grew by. A traffic collection resetting them
// in between shows as a drop; the reading is then taken again.
func (s *shopEnv) growth(email string, over time.Duration) int64 {
	s.t.Helper()
	for attempt := 0; ; attempt++ {
		a, err := s.xray.UserTraffic(context.Background(), email, false)
		if err != nil {
			s.t.Fatal(err)
		}
		time.Sleep(over)
		b, err := s.xray.UserTraffic(context.Background(), email, false)
		if err != nil {
			s.t.Fatal(err)
		}
		if (b.Uplink < a.Uplink || b.Downlink < a.Downlink) && attempt < 3 {
			continue // reset by a collection meanwhile
		}
		return (b.Uplink - a.Uplink) + (b.Downlink - a.Downlink)
	}
}

// collectTraffic runs one traffic collection now, with the given grace
// for revoked keys.
func (s *shopEnv) collectTraffic(grace time.Duration) workflows.TrafficResult {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	run, err := s.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: fmt.Sprintf("test-collect-traffic-%d", time.Now().UnixNano()), TaskQueue: s.cfg.TaskQueue,
	}, schedules.CollectTrafficWorkflowType, schedules.TrafficInput{RevokedGrace: grace})
	if err != nil {
		s.t.Fatal(err)
	}
	var res workflows.TrafficResult
	if err := run.Get(ctx, &res); err != nil {
		s.t.Fatalf("collect traffic: %v", err)
	}
	return res
}

// revokedTraffic lists the revoked keys the traffic readings caught.
func (s *shopEnv) revokedTraffic() []store.RevokedTraffic {
	s.t.Helper()
	rs, err := s.store.RevokedTrafficSince(context.Background(), time.Now().Add(-time.Hour), 100)
	if err != nil {
		s.t.Fatal(err)
	}
	return rs
}

func idStr(id int64) string { return strconv.FormatInt(id, 10) }
