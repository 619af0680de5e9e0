package e2e

import (
	"errors"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"vpnflow/internal/daemon"
	faketg "vpnflow/internal/dev/fake/telegram"
)

// TestBotWatchdogEndsAStuckUpdateLoop freezes the real bot process's update
// loop (Telegram accepts its getUpdates and never answers: hung, not down)
// and checks what the predecessor lacked: /healthz names the stalled loop,
// and the watchdog ends the process with ExitStalled, so a supervisor
// starts a fresh one, which serves users again once Telegram answers.
func TestBotWatchdogEndsAStuckUpdateLoop(t *testing.T) {
	s := startShop(t, nil)
	const bound, limit = 3 * time.Second, 3 * time.Second
	env := []string{"LIVENESS_BOUND=" + bound.String(), "WATCHDOG_LIMIT=" + limit.String(), "TELEGRAM_LEASE_TTL=3s"}
	bot := s.startProcess("bot", env...)
	healthz := "http://" + s.cfg.HTTPAddr + "/healthz"
	s.eventually("the bot is live", func() error { return wantHealth(healthz, http.StatusOK, "telegram-updates: last progress") })

	frozen := time.Now()
	s.tg.SetOutage(faketg.OutageHang)
	s.eventually("/healthz names the stalled loop", func() error {
		return wantHealth(healthz, http.StatusServiceUnavailable, "stalled telegram-updates: no progress since")
	})
	flagged := time.Since(frozen)

	exited := make(chan error, 1)
	go func() { exited <- bot.Wait() }()
	var err error
	select {
	case err = <-exited:
	case <-time.After(waitLimit):
		t.Fatalf("the bot still runs %s after its update loop froze (bound %s, watchdog limit %s)", waitLimit, bound, limit)
	}
	ended := time.Since(frozen)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != daemon.ExitStalled {
		t.Fatalf("the bot ended with %v, want exit status %d (stalled)", err, daemon.ExitStalled)
	}
	t.Logf("loop frozen: /healthz 503 after %s, process exited after %s (bound %s, limit %s)",
		flagged.Round(time.Millisecond), ended.Round(time.Millisecond), bound, limit)

	// What the supervisor does: start it again; it serves once Telegram does.
	s.tg.SetOutage(faketg.OutageNone)
	s.startProcess("bot", env...)
	s.eventually("the restarted bot is live", func() error { return wantHealth(healthz, http.StatusOK, "ok") })
	user := s.newUser("Rita")
	s.say(user, "/start")
	s.waitText(user, 0, "Hi, Rita")
}

func wantHealth(url string, code int, substr string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != code || !strings.Contains(string(body), substr) {
		return errors.New(resp.Status + ": " + strings.TrimSpace(string(body)))
	}
	return nil
}
