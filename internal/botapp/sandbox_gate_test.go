package botapp

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"vpnflow/internal/config"
	faketg "vpnflow/internal/dev/fake/telegram"
	"vpnflow/internal/dev/testenv"
	"vpnflow/internal/i18n"
	"vpnflow/internal/store"
	"vpnflow/internal/telegram"
)

// realBotAPI answers like Telegram's Bot API (or a local telegram-bot-api
// server) for a bot: getMe and sendMessage work, any other method is 404.
type realBotAPI struct {
	token string
	mu    sync.Mutex
	sent  []string
	calls []string
}

func (r *realBotAPI) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	token, method, _ := strings.Cut(strings.TrimPrefix(req.URL.Path, "/bot"), "/")
	r.mu.Lock()
	r.calls = append(r.calls, method)
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if token != r.token {
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"ok":false,"error_code":401,"description":"Unauthorized"}`))
		return
	}
	switch strings.ToLower(method) {
	case "getme":
		w.Write([]byte(`{"ok":true,"result":{"id":7123456789,"is_bot":true,"first_name":"Shop","username":"shop_bot","can_join_groups":true}}`))
	case "sendmessage":
		req.ParseMultipartForm(1 << 20)
		r.mu.Lock()
		r.sent = append(r.sent, req.FormValue("text"))
		r.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{"ok": true, "result": map[string]any{
			"message_id": 1, "date": 1, "chat": map[string]any{"id": 42, "type": "private"}, "text": req.FormValue("text")}})
	default:
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"ok":false,"error_code":404,"description":"Not Found"}`))
	}
}

// sandboxApp is a bot configured with VPNFLOW_SANDBOX=true against apiURL
// (loopback, so the configuration check alone would let it through).
func sandboxApp(t *testing.T, apiURL, token string) *App {
	t.Helper()
	texts, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	tg, err := telegram.NewBot(telegram.BotOptions{Token: token, APIURL: apiURL})
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Config{Sandbox: true, TelegramAPIURL: apiURL, TelegramBotToken: token}
	return &App{
		cfg: cfg, render: telegram.NewRenderer(texts, cfg),
		log: slog.New(slog.DiscardHandler), texts: texts, tg: tg,
	}
}

// TestSandboxRefusedAgainstARealBotAPIServer: VPNFLOW_SANDBOX=true with a
// local Bot API server that speaks for a real bot must not give anyone
// /sandbox_expire: the bot asks for the stand-in's marker at start, gets
// Telegram's 404, and the command is unknown. No workflow is started
// (the app has no Temporal client: starting one would panic).
func TestSandboxRefusedAgainstARealBotAPIServer(t *testing.T) {
	for name, token := range map[string]string{
		"stand-in-like token": faketg.DefaultToken,
		"real token":          "7123456789:AAH4k2lQvWzX9yT3bN8mP5rS1uV6wE0qJ7c",
	} {
		t.Run(name, func(t *testing.T) {
			real := &realBotAPI{token: token}
			srv := httptest.NewServer(real)
			defer srv.Close()
			a := sandboxApp(t, srv.URL, token)
			a.decideSandbox(context.Background())
			a.sandboxExpire(context.Background(), store.User{TelegramID: 42, Language: "en"}, "2m")
			real.mu.Lock()
			defer real.mu.Unlock()
			want := a.texts.T("en", "unknown_command", nil)
			if len(real.sent) != 1 || real.sent[0] != want {
				t.Errorf("the user was told %q, want the unknown-command reply %q", real.sent, want)
			}
		})
	}
}

// TestSandboxEnabledAgainstTheStandIn: our stand-in answers the marker, so
// the sandbox commands are on.
func TestSandboxEnabledAgainstTheStandIn(t *testing.T) {
	fake := testenv.Telegram(t)
	a := sandboxApp(t, fake.URL(), fake.Token())
	a.decideSandbox(context.Background())
	if !a.sandbox {
		t.Fatal("the sandbox is refused against the stand-in")
	}

	// Configured off, it stays off whatever the server.
	a = sandboxApp(t, fake.URL(), fake.Token())
	a.cfg.Sandbox = false
	a.decideSandbox(context.Background())
	if a.sandbox {
		t.Fatal("the sandbox is on although VPNFLOW_SANDBOX is false")
	}
}
