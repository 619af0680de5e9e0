package telegram

import (
	"cmp"
	"time"

	"vpnflow/internal/accesskey"
	"vpnflow/internal/callback"
	"vpnflow/internal/config"
	"vpnflow/internal/i18n"
	"vpnflow/internal/notice"
)

// Renderer turns what the shop says into messages in the user's
// language: notices, keyboards, invoices and the key message. The bot and
// the worker render through it, so a user sees the same thing from both.
type Renderer struct {
	Texts *i18n.Catalog
	// Currency is the shop's: balances and referral bonuses are in it.
	Currency string
	// ReferralMinor is the referral bonus a notice shows when it names none.
	ReferralMinor int64
}

// NewRenderer renders with the catalogue and the shop's configuration.
func NewRenderer(texts *i18n.Catalog, cfg config.Config) Renderer {
	return Renderer{Texts: texts, Currency: cfg.Currency, ReferralMinor: cfg.ReferralMinor}
}

// Button is a callback button labelled with the catalogue's textID.
func (r Renderer) Button(lang, textID string, d callback.Data) Button {
	return Button{Text: r.Texts.T(lang, textID, nil), CallbackData: callback.MustEncode(d)}
}

// BackKeyboard is the one-button keyboard back to the menu.
func (r Renderer) BackKeyboard(lang string) Keyboard {
	return Keyboard{{r.Button(lang, "btn_back", callback.Data{Action: callback.Menu})}}
}

// Buttons is a notice's keyboard: the named buttons in one row; none
// gives no keyboard.
func (r Renderer) Buttons(lang string, names []notice.Button) Keyboard {
	if len(names) == 0 {
		return nil
	}
	var row []Button
	for _, b := range names {
		switch b {
		case notice.ButtonMenu:
			row = append(row, r.Button(lang, "btn_back", callback.Data{Action: callback.Menu}))
		case notice.ButtonRenew:
			row = append(row, r.Button(lang, "btn_renew", callback.Data{Action: callback.Renew}))
		case notice.ButtonTopUp:
			row = append(row, r.Button(lang, "btn_topup", callback.Data{Action: callback.TopUp}))
		}
	}
	return Keyboard{row}
}

// Notice renders a notice for its user in lang.
func (r Renderer) Notice(lang string, n notice.Notice) Message {
	data := map[string]any{
		"Plan":     n.PlanID,
		"Amount":   i18n.FormatMoney(lang, n.Amount, n.Currency),
		"Price":    i18n.FormatMoney(lang, n.Amount, n.Currency),
		"Balance":  i18n.FormatMoney(lang, n.Balance, r.Currency),
		"Bonus":    i18n.FormatMoney(lang, cmp.Or(n.Bonus, r.ReferralMinor), r.Currency),
		"Expires":  i18n.FormatDate(lang, n.Expires),
		"Left":     i18n.FormatDuration(lang, n.Left.Round(time.Minute)),
		"Duration": i18n.FormatDuration(lang, n.Left),
		"Wait":     i18n.FormatDuration(lang, n.Left),
	}
	return Message{ChatID: n.UserID, Text: r.Texts.T(lang, n.Message, data), Keyboard: r.Buttons(lang, n.Buttons)}
}

// CryptoPayInvoice is the message with a Crypto Pay invoice's pay link,
// for a plan or (topUp) a balance top-up.
type CryptoPayInvoice struct {
	ChatID   int64
	TopUp    bool
	PlanID   string
	Amount   int64
	Currency string
	TTL      time.Duration
	PayURL   string
}

// InvoiceMessage renders a Crypto Pay invoice: what it pays, how long it
// is valid, a pay button and a way back.
func (r Renderer) InvoiceMessage(lang string, in CryptoPayInvoice) Message {
	amount := i18n.FormatMoney(lang, in.Amount, in.Currency)
	id := "invoice_cryptopay"
	if in.TopUp {
		id = "invoice_topup"
	}
	return Message{
		ChatID: in.ChatID,
		Text:   r.Texts.T(lang, id, map[string]any{"Plan": in.PlanID, "Amount": amount, "TTL": i18n.FormatDuration(lang, in.TTL)}),
		Keyboard: Keyboard{
			{{Text: r.Texts.T(lang, "btn_pay_link", map[string]any{"Amount": amount}), URL: in.PayURL}},
			{r.Button(lang, "btn_back", callback.Data{Action: callback.Menu})},
		},
	}
}

// StarsInvoiceFor renders a Stars invoice for days of plan; payload comes
// back at pre-checkout.
func (r Renderer) StarsInvoiceFor(lang string, chatID int64, planID string, days int, stars int64, payload, startParameter string) StarsInvoice {
	data := map[string]any{"Plan": planID, "Duration": i18n.FormatDuration(lang, time.Duration(days)*24*time.Hour)}
	return StarsInvoice{
		ChatID:         chatID,
		Title:          r.Texts.T(lang, "invoice_stars_title", data),
		Description:    r.Texts.T(lang, "invoice_stars_description", data),
		Payload:        payload,
		Label:          planID,
		Stars:          int(stars),
		StartParameter: startParameter,
	}
}

// KeyCaption is the caption of the key message the worker sends when a
// key is issued or extended: plan, expiry, the subscription URL, the link
// and the key's name.
func (r Renderer) KeyCaption(lang, plan string, expires time.Time, key accesskey.Key) string {
	return r.Texts.T(lang, "key_message", map[string]any{
		"Plan": plan, "Expires": i18n.FormatDate(lang, expires), "URL": key.URL, "Link": key.Link, "Email": key.Email,
	})
}

// WithKeyLinks appends the subscription URL and the key's link, each
// copyable, to an HTML text.
func (r Renderer) WithKeyLinks(lang, text string, key accesskey.Key) string {
	return text + "\n\n" + r.Texts.T(lang, "sub_links", map[string]any{"URL": key.URL, "Link": key.Link})
}

// KeyMessage is the key message: the subscription URL's QR code as a
// photo, with the caption and keyboard given.
func KeyMessage(chatID int64, key accesskey.Key, caption string, kb Keyboard) (Photo, error) {
	png, err := key.QR()
	if err != nil {
		return Photo{}, err
	}
	return Photo{ChatID: chatID, Filename: "key.png", PNG: png, Caption: caption, Keyboard: kb}, nil
}
