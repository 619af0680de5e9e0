package telegram

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

func TestCommandHandlerReceivesSendText(t *testing.T) {
	srv := startServer(t, Options{})
	type seen struct {
		chatID, fromID int64
		text           string
	}
	got := make(chan seen, 4)
	runBot(t, srv,
		bot.WithMessageTextHandler("start", bot.MatchTypeCommandStartOnly, func(ctx context.Context, b *bot.Bot, u *models.Update) {
			got <- seen{u.Message.Chat.ID, u.Message.From.ID, u.Message.Text}
			_, _ = b.SendMessage(ctx, &bot.SendMessageParams{ChatID: u.Message.Chat.ID, Text: "welcome"})
		}),
		bot.WithMessageTextHandler("help", bot.MatchTypeCommand, func(ctx context.Context, b *bot.Bot, u *models.Update) {
			got <- seen{u.Message.Chat.ID, u.Message.From.ID, u.Message.Text}
		}),
	)
	u, err := srv.AddUser(User{FirstName: "Alice"})
	if err != nil {
		t.Fatal(err)
	}
	if u.ID <= 1<<32 {
		t.Errorf("user id %d fits in 32 bits; real ids do not", u.ID)
	}
	if _, err := srv.SendText(u.ID, "/start promo42"); err != nil {
		t.Fatal(err)
	}
	s := <-got
	if s.chatID != u.ID || s.fromID != u.ID || s.text != "/start promo42" {
		t.Errorf("handler saw %+v, want chat and sender %d with the text", s, u.ID)
	}
	m, err := srv.WaitForMessage(waitCtx(t), u.ID, func(m Message) bool { return m.Text == "welcome" })
	if err != nil {
		t.Fatal(err)
	}
	if !m.FromBot || m.ChatID != u.ID {
		t.Errorf("reply %+v not from the bot in the user's chat", m)
	}
	// A command later in the text still carries a bot_command entity.
	if _, err := srv.SendText(u.ID, "please /help"); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s.text != "please /help" {
		t.Errorf("help handler saw %q", s.text)
	}
}

func TestSendMessageRecordsFormattingAndKeyboard(t *testing.T) {
	srv := startServer(t, Options{})
	u := addStartedUser(t, srv, "Bob")
	b := newBot(t, srv)
	ctx := waitCtx(t)
	sent, err := b.SendMessage(ctx, &bot.SendMessageParams{
		ChatID:    u.ID,
		Text:      "<b>Plan</b> &amp; <a href=\"https://example.com/x\">link</a>\n",
		ParseMode: models.ParseModeHTML,
		LinkPreviewOptions: &models.LinkPreviewOptions{
			IsDisabled: bot.True(),
		},
		ReplyMarkup: &models.InlineKeyboardMarkup{InlineKeyboard: [][]models.InlineKeyboardButton{
			{{Text: "Buy 1 month", CallbackData: "buy:1m"}},
			{{Text: "Site", URL: "https://example.com"}, {Text: "Copy", CopyText: models.CopyTextButton{Text: "vless://abc"}}},
		}},
	})
	if err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	if sent.ID != 2 || sent.Chat.ID != u.ID || sent.From == nil || !sent.From.IsBot {
		t.Errorf("returned message id %d chat %d from %+v; want id 2 after /start, the user's chat, from the bot", sent.ID, sent.Chat.ID, sent.From)
	}
	if sent.Text != "Plan & link" {
		t.Errorf("returned text %q, want the parsed plain text", sent.Text)
	}
	wantEnts := []models.MessageEntity{
		{Type: "bold", Offset: 0, Length: 4},
		{Type: "text_link", Offset: 7, Length: 4, URL: "https://example.com/x"},
	}
	if len(sent.Entities) != len(wantEnts) {
		t.Fatalf("entities %+v, want %+v", sent.Entities, wantEnts)
	}
	for i := range wantEnts {
		if sent.Entities[i] != wantEnts[i] {
			t.Errorf("entity %d = %+v, want %+v", i, sent.Entities[i], wantEnts[i])
		}
	}
	if sent.ReplyMarkup == nil || len(sent.ReplyMarkup.InlineKeyboard) != 2 {
		t.Fatalf("returned reply_markup %+v", sent.ReplyMarkup)
	}

	msgs := srv.Messages(u.ID)
	if len(msgs) != 1 {
		t.Fatalf("Messages = %d messages, want 1 (the user's /start is not the bot's)", len(msgs))
	}
	m := msgs[0]
	if m.ParseMode != "HTML" || !strings.HasPrefix(m.Raw, "<b>Plan</b>") || !m.LinkPreviewDisabled {
		t.Errorf("recorded parse mode %q raw %q preview disabled %v", m.ParseMode, m.Raw, m.LinkPreviewDisabled)
	}
	want := [][]InlineButton{
		{{Text: "Buy 1 month", Kind: ButtonCallback, CallbackData: "buy:1m"}},
		{{Text: "Site", Kind: ButtonURL, URL: "https://example.com"}, {Text: "Copy", Kind: ButtonCopyText, CopyText: "vless://abc"}},
	}
	if !keyboardsEqual(m.Keyboard, want) {
		t.Errorf("keyboard %+v, want %+v", m.Keyboard, want)
	}
}

func pngBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for x := range w {
		img.SetGray(x, x%h, color.Gray{Y: 255})
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestSendPhotoUploadAndResendByFileID(t *testing.T) {
	srv := startServer(t, Options{})
	u := addStartedUser(t, srv, "Carol")
	b := newBot(t, srv)
	ctx := waitCtx(t)
	data := pngBytes(t, 400, 400)
	sent, err := b.SendPhoto(ctx, &bot.SendPhotoParams{
		ChatID:    u.ID,
		Photo:     &models.InputFileUpload{Filename: "qr.png", Data: bytes.NewReader(data)},
		Caption:   "Scan *me*",
		ParseMode: models.ParseModeMarkdown,
	})
	if err != nil {
		t.Fatalf("SendPhoto: %v", err)
	}
	if len(sent.Photo) < 2 {
		t.Fatalf("photo sizes %+v, want a thumbnail and the original", sent.Photo)
	}
	largest := sent.Photo[len(sent.Photo)-1]
	if largest.Width != 400 || largest.Height != 400 || largest.FileID == "" {
		t.Errorf("largest size %+v, want 400x400 with a file_id", largest)
	}
	if sent.Caption != "Scan me" || len(sent.CaptionEntities) != 1 || sent.CaptionEntities[0].Type != "bold" {
		t.Errorf("caption %q entities %+v", sent.Caption, sent.CaptionEntities)
	}
	m := srv.Messages(u.ID)[0]
	if !bytes.Equal(m.Photo, data) || m.PhotoFileID != largest.FileID {
		t.Errorf("recorded photo: %d bytes, file id %q; want the uploaded PNG", len(m.Photo), m.PhotoFileID)
	}
	if calls := srv.Calls("sendPhoto"); len(calls) != 1 || calls[0].Files["photo"] != "qr.png" {
		t.Errorf("sendPhoto calls %+v, want one with photo upload qr.png", calls)
	}

	recaptioned, err := b.EditMessageCaption(ctx, &bot.EditMessageCaptionParams{ChatID: u.ID, MessageID: sent.ID, Caption: "New caption"})
	if err != nil || recaptioned.Caption != "New caption" || len(recaptioned.Photo) == 0 {
		t.Errorf("EditMessageCaption = %+v, %v", recaptioned, err)
	}
	if m := srv.Messages(u.ID)[0]; m.Caption != "New caption" || !m.Edited || len(m.Entities) != 0 {
		t.Errorf("after caption edit Messages shows caption %q edited %v entities %+v", m.Caption, m.Edited, m.Entities)
	}

	again, err := b.SendPhoto(ctx, &bot.SendPhotoParams{ChatID: u.ID, Photo: &models.InputFileString{Data: largest.FileID}})
	if err != nil {
		t.Fatalf("SendPhoto by file_id: %v", err)
	}
	if again.Photo[len(again.Photo)-1].FileID != largest.FileID {
		t.Errorf("resent photo has file id %q, want %q", again.Photo[len(again.Photo)-1].FileID, largest.FileID)
	}
	_, err = b.SendPhoto(ctx, &bot.SendPhotoParams{ChatID: u.ID, Photo: &models.InputFileString{Data: "no-such-file"}})
	if !errors.Is(err, bot.ErrorBadRequest) || !strings.Contains(err.Error(), "wrong file identifier/HTTP URL specified") {
		t.Errorf("unknown file_id: err = %v", err)
	}
	_, err = b.SendPhoto(ctx, &bot.SendPhotoParams{ChatID: u.ID, Photo: &models.InputFileUpload{Filename: "x.png", Data: strings.NewReader("not an image")}})
	if !errors.Is(err, bot.ErrorBadRequest) || !strings.Contains(err.Error(), "IMAGE_PROCESS_FAILED") {
		t.Errorf("garbage upload: err = %v", err)
	}
}

func TestEditAndDeleteMessages(t *testing.T) {
	srv := startServer(t, Options{})
	u := addStartedUser(t, srv, "Dan")
	b := newBot(t, srv)
	ctx := waitCtx(t)
	kb := &models.InlineKeyboardMarkup{InlineKeyboard: [][]models.InlineKeyboardButton{{{Text: "Go", CallbackData: "go"}}}}
	sent, err := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: u.ID, Text: "Pending", ReplyMarkup: kb})
	if err != nil {
		t.Fatal(err)
	}
	edited, err := b.EditMessageText(ctx, &bot.EditMessageTextParams{ChatID: u.ID, MessageID: sent.ID, Text: "<i>Paid</i>", ParseMode: models.ParseModeHTML})
	if err != nil {
		t.Fatalf("EditMessageText: %v", err)
	}
	if edited.Text != "Paid" || edited.EditDate == 0 || edited.ReplyMarkup != nil {
		t.Errorf("edited message text %q edit_date %d markup %+v; want new text, an edit date, keyboard gone", edited.Text, edited.EditDate, edited.ReplyMarkup)
	}
	m := srv.Messages(u.ID)[0]
	if m.Text != "Paid" || !m.Edited || m.Keyboard != nil || len(srv.Messages(u.ID)) != 1 {
		t.Errorf("after edit Messages shows %+v; want the same message edited in place", m)
	}

	_, err = b.EditMessageText(ctx, &bot.EditMessageTextParams{ChatID: u.ID, MessageID: sent.ID, Text: "<i>Paid</i>", ParseMode: models.ParseModeHTML})
	if !errors.Is(err, bot.ErrorBadRequest) || !strings.Contains(err.Error(), "message is not modified") {
		t.Errorf("identical edit: err = %v", err)
	}
	if _, err := b.EditMessageReplyMarkup(ctx, &bot.EditMessageReplyMarkupParams{ChatID: u.ID, MessageID: sent.ID, ReplyMarkup: kb}); err != nil {
		t.Fatalf("EditMessageReplyMarkup: %v", err)
	}
	if got := srv.Messages(u.ID)[0].Keyboard; len(got) != 1 || got[0][0].CallbackData != "go" {
		t.Errorf("keyboard after EditMessageReplyMarkup = %+v", got)
	}
	_, err = b.EditMessageText(ctx, &bot.EditMessageTextParams{ChatID: u.ID, MessageID: 999, Text: "x"})
	if !strings.Contains(errString(err), "message to edit not found") {
		t.Errorf("edit of unknown message: err = %v", err)
	}
	// The user's own /start (message 1) is not the bot's to edit.
	_, err = b.EditMessageText(ctx, &bot.EditMessageTextParams{ChatID: u.ID, MessageID: 1, Text: "x"})
	if !strings.Contains(errString(err), "message can't be edited") {
		t.Errorf("edit of the user's message: err = %v", err)
	}

	if ok, err := b.DeleteMessage(ctx, &bot.DeleteMessageParams{ChatID: u.ID, MessageID: sent.ID}); err != nil || !ok {
		t.Fatalf("DeleteMessage = %v, %v", ok, err)
	}
	if !srv.Messages(u.ID)[0].Deleted {
		t.Error("deleted message not flagged")
	}
	_, err = b.DeleteMessage(ctx, &bot.DeleteMessageParams{ChatID: u.ID, MessageID: sent.ID})
	if !strings.Contains(errString(err), "message to delete not found") {
		t.Errorf("second delete: err = %v", err)
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func TestPressButtonRecordsAnswer(t *testing.T) {
	srv := startServer(t, Options{})
	u := addStartedUser(t, srv, "Eve")
	runBot(t, srv, bot.WithCallbackQueryDataHandler("plan:", bot.MatchTypePrefix, func(ctx context.Context, b *bot.Bot, upd *models.Update) {
		q := upd.CallbackQuery
		_, _ = b.AnswerCallbackQuery(ctx, &bot.AnswerCallbackQueryParams{CallbackQueryID: q.ID, Text: "Chosen " + q.Data})
		_, _ = b.EditMessageText(ctx, &bot.EditMessageTextParams{
			ChatID: q.Message.Message.Chat.ID, MessageID: q.Message.Message.ID, Text: "You picked " + q.Data,
		})
	}))
	b := newBot(t, srv)
	ctx := waitCtx(t)
	sent, err := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: u.ID, Text: "Pick a plan", ReplyMarkup: &models.InlineKeyboardMarkup{
		InlineKeyboard: [][]models.InlineKeyboardButton{{{Text: "1 month", CallbackData: "plan:1m"}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.PressButton(u.ID, sent.ID, "plan:12m"); !errors.Is(err, ErrNoMessage) {
		t.Errorf("pressing a button the message lacks: err = %v", err)
	}
	id, err := srv.PressButton(u.ID, sent.ID, "plan:1m")
	if err != nil {
		t.Fatal(err)
	}
	ans, err := srv.WaitForCallbackAnswer(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if ans.Text != "Chosen plan:1m" {
		t.Errorf("answer %+v", ans)
	}
	if _, err := srv.WaitForMessage(ctx, u.ID, func(m Message) bool { return m.ID == sent.ID && m.Text == "You picked plan:1m" }); err != nil {
		t.Fatal(err)
	}
	_, err = b.AnswerCallbackQuery(ctx, &bot.AnswerCallbackQueryParams{CallbackQueryID: id})
	if !strings.Contains(errString(err), "query is too old and response timeout expired or query ID is invalid") {
		t.Errorf("second answer: err = %v", err)
	}
}

func TestBlockedUserAndUnstartedChat(t *testing.T) {
	srv := startServer(t, Options{})
	sink := newSink()
	runBot(t, srv, bot.WithDefaultHandler(sink.handler))
	b := newBot(t, srv)
	ctx := waitCtx(t)

	stranger, err := srv.AddUser(User{FirstName: "Stranger"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.SendMessage(ctx, &bot.SendMessageParams{ChatID: stranger.ID, Text: "hi"})
	if !errors.Is(err, bot.ErrorForbidden) || !strings.Contains(err.Error(), "bot can't initiate conversation with a user") {
		t.Errorf("message to a user who never wrote: err = %v", err)
	}
	_, err = b.SendMessage(ctx, &bot.SendMessageParams{ChatID: 42, Text: "hi"})
	if !errors.Is(err, bot.ErrorBadRequest) || !strings.Contains(err.Error(), "chat not found") {
		t.Errorf("message to an unknown chat: err = %v", err)
	}

	if _, err := srv.SendText(stranger.ID, "/start"); err != nil {
		t.Fatal(err)
	}
	sink.next(t, func(u *models.Update) bool { return u.Message != nil })
	if err := srv.BlockBot(stranger.ID, true); err != nil {
		t.Fatal(err)
	}
	upd := sink.next(t, func(u *models.Update) bool { return u.MyChatMember != nil })
	if upd.MyChatMember.NewChatMember.Type != models.ChatMemberTypeBanned || upd.MyChatMember.From.ID != stranger.ID {
		t.Errorf("my_chat_member %+v, want the user moving the bot to kicked", upd.MyChatMember)
	}
	_, err = b.SendMessage(ctx, &bot.SendMessageParams{ChatID: stranger.ID, Text: "renew?"})
	if !errors.Is(err, bot.ErrorForbidden) || !strings.Contains(err.Error(), "Forbidden: bot was blocked by the user") {
		t.Errorf("message to a user who blocked the bot: err = %v", err)
	}
	if _, err := srv.SendText(stranger.ID, "hello"); !errors.Is(err, ErrBlocked) {
		t.Errorf("SendText while blocked: err = %v", err)
	}
	if err := srv.BlockBot(stranger.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: stranger.ID, Text: "welcome back"}); err != nil {
		t.Errorf("message after unblock: %v", err)
	}
}

// TestMarkStartedLetsTheBotWriteWithoutAnUpdate: a user seeded as one who
// wrote to the bot before can be written to, and the bot hears nothing.
func TestMarkStartedLetsTheBotWriteWithoutAnUpdate(t *testing.T) {
	srv := startServer(t, Options{})
	b := newBot(t, srv)
	ctx := waitCtx(t)
	u, err := srv.AddUser(User{FirstName: "Seeded"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: u.ID, Text: "before"}); !errors.Is(err, bot.ErrorForbidden) {
		t.Fatalf("message before MarkStarted: err = %v, want 403", err)
	}
	if err := srv.MarkStarted(u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: u.ID, Text: "after"}); err != nil {
		t.Errorf("message after MarkStarted: %v", err)
	}
	srv.mu.Lock()
	pending := len(srv.updates)
	srv.mu.Unlock()
	if pending != 0 {
		t.Errorf("%d updates pending, want none: MarkStarted must not write to the bot", pending)
	}
	if err := srv.MarkStarted(42); !errors.Is(err, ErrUnknownUser) {
		t.Errorf("MarkStarted of an unknown user: err = %v, want ErrUnknownUser", err)
	}
}

func TestRateLimitAnswers429WithRetryAfter(t *testing.T) {
	clk := newClock()
	srv := startServer(t, Options{Now: clk.Now})
	u := addStartedUser(t, srv, "Fay")
	b := newBot(t, srv)
	ctx := waitCtx(t)
	srv.SetRateLimit(RateLimit{PerSecond: 2, RetryAfter: 3 * time.Second})
	for i := range 2 {
		if _, err := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: u.ID, Text: "ok"}); err != nil {
			t.Fatalf("send %d within the limit: %v", i, err)
		}
	}
	_, err := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: u.ID, Text: "too many"})
	var tooMany *bot.TooManyRequestsError
	if !errors.As(err, &tooMany) || tooMany.RetryAfter != 3 {
		t.Fatalf("third send in a second: err = %v, want TooManyRequestsError with retry_after 3", err)
	}
	clk.Advance(2 * time.Second)
	_, err = b.SendMessage(ctx, &bot.SendMessageParams{ChatID: u.ID, Text: "still flooding"})
	if !errors.As(err, &tooMany) || tooMany.RetryAfter != 1 {
		t.Errorf("send during the flood wait: err = %v, want retry_after 1", err)
	}
	clk.Advance(time.Second)
	if _, err := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: u.ID, Text: "after the wait"}); err != nil {
		t.Errorf("send after the flood wait: %v", err)
	}
	if n := srv.RateLimited(); n != 2 {
		t.Errorf("RateLimited = %d, want the 2 sends refused", n)
	}
	srv.SetRateLimit(RateLimit{})
	if n := srv.RateLimited(); n != 0 {
		t.Errorf("RateLimited = %d after the limit was set again, want 0", n)
	}
	for range 5 {
		if _, err := b.SendMessage(ctx, &bot.SendMessageParams{ChatID: u.ID, Text: "unlimited"}); err != nil {
			t.Fatalf("send with the limit off: %v", err)
		}
	}
}

func TestOutageFailsAndHangs(t *testing.T) {
	srv := startServer(t, Options{})
	b := newBot(t, srv)

	srv.SetOutage(OutageError)
	_, err := b.GetMe(waitCtx(t))
	if err == nil || !strings.Contains(err.Error(), "502") {
		t.Errorf("GetMe during an error outage: err = %v, want a 502", err)
	}

	srv.SetOutage(OutageHang)
	done := make(chan error, 1)
	go func() {
		_, err := b.GetMe(context.Background())
		done <- err
	}()
	waitFor(t, func() bool {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		return srv.hanging > 0
	})
	select {
	case err := <-done:
		t.Fatalf("GetMe returned during a hang outage: %v", err)
	default:
	}
	srv.SetOutage(OutageNone)
	if err := <-done; err != nil {
		t.Errorf("hung GetMe after the outage ended: %v", err)
	}
	me, err := b.GetMe(waitCtx(t))
	if err != nil || !me.IsBot || me.Username != "vpnflow_sandbox_bot" {
		t.Errorf("GetMe = %+v, %v", me, err)
	}
}

func TestLatencySlowsEveryAnswer(t *testing.T) {
	srv := startServer(t, Options{})
	b := newBot(t, srv)
	srv.SetLatency(300 * time.Millisecond)
	start := time.Now()
	if _, err := b.GetMe(waitCtx(t)); err != nil {
		t.Fatalf("GetMe with latency: %v", err)
	}
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Errorf("GetMe with 300 ms latency answered after %s", took)
	}
	calls := srv.Calls("getMe")
	if len(calls) == 0 || calls[len(calls)-1].Time.Sub(start) > 100*time.Millisecond {
		t.Errorf("the call is recorded when it arrived, not when it was answered: %+v", calls)
	}
	srv.SetLatency(0)
	start = time.Now()
	if _, err := b.GetMe(waitCtx(t)); err != nil {
		t.Fatalf("GetMe without latency: %v", err)
	}
	if took := time.Since(start); took >= 300*time.Millisecond {
		t.Errorf("GetMe without latency took %s", took)
	}
}

// waitFor polls cond until it holds; for internal states with no event.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	ctx := waitCtx(t)
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatal("condition never held")
		case <-time.After(5 * time.Millisecond):
		}
	}
}
