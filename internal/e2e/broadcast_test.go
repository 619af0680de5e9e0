package e2e

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	faketg "vpnflow/internal/dev/fake/telegram"
)

// broadcastSends are the broadcast's sendMessage calls (any outcome) per
// recipient and their times, as the Telegram stand-in recorded them.
func (s *shopEnv) broadcastSends(text string) (ok map[int64]int, times []time.Time) {
	ok = map[int64]int{}
	for _, c := range s.tg.Calls("sendMessage") {
		if c.Params["text"] != text {
			continue
		}
		times = append(times, c.Time)
		if c.Status == 200 {
			id, _ := strconv.ParseInt(c.Params["chat_id"], 10, 64)
			ok[id]++
		}
	}
	return ok, times
}

// maxPerSecond is the most calls in any one-second window.
func maxPerSecond(times []time.Time) int {
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	most := 0
	for i, j := 0, 0; j < len(times); j++ {
		for times[j].Sub(times[i]) >= time.Second {
			i++
		}
		most = max(most, j-i+1)
	}
	return most
}

func TestBroadcastPacedAndOnceAcrossAWorkerCrash(t *testing.T) {
	s := startShop(t, nil)
	worker := s.startWorkerProcess()
	s.startBot()
	ctx := context.Background()

	admin := s.register("Admin")
	const users, blocked = 200, 10
	var ids []int64
	for i := range users {
		id := s.newUser(fmt.Sprintf("Reader%03d", i))
		s.say(id, "/start")
		ids = append(ids, id)
	}
	s.eventually("every reader registered", func() error {
		var n int
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
			return err
		}
		if n != users+1 {
			return fmt.Errorf("%d users", n)
		}
		return nil
	})
	// Some readers blocked the bot without the shop knowing yet.
	for _, id := range ids[:blocked] {
		if err := s.tg.BlockBot(id, true); err != nil {
			t.Fatal(err)
		}
	}
	// Telegram's own flood control, as on the real service.
	s.tg.SetRateLimit(faketg.RateLimit{PerSecond: 30, RetryAfter: 2 * time.Second})

	const text = "Scheduled maintenance on Sunday, 02:00–03:00 UTC. <Your key keeps working.>"
	started := s.adminSays(admin, "/broadcast "+text, "Broadcast started: 201 recipients")

	// Mid-way, Telegram goes down and the worker dies. Every send fails
	// during the outage, so once one has failed, each earlier delivery is
	// recorded: the crash cannot fall between a send and its record.
	s.eventually("a third of the readers reached", func() error {
		if ok, _ := s.broadcastSends(text); len(ok) < users/3 {
			return fmt.Errorf("%d reached", len(ok))
		}
		return nil
	})
	outage := time.Now()
	s.tg.SetOutage(faketg.OutageError)
	// (A refused call is recorded without its parameters; nothing but the
	// broadcast sends messages now.)
	s.eventually("a broadcast send failing in the outage", func() error {
		for _, c := range s.tg.Calls("sendMessage") {
			if c.Status == 502 && !c.Time.Before(outage) {
				return nil
			}
		}
		return fmt.Errorf("none yet")
	})
	if err := worker.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = worker.Wait()
	reachedAtCrash, _ := s.broadcastSends(text)
	s.tg.SetOutage(faketg.OutageNone)
	s.startWorkerProcess()

	done := s.waitText(admin, started.ID, "Broadcast finished")
	ok, times := s.broadcastSends(text)
	if len(reachedAtCrash) == 0 || len(reachedAtCrash) >= users {
		t.Fatalf("the crash came after %d of %d readers, not in the middle", len(reachedAtCrash), users)
	}
	for i, id := range append([]int64{admin}, ids...) {
		want := 1
		if i >= 1 && i <= blocked {
			want = 0
		}
		if ok[id] != want {
			t.Errorf("user %d got the broadcast %d times, want %d", id, ok[id], want)
		}
	}
	most := maxPerSecond(times)
	t.Logf("%d readers reached before the crash; at most %d sends in any second", len(reachedAtCrash), most)
	if most > 25 {
		t.Errorf("%d broadcast sends in one second, over 25", most)
	}
	for _, id := range ids[:blocked] {
		u, err := s.store.GetUser(ctx, id)
		if err != nil || !u.BotBlocked {
			t.Errorf("blocked reader %d not marked: %+v %v", id, u, err)
		}
	}
	var sent, skipped int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'sent'), count(*) FILTER (WHERE status = 'skipped')
		FROM broadcast_deliveries`).Scan(&sent, &skipped); err != nil {
		t.Fatal(err)
	}
	if sent != users+1-blocked || skipped != blocked {
		t.Fatalf("deliveries: %d sent, %d skipped; want %d and %d", sent, skipped, users+1-blocked, blocked)
	}
	if want := fmt.Sprintf("%d of %d delivered", users+1-blocked, users+1); !strings.Contains(done.Text, want) {
		t.Errorf("final report %q lacks %q", done.Text, want)
	}
}
