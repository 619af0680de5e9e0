package telegram

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	faketg "vpnflow/internal/dev/fake/telegram"
	"vpnflow/internal/dev/testenv"
)

// standIn is the Telegram stand-in with one user who has started the bot.
func standIn(t *testing.T) (*faketg.Server, int64) {
	t.Helper()
	tg := testenv.Telegram(t)
	u, err := tg.AddUser(faketg.User{FirstName: "Ann", LanguageCode: "en"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tg.SendText(u.ID, "/start"); err != nil {
		t.Fatal(err)
	}
	return tg, u.ID
}

func client(t *testing.T, token, url string) *Client {
	t.Helper()
	c, err := New(token, url, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestClassifyStandInErrors drives each refusal the classification knows
// out of the stand-in and checks its kind, through extra wrapping.
func TestClassifyStandInErrors(t *testing.T) {
	tg, user := standIn(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := client(t, tg.Token(), tg.URL())
	hello := Message{ChatID: user, Text: "hello"}

	id, err := c.Send(ctx, hello)
	if got := Classify(err); got.Kind != OK {
		t.Fatalf("send: %v (%v)", got.Kind, err)
	}
	cases := []struct {
		name string
		call func() error
		want Kind
	}{
		{"identical edit", func() error { return c.Edit(ctx, id, hello) }, NotModified},
		{"empty text", func() error { _, err := c.Send(ctx, Message{ChatID: user}); return err }, BadRequest},
		{"wrong token", func() error { _, err := client(t, "1:wrong", tg.URL()).Send(ctx, hello); return err }, Unauthorized},
		{"unknown method", func() error { _, err := client(t, tg.Token()+"/x", tg.URL()).Send(ctx, hello); return err }, NotFound},
		{"blocked", func() error {
			if err := tg.BlockBot(user, true); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tg.BlockBot(user, false) }()
			_, err := c.Send(ctx, hello)
			return err
		}, Blocked},
		{"outage", func() error {
			tg.SetOutage(faketg.OutageError)
			defer tg.SetOutage(faketg.OutageNone)
			_, err := c.Send(ctx, hello)
			return err
		}, Transient},
	}
	for _, tc := range cases {
		err := tc.call()
		got := Classify(fmt.Errorf("context: %w", err))
		if got.Kind != tc.want {
			t.Errorf("%s: Classify(%v) = %v, want %v", tc.name, err, got.Kind, tc.want)
		}
		if got.Permanent() != (tc.want != Transient) {
			t.Errorf("%s: Permanent() = %v", tc.name, got.Permanent())
		}
	}

	tg.SetRateLimit(faketg.RateLimit{PerSecond: 1, RetryAfter: 3 * time.Second})
	for range 3 {
		_, err = c.Send(ctx, hello)
		if err != nil {
			break
		}
	}
	if got := Classify(err); got.Kind != RateLimited || got.RetryAfter != 3*time.Second || got.Permanent() {
		t.Errorf("flood: Classify(%v) = %+v, want RateLimited after 3s", err, got)
	}
	if got := Classify(errors.New("dial tcp: connection refused")); got.Kind != Transient {
		t.Errorf("network error: %v", got.Kind)
	}
}
