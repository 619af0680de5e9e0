package e2e

import (
	"testing"
)

// TestSandboxExpireWorksAgainstTheStandIn: with the stand-in as Telegram,
// the bot and the worker recognise it at start and /sandbox_expire moves
// the expiry (the refusal side is botapp's and sandboxgate's unit tests).
func TestSandboxExpireWorksAgainstTheStandIn(t *testing.T) {
	s := startShop(t, nil)
	if !s.cfg.Sandbox {
		t.Fatal("the dev stack runs without VPNFLOW_SANDBOX")
	}
	s.runInProcess()
	u := s.register("Sam")
	s.press(u, "trial")
	s.waitFor(u, 0, "the trial key", isKey)
	after := s.lastID(u)
	s.say(u, "/sandbox_expire 2m")
	s.waitText(u, after, "your subscription now ends")
	s.waitLog("bot", "sandbox commands enabled: Telegram is the vpnflow stand-in", nil)
}
