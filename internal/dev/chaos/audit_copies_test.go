package chaos

import (
	"testing"
	"time"

	faketg "vpnflow/internal/dev/fake/telegram"
)

// A second copy of a key is the documented at-least-once only where a
// fault lost a send's outcome: a Telegram hang, or the worker killed right
// after the send. Any other copy is a violation.
func TestOnlyALostSendExplainsACopy(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 3, 54, 20, 0, time.UTC)
	key := func(at time.Duration, text string) faketg.Message {
		return faketg.Message{Text: text, Date: t0.Add(at)}
	}
	kill := injection{Fault: KillWorker, From: t0, To: t0.Add(200 * time.Millisecond)}
	hang := injection{Fault: HangTelegram, From: t0.Add(time.Minute), To: t0.Add(time.Minute + 4*time.Second)}
	for _, c := range []struct {
		name string
		keys []faketg.Message
		want bool
	}{
		{"sent just before the kill, again after it", []faketg.Message{key(-100*time.Millisecond, "k"), key(16*time.Second, "k")}, true},
		{"during a Telegram hang, again after it", []faketg.Message{key(time.Minute+time.Second, "k"), key(time.Minute+20*time.Second, "k")}, true},
		{"sent well before the kill", []faketg.Message{key(-5*time.Second, "k"), key(16*time.Second, "k")}, false},
		{"again long after the kill", []faketg.Message{key(-100*time.Millisecond, "k"), key(10*time.Minute, "k")}, false},
		{"a different key", []faketg.Message{key(-100*time.Millisecond, "k"), key(16*time.Second, "other")}, false},
		{"no fault near", []faketg.Message{key(-time.Hour, "k"), key(-time.Hour+time.Second, "k")}, false},
	} {
		if got := lostResponseCopies(c.keys, []injection{kill, hang}); got != c.want {
			t.Errorf("%s: explained = %v, want %v", c.name, got, c.want)
		}
	}
}
