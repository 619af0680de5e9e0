package telegram

import (
	"bytes"
	"encoding/json"
	"html"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

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
	key := accesskey.Key{URL: "https://vpn.example/sub/tok", Link: "vless://id@host:443?a=1&b=2#n", Email: "u7"}
	caption := r.WithKeyLinks("en", "<b>Active</b>", key)
	if !strings.HasPrefix(caption, "<b>Active</b>\n\n") || !strings.Contains(caption, "<code>https://vpn.example/sub/tok</code>") ||
		!strings.Contains(caption, "<code>vless://id@host:443?a=1&amp;b=2#n</code>") {
		t.Errorf("caption %q", caption)
	}
	p, err := KeyMessage(7, key, caption, r.BackKeyboard("en"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Filename != "key.png" || len(p.PNG) < 100 || string(p.PNG[1:4]) != "PNG" || p.Caption != caption || len(p.Keyboard) != 1 {
		t.Errorf("key photo %q %d bytes caption %q keyboard %+v", p.Filename, len(p.PNG), p.Caption, p.Keyboard)
	}
	// The picture is the subscription URL's QR code (the encoder is
	// deterministic), not the link's: a scanning app keeps itself updated.
	if want, _ := accesskey.QR(key.URL); !bytes.Equal(p.PNG, want) {
		t.Error("the key photo is not the QR code of the subscription URL")
	}
}

// TestKeyCaptionFitsAPhoto: a key message with a real-sized link and URL,
// in every language, stays within Telegram's 1024 characters of caption
// (counted as Telegram does, after the HTML is parsed).
func TestKeyCaptionFitsAPhoto(t *testing.T) {
	r := renderer(t)
	key := accesskey.Key{
		URL: "https://subscription.vpn-service.example.com/sub/" + strings.Repeat("x", 43),
		Link: "vless://01234567-89ab-cdef-0123-456789abcdef@server-01.vpn-service.example.com:443?encryption=none&flow=xtls-rprx-vision" +
			"&fp=chrome&pbk=" + strings.Repeat("k", 43) + "&security=reality&sid=0123456789abcdef&sni=www.microsoft.com&type=tcp#vpnflow-7000000001",
		Email: "tg7000000001-3@vpnflow",
	}
	for _, lang := range i18n.Languages() {
		caption := r.KeyCaption(lang, "365 days", time.Date(2027, 12, 31, 0, 0, 0, 0, time.UTC), key)
		if !strings.Contains(caption, "<code>"+key.URL+"</code>") {
			t.Errorf("%s: caption lacks the copyable URL: %q", lang, caption)
		}
		plain := html.UnescapeString(regexp.MustCompile(`<[^>]*>`).ReplaceAllString(caption, ""))
		n := utf8.RuneCountInString(plain)
		t.Logf("%s: %d characters", lang, n)
		if n > 1024 {
			t.Errorf("%s: caption is %d characters, over Telegram's 1024", lang, n)
		}
	}
}
