package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	faketg "vpnflow/internal/dev/fake/telegram"
	"vpnflow/internal/dev/testenv"
)

// Environment of the browser test.
const (
	// artifactsEnv names a directory for the screenshots; without it they go
	// to the test's state directory, which is kept when the run fails.
	artifactsEnv = "VPNFLOW_ARTIFACTS"
	// updateScreenshotEnv=1 rewrites docs/sandbox.png from the final chat.
	updateScreenshotEnv = "VPNFLOW_UPDATE_SCREENSHOT"
	docsScreenshot      = "../../docs/sandbox.png"
)

// TestSandboxJourneyInBrowser is what an operator does in `make dev`, in a
// real headless Chromium on the sandbox chat page: a new user takes the free
// trial and gets a key with its QR code, buys 30 days with Crypto Pay on the
// stand-in's pay page, sees the subscription extended, and replaces the key.
// The subscription URL each key message shows serves that message's key.
func TestSandboxJourneyInBrowser(t *testing.T) {
	chrome := chromium(t)
	s := startShop(t, nil)
	s.runInProcess()
	b := openBrowser(t, chrome, artifactsDir(t))
	chat := b.tab(t, "chat")

	chat.navigate(s.tg.URL() + "/")
	chat.do("create a user",
		chromedp.SendKeys(chromedp.CSS(`[data-testid=new-user-name]`), "Alice"),
		chromedp.Click(chromedp.CSS(`[data-testid=create-user]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=message-input]`)),
	)
	idAttr := chat.attr(`#chat`, "data-user-id")
	user, err := strconv.ParseInt(idAttr, 10, 64)
	if err != nil {
		t.Fatalf("chat of an unknown user %q: %v", idAttr, err)
	}
	if n := chat.count(`[data-testid=user-picker] [data-testid=user-item][data-user-id="` + idAttr + `"]`); n != 1 {
		t.Fatalf("the new user is listed %d times in the user picker", n)
	}

	chat.send("/start")
	chat.waitText("the menu", "Hi, Alice")
	chat.press("Free trial")
	trialKey := chat.waitKey("the trial key", "")
	chat.waitQR(trialKey.ID)
	chat.waitInView(trialKey.ID)
	// The page shows what the bot sent: the same key as the Bot API holds.
	s.waitFor(user, 0, "the trial key (driver)", func(m faketg.Message) bool {
		return m.ID == trialKey.ID && strings.Contains(m.Caption, trialKey.Link)
	})
	chat.shot("1-trial-key")
	// The subscription URL the page shows serves that key.
	if id := s.fetchKey(trialKey.URL); id != keyUUID(trialKey.Link) {
		t.Fatalf("the page's subscription URL serves key %s, its link is %s", id, keyUUID(trialKey.Link))
	}

	chat.press("Back")
	chat.press("Renew")
	chat.press("30 days")
	chat.press("Crypto")
	payURL := chat.payLink()
	inv := s.invoiceFor(user)
	if !strings.HasPrefix(payURL, inv.BotInvoiceURL) {
		t.Fatalf("the pay button opens %s, want the invoice page %s", payURL, inv.BotInvoiceURL)
	}
	chat.shot("2-invoice")

	pay := b.tab(t, "pay")
	pay.navigate(payURL)
	pay.waitText("the invoice page", inv.Amount)
	pay.do("pay the invoice",
		chromedp.Click(chromedp.CSS(`[data-testid=pay-form] [data-testid=pay-button]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=paid-amount]`)),
	)
	pay.shot("3-paid")

	chat.waitText("the extension", "extended until")
	chat.shot("4-extended")
	if n := chat.keyCount(); n != 1 {
		t.Errorf("%d key messages after paying on top of the trial, want 1: the key stays the same", n)
	}

	chat.press("My subscription")
	chat.press("New key")
	newKey := chat.waitKey("the new key", trialKey.Link)
	chat.waitQR(newKey.ID)
	s.assertServes(user, newKey.Link, trialKey.Link, 30)
	if id := s.fetchKey(newKey.URL); id != keyUUID(newKey.Link) || newKey.URL == trialKey.URL {
		t.Fatalf("the new key's subscription URL %s serves %s, want a new URL serving %s", newKey.URL, id, keyUUID(newKey.Link))
	}
	if status, _ := s.fetch(trialKey.URL); status != 404 {
		t.Errorf("the trial key's subscription URL after the new key: %d, want 404", status)
	}
	shot := chat.shotKey("5-new-key", newKey.ID)

	if os.Getenv(updateScreenshotEnv) == "1" {
		if err := os.MkdirAll(filepath.Dir(docsScreenshot), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(docsScreenshot, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", docsScreenshot)
	}
}

// assertServes checks that the key the page shows is the one the database
// holds and Xray serves, for at least minDays, and the old key is off.
func (s *shopEnv) assertServes(userID int64, link, oldLink string, minDays int) {
	s.t.Helper()
	ctx := context.Background()
	sub, err := s.store.GetSubscription(ctx, userID)
	if err != nil {
		s.t.Fatalf("subscription of %d: %v", userID, err)
	}
	if !sub.Live() || time.Until(sub.ExpiresAt) < time.Duration(minDays)*24*time.Hour {
		s.t.Fatalf("subscription of %d is %s until %s, want live for %d days", userID, sub.Status, sub.ExpiresAt, minDays)
	}
	uuid, old := keyUUID(link), keyUUID(oldLink)
	if uuid != sub.VLESSUUID.String() {
		s.t.Fatalf("the page shows key %s, the database holds %s", uuid, sub.VLESSUUID)
	}
	s.eventually("xray serves the new key and not the old one", func() error {
		users, err := s.xray.ListUsers(ctx)
		if err != nil {
			return err
		}
		var found bool
		for _, u := range users {
			switch u.UUID {
			case uuid:
				found = true
			case old:
				return fmt.Errorf("the old key %s is still served as %s", old, u.Email)
			}
		}
		if !found {
			return fmt.Errorf("%s not in xray", uuid)
		}
		return nil
	})
}

// keyUUID is the user id part of a vless://<uuid>@host:port link.
func keyUUID(link string) string {
	id, _, _ := strings.Cut(strings.TrimPrefix(link, "vless://"), "@")
	return id
}

// chromium finds the browser. A CI run must have one; elsewhere the test
// says what is missing and skips.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const hint = "no Chromium on PATH (chromium, chromium-browser, google-chrome or headless-shell); install it with: apt-get install chromium"
	if os.Getenv("CI") == "true" {
		t.Fatal(hint)
	}
	t.Skip(hint)
	return ""
}

// artifactsDir is where screenshots and the browser's log go.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv(artifactsEnv)
	if dir == "" {
		dir = testenv.Dir(t, "artifacts")
	} else {
		dir = filepath.Join(dir, t.Name())
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatalf("artifacts dir: %v", err)
		}
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// browser is one headless Chromium with a fresh profile.
type browser struct {
	ctx       context.Context
	artifacts string
}

func openBrowser(t *testing.T, path, artifacts string) *browser {
	t.Helper()
	logFile, err := os.Create(filepath.Join(artifacts, "chromium.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logFile.Close() })
	// The flags keep Chromium off the network except for the pages the
	// test opens: nothing to reach on a closed network, nothing to wait for.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 900),
		chromedp.CombinedOutput(logFile),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	// The first action starts the browser, which lives as long as the
	// context of that action: it is bounded by a timer, not a derived
	// context.
	stuck := time.AfterFunc(waitLimit, cancel)
	defer stuck.Stop()
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start Chromium %s: %v (log: %s)", path, err, logFile.Name())
	}
	return &browser{ctx: ctx, artifacts: artifacts}
}

// tab opens a tab; the first one is the tab the browser started with.
func (b *browser) tab(t *testing.T, name string) *tab {
	t.Helper()
	ctx, cancel := b.ctx, context.CancelFunc(func() {})
	if name != "chat" {
		ctx, cancel = chromedp.NewContext(b.ctx)
		t.Cleanup(cancel)
	}
	// A new tab opens with its first action and closes when that action's
	// context ends, so this one runs on the tab's own context.
	stuck := time.AfterFunc(waitLimit, cancel)
	err := chromedp.Do(ctx, chromedp.EmulateViewport(1200, 900))
	stuck.Stop()
	if err != nil {
		t.Fatalf("open the %s tab: %v", name, err)
	}
	tb := &tab{t: t, ctx: ctx, name: name, artifacts: b.artifacts}
	// Whatever fails later, the picture of the page is kept.
	t.Cleanup(func() {
		if t.Failed() {
			tb.save("failed-"+name, chromedp.FullScreenshot(100))
		}
	})
	return tb
}

// tab drives one page; every wait is bounded by waitLimit.
type tab struct {
	t         *testing.T
	ctx       context.Context
	name      string
	artifacts string
}

func (tb *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, waitLimit)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.t.Fatalf("%s tab: %s: %v", tb.name, what, err)
	}
}

func (tb *tab) navigate(url string) {
	tb.t.Helper()
	tb.do("open "+url, chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS(`body`)))
}

// poll runs a JavaScript function of one argument until it returns
// something truthy, and returns that.
func poll[T any](tb *tab, what, fn string, arg any) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, waitLimit)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.PollFunction[T](fn,
		chromedp.WithPollingArgs(arg),
		chromedp.WithPollingInterval(50*time.Millisecond),
		chromedp.WithPollingTimeout(waitLimit)))
	if err != nil {
		tb.t.Fatalf("%s tab: %s: %v\npage text:\n%s", tb.name, what, err, tb.text())
	}
	return v
}

// text is what the page shows, for failure messages.
func (tb *tab) text() string {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return s
}

func (tb *tab) attr(sel, name string) string {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, waitLimit)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(sel), name))
	if err != nil || !v.Exists {
		tb.t.Fatalf("%s tab: attribute %s of %s: %v", tb.name, name, sel, err)
	}
	return v.Value
}

// eval evaluates a JavaScript expression once.
func eval[T any](tb *tab, what, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, waitLimit)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.t.Fatalf("%s tab: %s: %v", tb.name, what, err)
	}
	return v
}

func (tb *tab) count(sel string) int {
	tb.t.Helper()
	return eval[int](tb, "count "+sel, `document.querySelectorAll(`+strconv.Quote(sel)+`).length`)
}

func (tb *tab) waitText(what, substr string) {
	tb.t.Helper()
	poll[bool](tb, "wait for "+what, `(s) => document.body.innerText.includes(s)`, substr)
}

// send types into the composer and sends, as a person does.
func (tb *tab) send(text string) {
	tb.t.Helper()
	tb.do("send "+text,
		chromedp.SendKeys(chromedp.CSS(`[data-testid=message-input]`), text),
		chromedp.Click(chromedp.CSS(`[data-testid=send-button]`)),
	)
	poll[bool](tb, "see "+text+" sent", `(s) => [...document.querySelectorAll('[data-from=user] [data-testid=message-text]')].some(e => e.textContent === s)`, text)
}

// press clicks the inline button whose label contains label on the newest
// message that has one, waiting for it to appear (the harness's press).
func (tb *tab) press(label string) {
	tb.t.Helper()
	poll[bool](tb, "press "+label, `(label) => {
		const buttons = [...document.querySelectorAll('[data-testid=inline-button][data-kind=callback_data]')].reverse();
		const b = buttons.find(b => b.textContent.includes(label));
		if (!b) return false;
		b.click();
		return true;
	}`, label)
}

// keyView is a key message as the page shows it.
type keyView struct {
	ID   int    `json:"id"`
	Link string `json:"link"`
	URL  string `json:"url"` // the subscription URL
}

// waitKey waits for a key message ("Your VPN key is ready", a vless:// link
// and a picture) whose link is not old, and returns it.
func (tb *tab) waitKey(what, old string) keyView {
	tb.t.Helper()
	return poll[keyView](tb, "wait for "+what, `(old) => {
		for (const m of [...document.querySelectorAll('[data-testid=message][data-from=bot]')].reverse()) {
			const text = m.querySelector('[data-testid=message-text]');
			if (!text || !m.querySelector('[data-testid=message-photo]') || !text.textContent.includes('Your VPN key is ready')) continue;
			const codes = [...text.querySelectorAll('code')];
			const code = codes.find(c => c.textContent.startsWith('vless://'));
			const url = codes.find(c => c.textContent.includes('/sub/'));
			if (code && code.textContent !== old) return {id: Number(m.dataset.messageId), link: code.textContent, url: url ? url.textContent : ''};
		}
		return null;
	}`, old)
}

// waitInView waits until the message is in the chat's view: the chat
// follows new messages, also when a photo grows one after it arrived. A
// message taller than the view (a key message: QR code, URL and link) is
// followed to its end.
func (tb *tab) waitInView(msgID int) {
	tb.t.Helper()
	poll[bool](tb, fmt.Sprintf("message %d in view", msgID), `(id) => {
		const m = document.getElementById('m-' + id), box = document.getElementById('messages');
		if (!m) return false;
		const r = m.getBoundingClientRect(), v = box.getBoundingClientRect();
		return r.bottom <= v.bottom + 1 && r.bottom >= v.top && (r.top >= v.top - 1 || r.height > v.height);
	}`, msgID)
}

// waitQR waits until the message's picture has loaded: a square QR code,
// not a broken image.
func (tb *tab) waitQR(msgID int) {
	tb.t.Helper()
	poll[bool](tb, fmt.Sprintf("QR code of message %d loaded", msgID), `(id) => {
		const img = document.querySelector('[data-testid=message-photo][data-message-id="' + id + '"]');
		return !!img && img.complete && img.naturalWidth >= 100 && img.naturalWidth === img.naturalHeight;
	}`, msgID)
}

func (tb *tab) keyCount() int {
	tb.t.Helper()
	return eval[int](tb, "count key messages", `[...document.querySelectorAll('[data-testid=message][data-from=bot]')]
		.filter(m => m.querySelector('[data-testid=message-photo]') && m.textContent.includes('Your VPN key is ready')).length`)
}

// payLink waits for the invoice's URL button and returns where it leads.
func (tb *tab) payLink() string {
	tb.t.Helper()
	return poll[string](tb, "the invoice's pay button", `() => {
		const links = [...document.querySelectorAll('[data-testid=inline-button][data-kind=url]')].reverse();
		const a = links.find(a => a.textContent.includes('Pay'));
		return a ? a.href : '';
	}`, nil)
}

// shot saves what the tab shows.
func (tb *tab) shot(name string) []byte {
	tb.t.Helper()
	return tb.save(name, chromedp.CaptureScreenshot())
}

// shotKey saves a taller window, so the whole key message with its QR code
// fits, as the chat shows it at its end.
func (tb *tab) shotKey(name string, msgID int) []byte {
	tb.t.Helper()
	tb.do("make the window taller", chromedp.EmulateViewport(1200, 1250))
	tb.waitInView(msgID)
	tb.do("blur the composer", chromedp.Blur(chromedp.CSS(`[data-testid=message-input]`)))
	return tb.shot(name)
}

func (tb *tab) save(name string, a chromedp.Action[[]byte]) []byte {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, a)
	if err != nil {
		tb.t.Errorf("%s tab: screenshot %s: %v", tb.name, name, err)
		return nil
	}
	path := filepath.Join(tb.artifacts, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.t.Errorf("save %s: %v", path, err)
	}
	return png
}
