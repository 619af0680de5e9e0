package telegram

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

func sandboxGet(t *testing.T, srv *Server, path string) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Get(srv.URL() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header
}

func sandboxPost(t *testing.T, srv *Server, path string, body any, dst any) int {
	t.Helper()
	data, _ := json.Marshal(body)
	resp, err := http.Post(srv.URL()+path, "application/json", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if dst != nil {
		if err := json.NewDecoder(resp.Body).Decode(dst); err != nil {
			t.Fatalf("decode %s answer: %v", path, err)
		}
	}
	return resp.StatusCode
}

// sseStream reads a text/event-stream.
type sseStream struct {
	sc *bufio.Scanner
}

func openEvents(t *testing.T, srv *Server, chatID int64) *sseStream {
	t.Helper()
	req, _ := http.NewRequestWithContext(waitCtx(t), http.MethodGet, fmt.Sprintf("%s/sandbox/api/chats/%d/events", srv.URL(), chatID), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return &sseStream{sc: bufio.NewScanner(resp.Body)}
}

func (s *sseStream) next(t *testing.T) (string, string) {
	t.Helper()
	var name, data string
	for s.sc.Scan() {
		line := s.sc.Text()
		switch {
		case line == "":
			if name != "" || data != "" {
				return name, data
			}
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		}
	}
	t.Fatalf("event stream ended: %v", s.sc.Err())
	return "", ""
}

// until reads events until one named name satisfies match.
func (s *sseStream) until(t *testing.T, name string, match func(map[string]any) bool) map[string]any {
	t.Helper()
	for {
		n, data := s.next(t)
		if n != name {
			continue
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(data), &v); err != nil {
			t.Fatalf("event %s data %q: %v", n, data, err)
		}
		if match(v) {
			return v
		}
	}
}

func TestSandboxPageAndAPI(t *testing.T) {
	srv := startServer(t, Options{TemporalUIURL: "http://127.0.0.1:8233/"})
	png := pngBytes(t, 64, 64)
	runBot(t, srv,
		bot.WithMessageTextHandler("start", bot.MatchTypeCommand, func(ctx context.Context, b *bot.Bot, u *models.Update) {
			_, _ = b.SendPhoto(ctx, &bot.SendPhotoParams{ChatID: u.Message.Chat.ID, Caption: "Your QR",
				Photo: &models.InputFileUpload{Filename: "qr.png", Data: bytes.NewReader(png)}})
			_, _ = b.SendMessage(ctx, &bot.SendMessageParams{ChatID: u.Message.Chat.ID, Text: "<b>Welcome</b> & <i>hi</i>",
				ParseMode: models.ParseModeHTML, ReplyMarkup: &models.InlineKeyboardMarkup{InlineKeyboard: [][]models.InlineKeyboardButton{
					{{Text: "Buy", CallbackData: "buy"}, {Text: "Help", URL: "https://example.com/help"}},
				}}})
		}),
		bot.WithCallbackQueryDataHandler("buy", bot.MatchTypeExact, func(ctx context.Context, b *bot.Bot, u *models.Update) {
			_, _ = b.AnswerCallbackQuery(ctx, &bot.AnswerCallbackQueryParams{CallbackQueryID: u.CallbackQuery.ID, Text: "Opening the shop"})
		}),
	)

	status, body, _ := sandboxGet(t, srv, "/")
	if status != 200 || !strings.Contains(body, `data-testid="user-picker"`) || !strings.Contains(body, `data-testid="new-user-form"`) {
		t.Fatalf("empty page: %d\n%s", status, body)
	}

	if code := sandboxPost(t, srv, "/sandbox/api/users", map[string]string{"name": ""}, nil); code != 400 {
		t.Errorf("user without a name: %d", code)
	}
	resp, err := http.Post(srv.URL()+"/sandbox/api/users", "application/x-www-form-urlencoded", strings.NewReader("name=x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("form post to the JSON API: %d", resp.StatusCode)
	}
	var u User
	if code := sandboxPost(t, srv, "/sandbox/api/users", map[string]string{"name": "Rita Smith", "language_code": "ru"}, &u); code != 201 {
		t.Fatalf("create user: %d", code)
	}
	if u.ID == 0 || u.FirstName != "Rita" || u.LastName != "Smith" || u.LanguageCode != "ru" || !strings.HasPrefix(u.Username, "rita_") {
		t.Errorf("created user %+v", u)
	}
	chat := fmt.Sprintf("/sandbox/api/chats/%d", u.ID)

	var sent map[string]int
	if code := sandboxPost(t, srv, chat+"/messages", map[string]string{"text": "/start"}, &sent); code != 200 || sent["message_id"] != 1 {
		t.Fatalf("send /start: %d %v", code, sent)
	}
	welcome, err := srv.WaitForMessage(waitCtx(t), u.ID, func(m Message) bool { return m.Text == "Welcome & hi" })
	if err != nil {
		t.Fatal(err)
	}
	photo := srv.Messages(u.ID)[0]

	status, body, _ = sandboxGet(t, srv, fmt.Sprintf("/?user=%d", u.ID))
	for _, want := range []string{
		fmt.Sprintf(`data-testid="message" data-message-id="%d" data-from="bot"`, welcome.ID),
		`<b>Welcome</b> &amp; <i>hi</i>`,
		`data-testid="inline-button" data-kind="callback_data" data-message-id="` + fmt.Sprint(welcome.ID) + `" data-callback-data="buy"`,
		`href="https://example.com/help" target="_blank"`,
		`data-testid="message-photo"`,
		`/sandbox/files/` + photo.PhotoFileID,
		fmt.Sprintf(`href="http://127.0.0.1:8233/namespaces/default/workflows?query=TelegramUserID%%3D%d"`, u.ID),
		`data-testid="expire-button"`,
		`data-testid="message-input"`,
		`data-testid="send-button"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("chat page lacks %s", want)
		}
	}
	if status != 200 {
		t.Errorf("chat page status %d", status)
	}
	status, img, hdr := sandboxGet(t, srv, "/sandbox/files/"+photo.PhotoFileID)
	if status != 200 || hdr.Get("Content-Type") != "image/png" || img != string(png) {
		t.Errorf("photo file: %d %s, %d bytes", status, hdr.Get("Content-Type"), len(img))
	}
	if status, js, _ := sandboxGet(t, srv, "/sandbox/static/app.js"); status != 200 || !strings.Contains(js, `"/sandbox_expire 2m"`) || !strings.Contains(js, "EventSource") {
		t.Errorf("app.js: %d", status)
	}

	var msgs []messageJSON
	status, body, _ = sandboxGet(t, srv, chat+"/messages")
	if err := json.Unmarshal([]byte(body), &msgs); err != nil || status != 200 {
		t.Fatalf("messages JSON: %d %v", status, err)
	}
	if len(msgs) != 3 || msgs[0].FromBot || !msgs[2].FromBot || msgs[2].Keyboard[0][0].CallbackData != "buy" || msgs[1].PhotoURL == "" || msgs[2].HTML == "" {
		t.Errorf("messages JSON %+v", msgs)
	}

	var pressed map[string]string
	if code := sandboxPost(t, srv, chat+"/callbacks", map[string]any{"message_id": welcome.ID, "data": "buy"}, &pressed); code != 200 {
		t.Fatalf("press: %d", code)
	}
	if ans, err := srv.WaitForCallbackAnswer(waitCtx(t), pressed["callback_query_id"]); err != nil || ans.Text != "Opening the shop" {
		t.Errorf("answer %+v, %v", ans, err)
	}
	if code := sandboxPost(t, srv, chat+"/callbacks", map[string]any{"message_id": welcome.ID, "data": "nope"}, nil); code != 422 {
		t.Errorf("press of a missing button: %d", code)
	}
	if code := sandboxPost(t, srv, "/sandbox/api/chats/1/messages", map[string]string{"text": "x"}, nil); code != 404 {
		t.Errorf("send as an unknown user: %d", code)
	}
	if code := sandboxPost(t, srv, chat+"/block", map[string]bool{"blocked": true}, nil); code != 200 {
		t.Errorf("block: %d", code)
	}
	if code := sandboxPost(t, srv, chat+"/messages", map[string]string{"text": "hi"}, nil); code != 409 {
		t.Errorf("send while blocked: %d", code)
	}
}

func TestSandboxEventsAndPayment(t *testing.T) {
	srv := startServer(t, Options{})
	payingBot(t, srv, func(*models.PreCheckoutQuery) string { return "" })
	u := addStartedUser(t, srv, "Sam")
	b := newBot(t, srv)
	ctx := waitCtx(t)
	events := openEvents(t, srv, u.ID)
	// The backlog replays the chat: the user's /start, then the block state.
	first := events.until(t, "upsert", func(map[string]any) bool { return true })
	if first["id"] != float64(1) || first["from_bot"] != false || !strings.Contains(first["html"].(string), `data-command="/start"`) {
		t.Errorf("backlog %v", first)
	}
	events.until(t, "state", func(v map[string]any) bool { return v["blocked"] == false })

	m, err := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: u.ID, Text: "Choose", ReplyMarkup: models.ReplyKeyboardMarkup{
		Keyboard: [][]models.KeyboardButton{{{Text: "My keys"}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	up := events.until(t, "upsert", func(v map[string]any) bool { return v["id"] == float64(m.ID) })
	if !strings.Contains(up["html"].(string), "Choose") || fmt.Sprint(up["reply_keyboard"]) != "[[My keys]]" {
		t.Errorf("upsert for a new message: %v", up)
	}
	if _, err := b.EditMessageText(ctx, &bot.EditMessageTextParams{ChatID: u.ID, MessageID: m.ID, Text: "Chosen"}); err != nil {
		t.Fatal(err)
	}
	up = events.until(t, "upsert", func(v map[string]any) bool { return v["id"] == float64(m.ID) })
	if up["edited"] != true || !strings.Contains(up["html"].(string), "Chosen") || !strings.Contains(up["html"].(string), `data-testid="edited"`) {
		t.Errorf("upsert for an edit: %v", up)
	}
	if _, err := b.SendChatAction(ctx, &bot.SendChatActionParams{ChatID: u.ID, Action: models.ChatActionTyping}); err != nil {
		t.Fatal(err)
	}
	events.until(t, "action", func(v map[string]any) bool { return v["action"] == "typing" })
	if _, err := b.DeleteMessage(ctx, &bot.DeleteMessageParams{ChatID: u.ID, MessageID: m.ID}); err != nil {
		t.Fatal(err)
	}
	events.until(t, "upsert", func(v map[string]any) bool { return v["id"] == float64(m.ID) && v["deleted"] == true })

	inv := sendStarsInvoice(t, b, u.ID, "purchase:1", 75)
	up = events.until(t, "upsert", func(v map[string]any) bool { return v["id"] == float64(inv.ID) })
	if !strings.Contains(up["html"].(string), `data-testid="pay-button"`) || !strings.Contains(up["html"].(string), "Pay ⭐️ 75") {
		t.Errorf("invoice bubble: %v", up["html"])
	}
	var paid map[string]string
	if code := sandboxPost(t, srv, fmt.Sprintf("/sandbox/api/chats/%d/payments", u.ID), map[string]int{"message_id": inv.ID}, &paid); code != 200 || paid["telegram_payment_charge_id"] == "" {
		t.Fatalf("pay: %d %v", code, paid)
	}
	up = events.until(t, "upsert", func(v map[string]any) bool { return v["id"] == float64(inv.ID) })
	if !strings.Contains(up["html"].(string), `data-testid="invoice-paid"`) {
		t.Errorf("paid invoice bubble: %v", up["html"])
	}
	events.until(t, "upsert", func(v map[string]any) bool {
		return strings.Contains(v["html"].(string), `data-testid="service-message"`)
	})
	var failed map[string]string
	if code := sandboxPost(t, srv, fmt.Sprintf("/sandbox/api/chats/%d/payments", u.ID), map[string]int{"message_id": inv.ID}, &failed); code != 422 || !strings.Contains(failed["error"], "already paid") {
		t.Errorf("paying twice: %d %v", code, failed)
	}
}
