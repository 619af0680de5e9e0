package telegram

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"vpnflow/internal/dev/testenv"
)

// TestPollObserverHearsRoundsAndConflicts polls the stand-in with one bot,
// then with a second on the same token: Telegram (and the stand-in) answer
// 409 to the older poller, and the observer of one of them hears it.
func TestPollObserverHearsRoundsAndConflicts(t *testing.T) {
	tg := testenv.Telegram(t)
	var rounds, conflicts atomic.Int64
	newBot := func() *Bot {
		b, err := NewBot(BotOptions{Token: tg.Token(), APIURL: tg.URL(), PollTimeout: 2 * time.Second,
			Errors: func(error) {},
			Polls:  PollObserver{Completed: func() { rounds.Add(1) }, Conflict: func() { conflicts.Add(1) }}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go newBot().Poll(ctx)
	waitFor(t, "a completed round", func() bool { return rounds.Load() > 0 })
	if conflicts.Load() != 0 {
		t.Fatalf("%d conflicts with one poller", conflicts.Load())
	}
	go newBot().Poll(ctx)
	waitFor(t, "a 409 with two pollers", func() bool { return conflicts.Load() > 0 })
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 20 s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
