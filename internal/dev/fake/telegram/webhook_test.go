package telegram

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

// delivery is one POST the webhook receiver saw.
type delivery struct {
	secret      string
	contentType string
	body        []byte
}

// receiver is a webhook endpoint answering with the statuses given, then 200.
func receiver(t *testing.T, statuses ...int) (*httptest.Server, chan delivery) {
	t.Helper()
	got := make(chan delivery, 32)
	var mu sync.Mutex
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- delivery{r.Header.Get("X-Telegram-Bot-Api-Secret-Token"), r.Header.Get("Content-Type"), body}
		mu.Lock()
		status := http.StatusOK
		if len(statuses) > 0 {
			status, statuses = statuses[0], statuses[1:]
		}
		mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(ts.Close)
	return ts, got
}

func nextDelivery(t *testing.T, ch chan delivery) delivery {
	t.Helper()
	select {
	case d := <-ch:
		return d
	case <-time.After(waitBound):
		t.Fatal("no webhook delivery")
		return delivery{}
	}
}

func TestWebhookDeliveryRetriesAndConflicts(t *testing.T) {
	srv := startServer(t, Options{WebhookBackoff: 10 * time.Millisecond})
	ts, got := receiver(t, http.StatusInternalServerError)
	u, _ := srv.AddUser(User{FirstName: "Ola"})
	if _, err := srv.SendText(u.ID, "before the webhook"); err != nil {
		t.Fatal(err)
	}

	if status, r := postForm(t, srv, "setWebhook", url.Values{"url": {ts.URL}, "secret_token": {"bad secret!"}}); status != 400 {
		t.Errorf("bad secret token: %d %q", status, r.Description)
	}
	_, r := postForm(t, srv, "setWebhook", url.Values{"url": {ts.URL}, "secret_token": {"s3cr3t_-T"}, "drop_pending_updates": {"true"}})
	if !r.OK || r.Description != "Webhook was set" || string(r.Result) != "true" {
		t.Fatalf("setWebhook = %+v", r)
	}
	if _, err := srv.SendText(u.ID, "via webhook"); err != nil {
		t.Fatal(err)
	}
	first, second := nextDelivery(t, got), nextDelivery(t, got)
	if first.secret != "s3cr3t_-T" || first.contentType != "application/json" {
		t.Errorf("delivery headers: secret %q content type %q", first.secret, first.contentType)
	}
	if string(first.body) != string(second.body) {
		t.Errorf("retry differs from the first attempt:\n%s\n%s", first.body, second.body)
	}
	var upd struct {
		Message struct {
			Text string `json:"text"`
		} `json:"message"`
	}
	if err := json.Unmarshal(second.body, &upd); err != nil || upd.Message.Text != "via webhook" {
		t.Errorf("delivered %s (dropped updates must not arrive)", second.body)
	}
	waitFor(t, func() bool { return srv.PendingUpdates() == 0 })

	_, r = postForm(t, srv, "getWebhookInfo", nil)
	var info wireWebhookInfo
	decodeResult(t, r, &info)
	if info.URL != ts.URL || info.PendingUpdateCount != 0 || info.LastErrorMessage != "Wrong response from the webhook: 500 Internal Server Error" || info.LastErrorDate == 0 {
		t.Errorf("getWebhookInfo = %+v", info)
	}

	status, r := postForm(t, srv, "getUpdates", nil)
	if status != 409 || r.Description != "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first" {
		t.Errorf("getUpdates with a webhook: %d %q", status, r.Description)
	}
	_, r = postForm(t, srv, "deleteWebhook", nil)
	if !r.OK || r.Description != "Webhook was deleted" {
		t.Errorf("deleteWebhook = %+v", r)
	}
	if status, r := postForm(t, srv, "getUpdates", nil); status != 200 {
		t.Errorf("getUpdates after deleteWebhook: %d %q", status, r.Description)
	}
}

func TestWebhookGivesUpAfterMaxAttempts(t *testing.T) {
	srv := startServer(t, Options{WebhookBackoff: time.Millisecond, WebhookMaxAttempts: 3})
	ts, got := receiver(t, 502, 502, 502, 502, 502)
	u, _ := srv.AddUser(User{FirstName: "Pia"})
	if _, r := postForm(t, srv, "setWebhook", url.Values{"url": {ts.URL}}); !r.OK {
		t.Fatal(r.Description)
	}
	if _, err := srv.SendText(u.ID, "lost"); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		nextDelivery(t, got)
	}
	waitFor(t, func() bool { return srv.PendingUpdates() == 0 })
	if _, err := srv.SendText(u.ID, "next"); err != nil {
		t.Fatal(err)
	}
	d := nextDelivery(t, got)
	if d.secret != "" {
		t.Errorf("secret header %q sent without a secret_token", d.secret)
	}
	var upd struct {
		Message struct {
			Text string `json:"text"`
		} `json:"message"`
	}
	if err := json.Unmarshal(d.body, &upd); err != nil || upd.Message.Text != "next" {
		t.Errorf("after giving up the next delivery is %s, want the next update", d.body)
	}
}

func TestWebhookWithGoTelegramBot(t *testing.T) {
	srv := startServer(t, Options{})
	replies := make(chan string, 1)
	b := newBot(t, srv,
		bot.WithWebhookSecretToken("hook_secret"),
		bot.WithMessageTextHandler("start", bot.MatchTypeCommand, func(ctx context.Context, b *bot.Bot, u *models.Update) {
			_, err := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: u.Message.Chat.ID, Text: "hello via webhook"})
			if err != nil {
				replies <- err.Error()
			}
		}),
	)
	ts := httptest.NewServer(b.WebhookHandler())
	t.Cleanup(ts.Close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		b.StartWebhook(ctx)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})

	if ok, err := b.SetWebhook(waitCtx(t), &bot.SetWebhookParams{URL: ts.URL, SecretToken: "hook_secret"}); err != nil || !ok {
		t.Fatalf("SetWebhook = %v, %v", ok, err)
	}
	info, err := b.GetWebhookInfo(waitCtx(t))
	if err != nil || info.URL != ts.URL {
		t.Fatalf("GetWebhookInfo = %+v, %v", info, err)
	}
	u, _ := srv.AddUser(User{FirstName: "Quinn"})
	if _, err := srv.SendText(u.ID, "/start"); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.WaitForMessage(waitCtx(t), u.ID, func(m Message) bool { return m.Text == "hello via webhook" }); err != nil {
		select {
		case e := <-replies:
			t.Fatalf("handler failed: %s", e)
		default:
			t.Fatal(err)
		}
	}
}
