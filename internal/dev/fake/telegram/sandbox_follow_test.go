package telegram

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

// TestSandboxChatFollowsGrowingMessages pins how the chat keeps its end in
// view. A photo message takes its height when the picture's size is known,
// which can be before its load event (and before the scroll event of the
// previous jump to the end has been delivered): a reader who follows the chat
// must still see the whole message. A reader who scrolled up stays where
// they are.
func TestSandboxChatFollowsGrowingMessages(t *testing.T) {
	chrome := browserPath()
	if chrome == "" || testing.Short() {
		t.Skip("no Chromium on PATH (or -short)")
	}
	srv := startServer(t, Options{})
	runBot(t, srv, bot.WithMessageTextHandler("start", bot.MatchTypeCommand, func(ctx context.Context, b *bot.Bot, u *models.Update) {
		for i := range 12 {
			_, _ = b.SendMessage(ctx, &bot.SendMessageParams{ChatID: u.Message.Chat.ID, Text: fmt.Sprintf("line %d", i)})
		}
	}))

	ctx := openSandbox(t, chrome, srv, 1000, 600)
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`[data-testid=new-user-name]`), "Flo"),
		chromedp.Click(chromedp.CSS(`[data-testid=create-user]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=message-input]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid=message-input]`), "/start"),
		chromedp.Click(chromedp.CSS(`[data-testid=send-button]`)),
	); err != nil {
		t.Fatalf("start the chat: %v", err)
	}
	poll := func(what, expr string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(10*time.Second))); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	eval := func(what, expr string) bool {
		t.Helper()
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return ok
	}
	const lastInView = `(() => {
		const box = document.getElementById('messages'), m = box.lastElementChild;
		const r = m.getBoundingClientRect(), v = box.getBoundingClientRect();
		return r.top >= v.top - 1 && r.bottom <= v.bottom + 1;
	})()`
	poll("the bot's lines, the last in view", `document.querySelectorAll('[data-from=bot]').length === 12 && `+lastInView)

	// The last message grows with no load event, in the same task as the
	// jump to the end: the page must follow on its own.
	eval("grow the last message", `(() => {
		const box = document.getElementById('messages');
		box.scrollTop = box.scrollHeight;
		box.lastElementChild.style.paddingBottom = '150px';
		return true;
	})()`)
	poll("the grown message in view", lastInView)

	// A reader who scrolled up to read is not pulled down by a message growing.
	eval("scroll to the top", `(() => { document.getElementById('messages').scrollTop = 0; return true; })()`)
	poll("the scroll to the top settled", `document.getElementById('messages').scrollTop === 0`)
	time.Sleep(200 * time.Millisecond) // let the scroll event be delivered
	eval("grow it again", `(() => { document.getElementById('messages').lastElementChild.style.paddingBottom = '200px'; return true; })()`)
	time.Sleep(300 * time.Millisecond)
	if !eval("still at the top", `document.getElementById('messages').scrollTop === 0`) {
		t.Errorf("a reader who scrolled up was pulled down when a message grew")
	}
}
