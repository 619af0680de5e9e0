package telegram

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	faketg "vpnflow/internal/dev/fake/telegram"
	"vpnflow/internal/dev/testenv"
)

// startedUsers adds n users to the stand-in, each of whom has started the
// bot (Telegram lets a bot write only to those).
func startedUsers(t *testing.T, tg *faketg.Server, n int) []int64 {
	t.Helper()
	out := make([]int64, n)
	for i := range out {
		u, err := tg.AddUser(faketg.User{FirstName: "user" + strconv.Itoa(i), LanguageCode: "en"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tg.SendText(u.ID, "/start"); err != nil {
			t.Fatal(err)
		}
		out[i] = u.ID
	}
	return out
}

func pacedClient(t *testing.T, tg *faketg.Server, perSecond int) (*Client, *Pace) {
	t.Helper()
	p := NewPace(perSecond, prometheus.NewRegistry())
	c, err := New(tg.Token(), tg.URL(), nil, p)
	if err != nil {
		t.Fatal(err)
	}
	return c, p
}

// TestPaceKeepsAStormUnderFloodControl: 150 notices sent at once, as an
// expiry storm's activities do, through a client paced at the default
// TELEGRAM_SEND_RATE, against a stand-in refusing more than 30 sends a
// second like Telegram: none is refused, each user gets theirs once.
func TestPaceKeepsAStormUnderFloodControl(t *testing.T) {
	storm(t, 28, 150)
}

// TestPaceWindowHoldsWhatTheRateLetsThrough: with a rate far above
// Telegram's, the pace's window alone keeps the stand-in from seeing more
// than 30 sends in a second, whatever each request's delay on the way.
func TestPaceWindowHoldsWhatTheRateLetsThrough(t *testing.T) {
	storm(t, 1000, 150)
}

// storm sends one message to each of n users at once through a client
// paced at perSecond, against a stand-in with Telegram's flood control,
// and checks that none was refused and each user got theirs once.
func storm(t *testing.T, perSecond, n int) {
	tg := testenv.Telegram(t)
	chats := startedUsers(t, tg, n)
	c, pace := pacedClient(t, tg, perSecond)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// A worker's client has sent before: one message opens its connection
	// and warms its code, before flood control counts. Its window slot
	// is free a second after.
	if _, err := c.Send(ctx, Message{ChatID: chats[0], Text: "welcome", Plain: true}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	tg.SetRateLimit(faketg.RateLimit{PerSecond: 30, RetryAfter: 5 * time.Second})

	const text = "Your subscription has expired."
	errs := make([]error, len(chats))
	var wg sync.WaitGroup
	release := make(chan struct{})
	for i, chat := range chats {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-release
			_, errs[i] = c.Send(ctx, Message{ChatID: chat, Text: text, Plain: true})
		}()
	}
	start := time.Now()
	close(release) // all at once, as an expiry storm's activities start
	wg.Wait()
	elapsed := time.Since(start)

	failed := 0
	for i, err := range errs {
		if err != nil {
			failed++
			if failed <= 5 {
				t.Errorf("send to %d: %v (%v)", chats[i], Classify(err).Kind, err)
			}
		}
	}
	refused := 0
	for _, call := range tg.Calls("sendMessage") {
		if call.Status == 429 {
			refused++
		}
	}
	if failed > 0 || refused > 0 {
		t.Errorf("%d of %d sends failed; the stand-in refused %d with 429", failed, n, refused)
	}
	for _, chat := range chats {
		got := 0
		for _, m := range tg.Messages(chat) {
			if m.Text == text {
				got++
			}
		}
		if got != 1 && failed == 0 {
			t.Errorf("user %d got the notice %d times", chat, got)
		}
	}
	var m dto.Metric
	if err := pace.waited.Write(&m); err != nil {
		t.Fatal(err)
	}
	if got := m.GetHistogram().GetSampleCount(); got != uint64(n+1) {
		t.Errorf("send waits observed: %d, want %d", got, n+1)
	}
	t.Logf("pace %d/s: %d messages in %s, %.1f/s; %.1f s waited for turns in all; %d refused by the stand-in",
		perSecond, n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), m.GetHistogram().GetSampleSum(), refused)
}

// TestPaceRefusesASlotPastTheDeadline: a send whose turn comes after its
// context's deadline fails at once with a retryable error and is not made
// late.
func TestPaceRefusesASlotPastTheDeadline(t *testing.T) {
	tg, user := standIn(t)
	c, pace := pacedClient(t, tg, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Send(ctx, Message{ChatID: user, Text: "first"}); err != nil {
		t.Fatal(err)
	}

	// The next slot is a second away; this send may wait half of that.
	short, cancelShort := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancelShort()
	_, err := c.Send(short, Message{ChatID: user, Text: "late"})
	if !errors.Is(err, ErrNoSendSlot) {
		t.Fatalf("send past the deadline: %v, want ErrNoSendSlot", err)
	}
	if short.Err() != nil {
		t.Errorf("the refusal came at the deadline (%v), not at once", short.Err())
	}
	if f := Classify(err); f.Permanent() {
		t.Errorf("a refused slot is %v, which an activity would not retry", f.Kind)
	}
	if got := testutil.ToFloat64(pace.refused); got != 1 {
		t.Errorf("refusals counted: %v, want 1", got)
	}
	for _, m := range tg.Messages(user) {
		if m.Text == "late" {
			t.Errorf("the refused message was sent: %+v", m)
		}
	}
	// Edits draw from the same budget: the slot the refused send gave back
	// is still a second after the first send.
	if err := c.Edit(short, 1, Message{ChatID: user, Text: "edited"}); !errors.Is(err, ErrNoSendSlot) {
		t.Errorf("edit past the deadline: %v, want ErrNoSendSlot", err)
	}
	if n := len(tg.Calls("sendMessage", "editMessageText")); n != 1 {
		t.Errorf("the stand-in got %d sends and edits, want only the first send", n)
	}
}
