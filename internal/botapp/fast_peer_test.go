package botapp

import (
	"strings"
	"testing"

	faketg "vpnflow/internal/dev/fake/telegram"
	"vpnflow/internal/store"
)

// TestFastBotTellsAdminsWhenTheWorkerGoesQuiet: the worker's health check
// cannot report the worker itself, so the bot reads its heartbeat and tells
// the admins of each change, once: stuck, then back.
func TestFastBotTellsAdminsWhenTheWorkerGoesQuiet(t *testing.T) {
	cfg := fastConfig(t)
	f := newFastBot(t, cfg)
	admin := f.newUser("Ada", "en")
	// A bot may only write to users who wrote to it.
	if _, err := f.tg.SendText(admin, "/start"); err != nil {
		t.Fatal(err)
	}
	f.waitFor(admin, "the menu", func(m faketg.Message) bool { return m.FromBot })
	f.app.cfg.AdminIDs = []int64{admin}
	f.app.workerWatch = newWorkerWatch(nil)
	told := func(substr string) int {
		n := 0
		for _, m := range f.tg.Messages(admin) {
			if m.FromBot && strings.Contains(m.Text, substr) {
				n++
			}
		}
		return n
	}

	f.app.checkWorker(f.ctx()) // no worker has ever beaten: nothing to say
	if err := f.store.Beat(f.ctx(), store.ProcessWorker, "w:1", false, "activity-slots: no progress"); err != nil {
		t.Fatal(err)
	}
	f.app.checkWorker(f.ctx())
	f.app.checkWorker(f.ctx())
	if n := told("Worker is down"); n != 1 {
		t.Fatalf("admin told %d times that the worker is down, want once:\n%s", n, f.dump(admin))
	}
	if !strings.Contains(f.lastBotText(admin), "activity-slots") {
		t.Errorf("the alert does not say what is stuck:\n%s", f.dump(admin))
	}
	if err := f.store.Beat(f.ctx(), store.ProcessWorker, "w:1", true, ""); err != nil {
		t.Fatal(err)
	}
	f.app.checkWorker(f.ctx())
	f.app.checkWorker(f.ctx())
	if n := told("Worker is back up"); n != 1 {
		t.Fatalf("admin told %d times that the worker is back, want once:\n%s", n, f.dump(admin))
	}
}

func (f *fastBot) lastBotText(chat int64) string {
	var last faketg.Message
	for _, m := range f.tg.Messages(chat) {
		if m.FromBot {
			last = m
		}
	}
	return last.Text
}
