package activities

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	faketg "vpnflow/internal/dev/fake/telegram"
	"vpnflow/internal/notice"
	"vpnflow/internal/telegram"
)

// TestBroadcastAndNoticesShareThePace: a broadcast page and an expiry
// storm's notices, sent by the same worker, draw from its one Telegram
// pace. Against a stand-in refusing more than 30 sends a second none of
// either is refused, and the notices are not queued behind the broadcast:
// they all go out while it is still sending, although this broadcast asks
// for no pause of its own between messages (the worst case; the workflow's
// pace is 20/s).
func TestBroadcastAndNoticesShareThePace(t *testing.T) {
	e := newBroadcastEnv(t, 100)
	paced, err := telegram.New(e.tg.Token(), e.tg.URL(), nil, telegram.NewPace(28, prometheus.NewRegistry()))
	if err != nil {
		t.Fatal(err)
	}
	e.a.Telegram = paced
	e.tg.SetRateLimit(faketg.RateLimit{PerSecond: 30, RetryAfter: 5 * time.Second})
	id := uuid.New()
	const text = "We are moving to a new server tonight."
	if _, err := e.a.CreateBroadcast(e.ctx, BroadcastStart{BroadcastID: id.String(), AdminID: e.users[0], Text: text}); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	page := make(chan error, 1)
	go func() {
		res, err := e.page(BroadcastPageInput{BroadcastID: id.String(), Limit: len(e.users) + 1, Interval: time.Millisecond})
		if err == nil && res.Sent != len(e.users) {
			t.Errorf("broadcast page: %+v", res)
		}
		page <- err
	}()
	e.eventuallySent(text, 10)

	// 15 more activity slots (WORKER_TELEGRAM_SLOTS is 16), each sending
	// notices one after another: 45 users told their subscription ended.
	notified := e.users[len(e.users)-45:]
	beforeStorm := len(e.sendsOf(text))
	stormStart := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, len(notified))
	for slot := range 15 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := slot; i < len(notified); i += 15 {
				n := notice.Expired("1m")
				n.UserID = notified[i]
				errs[i] = e.a.Notify(context.Background(), n)
			}
		}()
	}
	wg.Wait()
	stormTook := time.Since(stormStart)
	afterStorm := len(e.sendsOf(text))
	if err := <-page; err != nil {
		t.Fatalf("broadcast page: %v", err)
	}
	took := time.Since(start)

	for i, err := range errs {
		if err != nil {
			t.Errorf("notice to %d: %v", notified[i], err)
		}
	}
	refused := 0
	notices := map[int64]int{}
	for _, c := range e.tg.Calls("sendMessage") {
		switch {
		case c.Status == 429:
			refused++
		case c.Status == 200 && c.Params["text"] != text:
			chat, _ := strconv.ParseInt(c.Params["chat_id"], 10, 64)
			notices[chat]++
		}
	}
	if refused > 0 {
		t.Errorf("the stand-in refused %d sends with 429", refused)
	}
	for _, u := range notified {
		if notices[u] != 1 {
			t.Errorf("user %d got %d notices, want 1", u, notices[u])
		}
	}
	for u, n := range e.sends(text) {
		if n != 1 {
			t.Errorf("user %d got the broadcast %d times", u, n)
		}
	}
	if afterStorm >= len(e.users) {
		t.Errorf("the notices went out only after the whole broadcast (%d messages)", afterStorm)
	}
	t.Logf("45 notices in %s beside a broadcast that sent %d messages meanwhile (%d of %d when they were done); all %d messages in %s, %.1f/s; %d refused",
		stormTook.Round(time.Millisecond), afterStorm-beforeStorm, afterStorm, len(e.users), len(e.users)+45, took.Round(time.Millisecond),
		float64(len(e.users)+45)/took.Seconds(), refused)
}

// sendsOf lists the users the stand-in accepted text for.
func (e *broadcastEnv) sendsOf(text string) []int64 {
	var out []int64
	for u := range e.sends(text) {
		out = append(out, u)
	}
	return out
}

// eventuallySent waits until at least n users have got text.
func (e *broadcastEnv) eventuallySent(text string, n int) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for len(e.sendsOf(text)) < n {
		if time.Now().After(deadline) {
			e.t.Fatalf("%d users got %q after 30 s, want %d", len(e.sendsOf(text)), text, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
