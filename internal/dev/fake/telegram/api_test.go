package telegram

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

func TestAuthAndRouting(t *testing.T) {
	srv := startServer(t, Options{Token: "123456:secret"})
	cases := []struct {
		path   string
		status int
		body   string
	}{
		{"/bot123456:wrong/getMe", 401, `{"ok":false,"error_code":401,"description":"Unauthorized"}`},
		{"/bot123456:secret/noSuchMethod", 404, `{"ok":false,"error_code":404,"description":"Not Found"}`},
		{"/bot123456:secret/", 404, `{"ok":false,"error_code":404,"description":"Not Found"}`},
	}
	for _, c := range cases {
		resp, err := http.Post(srv.URL()+c.path, "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || string(body) != c.body {
			t.Errorf("%s: %d %s, want %d %s", c.path, resp.StatusCode, body, c.status, c.body)
		}
	}
	// Method names are case-insensitive and GET works.
	req, _ := http.NewRequest(http.MethodGet, srv.URL()+"/bot123456:secret/GETME", nil)
	status, r := callRaw(t, req)
	var me map[string]any
	decodeResult(t, r, &me)
	if status != 200 || me["id"] != float64(123456) || me["is_bot"] != true || me["username"] != "vpnflow_sandbox_bot" {
		t.Errorf("GET GETME = %d %v", status, me)
	}
}

func TestParameterEncodings(t *testing.T) {
	srv := startServer(t, Options{})
	u := addStartedUser(t, srv, "Kim")
	markup := `{"inline_keyboard":[[{"text":"A","callback_data":"a"}]]}`
	chat := strconv.FormatInt(u.ID, 10)

	// url-encoded, with the object as JSON text
	_, r := postForm(t, srv, "sendMessage", url.Values{"chat_id": {chat}, "text": {"form"}, "reply_markup": {markup}})
	var m wireMessage
	decodeResult(t, r, &m)
	if m.Text != "form" || m.ReplyMarkup == nil {
		t.Errorf("form body: %+v", m)
	}
	// JSON with a real object and a numeric chat_id
	_, r = postJSON(t, srv, "sendMessage", map[string]any{"chat_id": u.ID, "text": "json", "reply_markup": json.RawMessage(markup)})
	decodeResult(t, r, &m)
	if m.Text != "json" || m.ReplyMarkup == nil {
		t.Errorf("JSON body: %+v", m)
	}
	// query string only
	req, _ := http.NewRequest(http.MethodGet, methodURL(srv, "sendMessage")+"?chat_id="+chat+"&text=query", nil)
	_, r = callRaw(t, req)
	decodeResult(t, r, &m)
	if m.Text != "query" {
		t.Errorf("query string: %+v", m)
	}
	// multipart without files
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("chat_id", chat)
	_ = mw.WriteField("text", "multipart")
	_ = mw.Close()
	req, _ = http.NewRequest(http.MethodPost, methodURL(srv, "sendMessage"), &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	_, r = callRaw(t, req)
	decodeResult(t, r, &m)
	if m.Text != "multipart" {
		t.Errorf("multipart: %+v", m)
	}
	calls := srv.Calls("sendmessage")
	if len(calls) != 4 || calls[0].Params["reply_markup"] != markup || calls[1].Params["chat_id"] != chat {
		t.Errorf("recorded calls %+v", calls)
	}
}

func TestBadRequests(t *testing.T) {
	srv := startServer(t, Options{MaxBodyBytes: 64 << 10})
	u := addStartedUser(t, srv, "Lee")
	chat := strconv.FormatInt(u.ID, 10)
	cases := []struct {
		name   string
		params url.Values
		want   string
	}{
		{"no chat", url.Values{"text": {"x"}}, "Bad Request: chat_id is empty"},
		{"no text", url.Values{"chat_id": {chat}}, "Bad Request: message text is empty"},
		{"blank text", url.Values{"chat_id": {chat}, "text": {" \n "}}, "Bad Request: message text is empty"},
		{"too long", url.Values{"chat_id": {chat}, "text": {strings.Repeat("я", 4097)}}, "Bad Request: message is too long"},
		{"bad markup", url.Values{"chat_id": {chat}, "text": {"x"}, "reply_markup": {"{nope"}}, "Bad Request: can't parse reply keyboard markup JSON object"},
		{"text button", url.Values{"chat_id": {chat}, "text": {"x"}, "reply_markup": {`{"inline_keyboard":[[{"text":"A"}]]}`}}, "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"},
		{"long callback data", url.Values{"chat_id": {chat}, "text": {"x"}, "reply_markup": {`{"inline_keyboard":[[{"text":"A","callback_data":"` + strings.Repeat("d", 65) + `"}]]}`}}, "Bad Request: BUTTON_DATA_INVALID"},
		{"html br", url.Values{"chat_id": {chat}, "text": {"a<br>b"}, "parse_mode": {"HTML"}}, `Bad Request: can't parse entities: Unsupported start tag "br" at byte offset 1`},
		{"markdown dot", url.Values{"chat_id": {chat}, "text": {"Price 1.5"}, "parse_mode": {"MarkdownV2"}}, `Bad Request: can't parse entities: Character '.' is reserved and must be escaped with the preceding '\'`},
		{"parse mode", url.Values{"chat_id": {chat}, "text": {"x"}, "parse_mode": {"BBCode"}}, "Bad Request: unsupported parse_mode"},
	}
	for _, c := range cases {
		status, r := postForm(t, srv, "sendMessage", c.params)
		if status != 400 || r.OK || r.ErrorCode != 400 || r.Description != c.want {
			t.Errorf("%s: %d %q, want 400 %q", c.name, status, r.Description, c.want)
		}
	}
	if status, r := postForm(t, srv, "sendMessage", url.Values{"chat_id": {chat}, "text": {strings.Repeat("я", 4096)}}); status != 200 {
		t.Errorf("4096 characters: %d %s", status, r.Description)
	}

	req, _ := http.NewRequest(http.MethodPost, methodURL(srv, "sendMessage"), strings.NewReader(`{"chat_id":`))
	req.Header.Set("Content-Type", "application/json")
	if status, r := callRaw(t, req); status != 400 || !strings.HasPrefix(r.Description, "Bad Request: ") {
		t.Errorf("malformed JSON: %d %q", status, r.Description)
	}
	req, _ = http.NewRequest(http.MethodPost, methodURL(srv, "sendMessage"), strings.NewReader("--x\r\nbroken"))
	req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
	if status, _ := callRaw(t, req); status != 400 {
		t.Errorf("malformed multipart: %d", status)
	}
	big := url.Values{"chat_id": {chat}, "text": {strings.Repeat("x", 70<<10)}}
	if status, r := postForm(t, srv, "sendMessage", big); status != 413 || r.Description != "Request Entity Too Large" {
		t.Errorf("oversize body: %d %q", status, r.Description)
	}
}

func getUpdates(t *testing.T, srv *Server, params url.Values) []json.RawMessage {
	t.Helper()
	_, r := postForm(t, srv, "getUpdates", params)
	var out []json.RawMessage
	decodeResult(t, r, &out)
	return out
}

func updateID(t *testing.T, raw json.RawMessage) int64 {
	t.Helper()
	var u struct {
		ID int64 `json:"update_id"`
	}
	if err := json.Unmarshal(raw, &u); err != nil {
		t.Fatal(err)
	}
	return u.ID
}

func TestGetUpdatesOffsets(t *testing.T) {
	srv := startServer(t, Options{})
	u, _ := srv.AddUser(User{FirstName: "Max"})
	for _, text := range []string{"one", "two", "three"} {
		if _, err := srv.SendText(u.ID, text); err != nil {
			t.Fatal(err)
		}
	}
	all := getUpdates(t, srv, nil)
	if len(all) != 3 {
		t.Fatalf("got %d updates, want 3", len(all))
	}
	first := updateID(t, all[0])
	if updateID(t, all[1]) != first+1 || updateID(t, all[2]) != first+2 {
		t.Errorf("update ids not consecutive: %s", all)
	}
	// Unconfirmed updates come again; limit caps the batch.
	if got := getUpdates(t, srv, url.Values{"limit": {"2"}}); len(got) != 2 || updateID(t, got[0]) != first {
		t.Errorf("limit 2: %d updates", len(got))
	}
	// Confirming the first drops it for good.
	got := getUpdates(t, srv, url.Values{"offset": {strconv.FormatInt(first+1, 10)}})
	if len(got) != 2 || updateID(t, got[0]) != first+1 {
		t.Errorf("offset first+1: %d updates", len(got))
	}
	if got := getUpdates(t, srv, nil); len(got) != 2 {
		t.Errorf("after confirming: %d updates, want 2", len(got))
	}
	// A negative offset keeps only the newest.
	if got := getUpdates(t, srv, url.Values{"offset": {"-1"}}); len(got) != 1 || updateID(t, got[0]) != first+2 {
		t.Errorf("offset -1: %s", got)
	}
	if got := getUpdates(t, srv, url.Values{"offset": {strconv.FormatInt(first+3, 10)}}); len(got) != 0 {
		t.Errorf("all confirmed: %d updates", len(got))
	}
	// allowed_updates filters updates created afterwards.
	getUpdates(t, srv, url.Values{"allowed_updates": {`["callback_query"]`}})
	if _, err := srv.SendText(u.ID, "filtered"); err != nil {
		t.Fatal(err)
	}
	if n := srv.PendingUpdates(); n != 0 {
		t.Errorf("message update queued despite allowed_updates: %d pending", n)
	}
}

func TestGetUpdatesLongPoll(t *testing.T) {
	srv := startServer(t, Options{})
	u, _ := srv.AddUser(User{FirstName: "Ned"})

	// With nothing queued, timeout=1 ends with an empty batch.
	if got := getUpdates(t, srv, url.Values{"timeout": {"1"}}); len(got) != 0 {
		t.Errorf("empty long poll returned %d updates", len(got))
	}

	srv.mu.Lock()
	gen := srv.pollGen
	srv.mu.Unlock()
	result := make(chan []json.RawMessage, 1)
	go func() {
		r, _ := tryPostForm(srv, "getUpdates", url.Values{"timeout": {"30"}})
		var out []json.RawMessage
		_ = json.Unmarshal(r.Result, &out)
		result <- out
	}()
	waitFor(t, func() bool {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		return srv.pollGen > gen
	})
	if _, err := srv.SendText(u.ID, "wake up"); err != nil {
		t.Fatal(err)
	}
	if got := <-result; len(got) != 1 || !strings.Contains(string(got[0]), "wake up") {
		t.Errorf("long poll woke with %s", got)
	}

	// A second poller terminates the first with a conflict.
	srv.mu.Lock()
	gen = srv.pollGen
	srv.updates = nil
	srv.mu.Unlock()
	first := make(chan apiResponse, 1)
	go func() {
		r, _ := tryPostForm(srv, "getUpdates", url.Values{"timeout": {"30"}})
		first <- r
	}()
	waitFor(t, func() bool {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		return srv.pollGen > gen
	})
	second := make(chan error, 1)
	go func() {
		_, err := tryPostForm(srv, "getUpdates", url.Values{"timeout": {"1"}})
		second <- err
	}()
	defer func() {
		if err := <-second; err != nil {
			t.Errorf("second poller: %v", err)
		}
	}()
	r := <-first
	if r.OK || r.ErrorCode != 409 || r.Description != "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running" {
		t.Errorf("first poller got %+v, want a 409 conflict", r)
	}
}

func TestHandlerUnderHTTPTestAndCommands(t *testing.T) {
	srv, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	b, err := bot.New(srv.Token(), bot.WithServerURL(ts.URL)) // runs getMe
	if err != nil {
		t.Fatalf("bot.New against the handler: %v", err)
	}
	ctx := waitCtx(t)
	cmds := []models.BotCommand{{Command: "start", Description: "Start"}, {Command: "buy", Description: "Buy access"}}
	if ok, err := b.SetMyCommands(ctx, &bot.SetMyCommandsParams{Commands: cmds}); err != nil || !ok {
		t.Fatalf("SetMyCommands = %v, %v", ok, err)
	}
	ru := []models.BotCommand{{Command: "start", Description: "Начать"}}
	if _, err := b.SetMyCommands(ctx, &bot.SetMyCommandsParams{Commands: ru, LanguageCode: "ru"}); err != nil {
		t.Fatal(err)
	}
	if got := srv.Commands("en"); len(got) != 2 || got[1].Command != "buy" {
		t.Errorf("Commands(en) = %+v, want the default list", got)
	}
	if got := srv.Commands("ru"); len(got) != 1 || got[0].Description != "Начать" {
		t.Errorf("Commands(ru) = %+v", got)
	}
	got, err := b.GetMyCommands(ctx, &bot.GetMyCommandsParams{})
	if err != nil || len(got) != 2 {
		t.Errorf("GetMyCommands = %+v, %v", got, err)
	}
	_, err = b.SetMyCommands(ctx, &bot.SetMyCommandsParams{Commands: []models.BotCommand{{Command: "Bad-Name", Description: "x"}}})
	if !errors.Is(err, bot.ErrorBadRequest) {
		t.Errorf("invalid command: err = %v", err)
	}
	if ok, err := b.SetMyDescription(ctx, &bot.SetMyDescriptionParams{Description: "VPN shop"}); err != nil || !ok {
		t.Errorf("SetMyDescription = %v, %v", ok, err)
	}
}
