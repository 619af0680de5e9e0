package botapp

// Shared setup for the fast handler tests: the real handlers, long-polling
// the Telegram stand-in, with a real PostgreSQL of their own and, instead of
// Temporal, fakeTemporal (fast_temporal_test.go), which records what the bot
// asks of Temporal and answers with canned results.

import (
	"context"
	"github.com/prometheus/client_golang/prometheus"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"vpnflow/internal/callback"
	"vpnflow/internal/config"
	faketg "vpnflow/internal/dev/fake/telegram"
	"vpnflow/internal/dev/testenv"
	"vpnflow/internal/i18n"
	"vpnflow/internal/store"
	"vpnflow/internal/telegram"
)

// fastWait bounds each wait for the bot; the bot answers in milliseconds,
// the bound only keeps a broken build from hanging.
const fastWait = 10 * time.Second

// fastBot is the bot under test and handles to look inside it.
type fastBot struct {
	t        *testing.T
	app      *App
	tg       *faketg.Server
	temporal *fakeTemporal
	store    *store.Store
	texts    *i18n.Catalog
}

// fastConfig is a bot configuration a test may adjust before newFastBot.
func fastConfig(t *testing.T) config.Config {
	t.Helper()
	cfg, err := config.LoadFrom(map[string]string{
		"DATABASE_URL":             "postgres://unused",
		"XRAY_INBOUND_TAG":         "vless-in",
		"VLESS_HOST":               "vpn.example.com",
		"VLESS_REALITY_PUBLIC_KEY": "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA",
		"VLESS_REALITY_SNI":        "www.example.com",
		"TELEGRAM_BOT_TOKEN":       faketg.DefaultToken,
		"CRYPTOPAY_TOKEN":          "cp-token",
		"PLANS":                    "1m:30d:3.00:150,3m:90d:8.00:0",
		"SUBSCRIPTION_BASE_URL":    "https://sub.example.com",
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// newFastBot starts the bot's handlers against a fresh stand-in and
// database; it stops with the test.
func newFastBot(t *testing.T, cfg config.Config) *fastBot {
	t.Helper()
	srv := testenv.Telegram(t)
	cfg.TelegramAPIURL = srv.URL()
	texts, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	pool := testenv.Database(t)
	ft := &fakeTemporal{}
	a := &App{
		cfg: cfg, log: slog.New(slog.DiscardHandler), pool: pool, store: store.New(pool), temporal: ft, texts: texts,
		limiter: newLimiter(1000, 1000), username: srv.Bot().Username, render: telegram.NewRenderer(texts, cfg),
		answers: newAnswerMetrics(prometheus.NewRegistry()),
	}
	// The bot's own transport, closed when the test ends: the stand-in's
	// Close waits for open connections, and a parked long poll would hold
	// it for seconds.
	transport := &http.Transport{}
	a.tg, err = telegram.NewBot(telegram.BotOptions{
		Token: srv.Token(), APIURL: srv.URL(), Handle: a.handle, Errors: func(error) {},
		HTTPClient: &http.Client{Transport: transport, Timeout: fastWait}, PollTimeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		a.tg.Poll(ctx)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		transport.CloseIdleConnections()
	})
	return &fastBot{t: t, app: a, tg: srv, temporal: ft, store: a.store, texts: texts}
}

// newUser adds a Telegram user to the stand-in (not yet known to the bot).
func (f *fastBot) newUser(first, lang string) int64 {
	f.t.Helper()
	u, err := f.tg.AddUser(faketg.User{FirstName: first, LanguageCode: lang})
	if err != nil {
		f.t.Fatal(err)
	}
	return u.ID
}

func (f *fastBot) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), fastWait)
	f.t.Cleanup(cancel)
	return ctx
}

// send sends text from the user and waits for a bot message after it
// reading exactly want (as the bot sent it, before markup is parsed).
func (f *fastBot) send(userID int64, text, want string) faketg.Message {
	f.t.Helper()
	sent, err := f.tg.SendText(userID, text)
	if err != nil {
		f.t.Fatal(err)
	}
	return f.waitFor(userID, strconv.Quote(want), func(m faketg.Message) bool { return m.ID > sent.ID && m.Raw == want })
}

// waitText waits for a bot message in the chat reading exactly want (as
// the bot sent it, before markup is parsed).
func (f *fastBot) waitText(userID int64, want string) faketg.Message {
	f.t.Helper()
	m, err := f.tg.WaitForMessage(f.ctx(), userID, func(m faketg.Message) bool {
		return m.FromBot && m.Raw == want
	})
	if err != nil {
		f.t.Fatalf("waiting for %q in chat %d: %v\nconversation:\n%s", want, userID, err, f.dump(userID))
	}
	return m
}

// waitEdit waits for the bot's message msgID to read exactly want.
func (f *fastBot) waitEdit(userID int64, msgID int, want string) faketg.Message {
	f.t.Helper()
	return f.waitFor(userID, strconv.Quote(want), func(m faketg.Message) bool { return m.ID == msgID && m.Raw == want })
}

// waitFor waits for a bot message in the chat that satisfies match.
func (f *fastBot) waitFor(userID int64, what string, match func(faketg.Message) bool) faketg.Message {
	f.t.Helper()
	m, err := f.tg.WaitForMessage(f.ctx(), userID, func(m faketg.Message) bool { return m.FromBot && match(m) })
	if err != nil {
		f.t.Fatalf("waiting for %s in chat %d: %v\nconversation:\n%s", what, userID, err, f.dump(userID))
	}
	return m
}

// press presses the button with this callback data under the message and
// returns the bot's answer to the press.
func (f *fastBot) press(userID int64, msg faketg.Message, d callback.Data) faketg.CallbackAnswer {
	f.t.Helper()
	return f.pressRaw(userID, msg, callback.MustEncode(d))
}

func (f *fastBot) pressRaw(userID int64, msg faketg.Message, data string) faketg.CallbackAnswer {
	f.t.Helper()
	id, err := f.tg.PressButton(userID, msg.ID, data)
	if err != nil {
		f.t.Fatalf("press %q: %v\nconversation:\n%s", data, err, f.dump(userID))
	}
	ans, err := f.tg.WaitForCallbackAnswer(f.ctx(), id)
	if err != nil {
		f.t.Fatalf("press %q: no answer: %v", data, err)
	}
	return ans
}

// T is the catalogue text the bot would send.
func (f *fastBot) T(lang, id string, data map[string]any) string { return f.texts.T(lang, id, data) }

// start registers the user by /start and returns the menu message, once
// the user's row is written.
func (f *fastBot) start(userID int64, first, lang string) faketg.Message {
	f.t.Helper()
	menu := f.send(userID, "/start", f.T(lang, "menu_text", map[string]any{"Name": first}))
	f.registered(userID)
	return menu
}

// registered waits for the user's row: a newcomer's menu goes out while it
// is being written (registration.go).
func (f *fastBot) registered(userID int64) store.User {
	f.t.Helper()
	deadline := time.Now().Add(fastWait)
	for {
		u, err := f.store.GetUser(f.ctx(), userID)
		if err == nil {
			return u
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("user %d not registered: %v\nconversation:\n%s", userID, err, f.dump(userID))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (f *fastBot) dump(userID int64) string {
	var b strings.Builder
	for _, m := range f.tg.Messages(userID) {
		who := "user"
		if m.FromBot {
			who = "bot"
		}
		text := m.Raw
		if text == "" {
			text = m.Caption
		}
		b.WriteString("  " + who + ": " + truncate(text, 120) + "\n")
	}
	return b.String()
}

// hasButton reports whether the message carries a button with this data.
func hasButton(m faketg.Message, d callback.Data) bool {
	want := callback.MustEncode(d)
	for _, row := range m.Keyboard {
		for _, b := range row {
			if b.CallbackData == want {
				return true
			}
		}
	}
	return false
}

// update feeds the handler an update directly, for what the stand-in will
// not send (it refuses oversize text, as Telegram does).
func (f *fastBot) update(u telegram.Update) {
	f.app.handle(f.ctx(), u)
}
