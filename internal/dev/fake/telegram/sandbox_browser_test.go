package telegram

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

// browserPath finds a Chromium for the browser test, which skips without one.
func browserPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// openSandbox opens the sandbox page of srv in a headless Chromium window
// of the given size; the browser closes when the test ends, and every
// action on the returned context gives up after a minute.
func openSandbox(t *testing.T, chrome string, srv *Server, width, height int) context.Context {
	t.Helper()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.WindowSize(width, height))...)
	t.Cleanup(cancelAlloc)
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(browser, chromedp.Navigate(srv.URL()+"/")); err != nil {
		t.Fatalf("start browser: %v", err)
	}
	ctx, cancel := context.WithTimeout(browser, 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestSandboxInBrowser drives the sandbox page the way an operator does:
// create a user, send /start, press an inline button, pay an invoice.
// TELEGRAM_SANDBOX_SCREENSHOT=path saves a picture of the final chat.
func TestSandboxInBrowser(t *testing.T) {
	chrome := browserPath()
	if chrome == "" || testing.Short() {
		t.Skip("no Chromium on PATH (or -short)")
	}
	srv := startServer(t, Options{TemporalUIURL: "http://127.0.0.1:8233"})
	payingBot := func(ctx context.Context, b *bot.Bot, u *models.Update) {
		if q := u.PreCheckoutQuery; q != nil {
			_, _ = b.AnswerPreCheckoutQuery(ctx, &bot.AnswerPreCheckoutQueryParams{PreCheckoutQueryID: q.ID, OK: true})
		}
	}
	qr := pngBytes(t, 120, 120)
	runBot(t, srv,
		bot.WithDefaultHandler(payingBot),
		bot.WithMessageTextHandler("start", bot.MatchTypeCommand, func(ctx context.Context, b *bot.Bot, u *models.Update) {
			chat := u.Message.Chat.ID
			_, _ = b.SendPhoto(ctx, &bot.SendPhotoParams{ChatID: chat, Caption: "Your key as a QR code",
				Photo: &models.InputFileUpload{Filename: "qr.png", Data: bytes.NewReader(qr)}})
			_, _ = b.SendMessage(ctx, &bot.SendMessageParams{ChatID: chat, ParseMode: models.ParseModeHTML,
				Text: "<b>Welcome!</b> Pick a plan:\n<blockquote>Fast &amp; private</blockquote><tg-spoiler>secret</tg-spoiler> <code>vless://x</code>",
				ReplyMarkup: &models.InlineKeyboardMarkup{InlineKeyboard: [][]models.InlineKeyboardButton{
					{{Text: "1 month", CallbackData: "plan:1m"}, {Text: "Help", URL: "https://example.com/help"}},
					{{Text: "Copy key", CopyText: models.CopyTextButton{Text: "vless://x"}}},
				}}})
		}),
		bot.WithCallbackQueryDataHandler("plan:", bot.MatchTypePrefix, func(ctx context.Context, b *bot.Bot, u *models.Update) {
			q := u.CallbackQuery
			_, _ = b.AnswerCallbackQuery(ctx, &bot.AnswerCallbackQueryParams{CallbackQueryID: q.ID, Text: "Creating invoice…"})
			_, _ = b.EditMessageText(ctx, &bot.EditMessageTextParams{ChatID: q.Message.Message.Chat.ID, MessageID: q.Message.Message.ID, Text: "Plan: 1 month"})
			_, _ = b.SendInvoice(ctx, &bot.SendInvoiceParams{ChatID: q.Message.Message.Chat.ID, Title: "VPN, 1 month",
				Description: "30 days of access", Payload: "p1", Currency: "XTR", Prices: []models.LabeledPrice{{Label: "1 month", Amount: 100}}})
		}),
	)

	ctx := openSandbox(t, chrome, srv, 1200, 800)

	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	waitJS := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	step("create a user",
		chromedp.SendKeys(chromedp.CSS(`[data-testid=new-user-name]`), "Tess"),
		chromedp.Click(chromedp.CSS(`[data-testid=create-user]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=message-input]`)),
	)
	users := srv.Users()
	if len(users) != 1 || users[0].FirstName != "Tess" {
		t.Fatalf("users after creating one in the page: %+v", users)
	}
	step("send /start",
		chromedp.SendKeys(chromedp.CSS(`[data-testid=message-input]`), "/start"),
		chromedp.Click(chromedp.CSS(`[data-testid=send-button]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=message-photo]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=inline-button][data-callback-data="plan:1m"]`)),
	)
	waitJS("QR image loaded", `(() => { const i = document.querySelector('[data-testid=message-photo]'); return i.complete && i.naturalWidth === 120; })()`)
	step("press the plan button", chromedp.Click(chromedp.CSS(`[data-testid=inline-button][data-callback-data="plan:1m"]`)))
	waitJS("message edited in place", `[...document.querySelectorAll('[data-testid=message-text]')].some(e => e.textContent === 'Plan: 1 month')`)
	waitJS("callback answer shown", `document.querySelector('[data-testid=toast]').textContent.includes('Creating invoice')`)
	step("pay the invoice",
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=pay-button]`)),
		chromedp.Click(chromedp.CSS(`[data-testid=pay-button]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=invoice-paid]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=service-message]`)),
	)
	if charges := srv.Charges(); len(charges) != 1 || charges[0].Amount != 100 {
		t.Errorf("charges after paying in the page: %+v", charges)
	}
	step("expire button sends the command", chromedp.Click(chromedp.CSS(`[data-testid=expire-button]`)))
	if _, err := srv.WaitForMessage(waitCtx(t), users[0].ID, nil); err != nil {
		t.Fatal(err)
	}
	waitJS("expire command shown", `[...document.querySelectorAll('[data-from=user] [data-testid=message-text]')].some(e => e.textContent === '/sandbox_expire 2m')`)
	link, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`[data-testid=temporal-link]`), "href"))
	if err != nil || !strings.Contains(link.Value, "TelegramUserID%3D") {
		t.Errorf("temporal link %+v, %v", link, err)
	}

	if path := os.Getenv("TELEGRAM_SANDBOX_SCREENSHOT"); path != "" {
		shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
