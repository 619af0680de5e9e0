package telegram

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-telegram/bot/models"

	"vpnflow/internal/accesskey"
	"vpnflow/internal/callback"
	"vpnflow/internal/i18n"
	"vpnflow/internal/notice"
)

func renderer(t *testing.T) Renderer {
	t.Helper()
	texts, err := i18n.New()
	if err != nil {
		t.Fatal(err)
	}
	return Renderer{Texts: texts, Currency: "RUB", ReferralMinor: 5000}
}

func markupJSON(t *testing.T, m models.ReplyMarkup) string {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestNoticeRendering: a notice's text comes from the catalogue with its
// values formatted, and its keyboard is the library's inline keyboard of
// the named buttons in one row.
func TestNoticeRendering(t *testing.T) {
	r := renderer(t)
	m := r.Notice("en", notice.AutoRenewShortBalance(15000, "RUB", 2000))
	if m.Text != r.Texts.T("en", "autorenew_short_balance", map[string]any{
		"Amount": i18n.FormatMoney("en", 15000, "RUB"), "Price": i18n.FormatMoney("en", 15000, "RUB"),
		"Balance": i18n.FormatMoney("en", 2000, "RUB"),
	}) || m.Plain || m.NoPreview {
		t.Errorf("text %q plain %v no-preview %v", m.Text, m.Plain, m.NoPreview)
	}
	want := &models.InlineKeyboardMarkup{InlineKeyboard: [][]models.InlineKeyboardButton{{
		{Text: r.Texts.T("en", "btn_topup", nil), CallbackData: callback.MustEncode(callback.Data{Action: callback.TopUp})},
	}}}
	if got := markupJSON(t, m.Keyboard.markup()); got != markupJSON(t, want) {
		t.Errorf("keyboard %s, want %s", got, markupJSON(t, want))
	}
	if kb := r.Notice("en", notice.Banned()).Keyboard.markup(); kb != nil {
		t.Errorf("a notice without buttons has keyboard %#v", kb)
	}
}

// TestInvoiceAndKeyMessages: the pay link is a URL button above the way
// back; the key message is the link's QR code with the caption given.
func TestInvoiceAndKeyMessages(t *testing.T) {
	r := renderer(t)
	m := r.InvoiceMessage("ru", CryptoPayInvoice{ChatID: 7, TopUp: true, Amount: 50000, Currency: "RUB", TTL: time.Hour, PayURL: "https://pay.example/x"})
	if len(m.Keyboard) != 2 || m.Keyboard[0][0].URL != "https://pay.example/x" || m.Keyboard[1][0].CallbackData == "" || m.ChatID != 7 {
		t.Errorf("invoice keyboard %+v", m.Keyboard)
	}
	key := accesskey.Key{Link: "vless://id@host:443?a=1&b=2#n", Email: "u7"}
	caption := WithKeyLink("<b>Active</b>", key)
	if !strings.HasSuffix(caption, "\n\n<code>vless://id@host:443?a=1&amp;b=2#n</code>") {
		t.Errorf("caption %q", caption)
	}
	p, err := KeyMessage(7, key, caption, r.BackKeyboard("en"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Filename != "key.png" || len(p.PNG) < 100 || string(p.PNG[1:4]) != "PNG" || p.Caption != caption || len(p.Keyboard) != 1 {
		t.Errorf("key photo %q %d bytes caption %q keyboard %+v", p.Filename, len(p.PNG), p.Caption, p.Keyboard)
	}
}
