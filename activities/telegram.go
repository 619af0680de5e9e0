package activities

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
	"go.temporal.io/sdk/temporal"

	"vpnflow/internal/accesskey"
	"vpnflow/internal/callback"
	"vpnflow/internal/i18n"
	"vpnflow/internal/shop"
	"vpnflow/internal/store"
)

// Notify renders a notice in the user's language and sends it. The language
// is read first, in its own short query.
func (a *Activities) Notify(ctx context.Context, n Notice) error {
	lang := a.language(ctx, n.UserID)
	data := map[string]any{
		"Plan":     n.PlanID,
		"Amount":   i18n.FormatMoney(lang, n.Amount, n.Currency),
		"Price":    i18n.FormatMoney(lang, n.Amount, n.Currency),
		"Balance":  i18n.FormatMoney(lang, n.Balance, a.Config.Currency),
		"Bonus":    i18n.FormatMoney(lang, cmp.Or(n.Bonus, a.Config.ReferralMinor), a.Config.Currency),
		"Expires":  i18n.FormatDate(lang, n.Expires),
		"Left":     i18n.FormatDuration(lang, n.Left.Round(time.Minute)),
		"Duration": i18n.FormatDuration(lang, n.Left),
	}
	_, err := a.Telegram.SendMessage(ctx, &bot.SendMessageParams{
		ChatID:      n.UserID,
		Text:        a.Texts.T(lang, n.Message, data),
		ParseMode:   models.ParseModeHTML,
		ReplyMarkup: a.buttons(lang, n.Buttons),
	})
	return a.telegramError(ctx, n.UserID, "send "+n.Message, err)
}

// SendInvoiceMessage sends a Crypto Pay invoice as a message with a pay button.
func (a *Activities) SendInvoiceMessage(ctx context.Context, in InvoiceMessage) error {
	lang := a.language(ctx, in.UserID)
	amount := i18n.FormatMoney(lang, in.Amount, in.Currency)
	id := "invoice_cryptopay"
	if in.Kind == shop.KindTopUp {
		id = "invoice_topup"
	}
	text := a.Texts.T(lang, id, map[string]any{"Plan": in.PlanID, "Amount": amount, "TTL": i18n.FormatDuration(lang, in.TTL)})
	_, err := a.Telegram.SendMessage(ctx, &bot.SendMessageParams{
		ChatID: in.UserID, Text: text, ParseMode: models.ParseModeHTML,
		ReplyMarkup: &models.InlineKeyboardMarkup{InlineKeyboard: [][]models.InlineKeyboardButton{
			{{Text: a.Texts.T(lang, "btn_pay_link", map[string]any{"Amount": amount}), URL: in.PayURL}},
			{{Text: a.Texts.T(lang, "btn_back", nil), CallbackData: callback.MustEncode(callback.Data{Action: callback.Menu})}},
		}},
	})
	return a.telegramError(ctx, in.UserID, "send invoice "+in.PurchaseID, err)
}

// SendStarsInvoice sends a Telegram Stars invoice; its payload is the
// purchase id, which the bot checks at pre-checkout.
func (a *Activities) SendStarsInvoice(ctx context.Context, in StarsInvoice) error {
	lang := a.language(ctx, in.UserID)
	data := map[string]any{"Plan": in.PlanID, "Duration": i18n.FormatDuration(lang, time.Duration(in.Days)*24*time.Hour)}
	_, err := a.Telegram.SendInvoice(ctx, &bot.SendInvoiceParams{
		ChatID:      in.UserID,
		Title:       a.Texts.T(lang, "invoice_stars_title", data),
		Description: a.Texts.T(lang, "invoice_stars_description", data),
		Payload:     in.PurchaseID,
		Currency:    "XTR",
		Prices:      []models.LabeledPrice{{Label: in.PlanID, Amount: int(in.Stars)}},
		// Set, so that a forwarded copy of the invoice has a link to the
		// bot (/start pay_<id>, which opens the menu) instead of a Pay
		// button: only the message the bot sent can be paid.
		StartParameter: StarsStartParameter(in.PurchaseID),
	})
	return a.telegramError(ctx, in.UserID, "send stars invoice "+in.PurchaseID, err)
}

// StarsStartParameter is the start_parameter of a purchase's Stars
// invoice: unique per purchase, within Telegram's 1-64 characters of
// A-Z, a-z, 0-9, _ and -.
func StarsStartParameter(purchaseID string) string {
	return "pay_" + strings.ReplaceAll(purchaseID, "-", "")
}

// SendKey sends the user's current key: the vless:// link as copyable text
// and its QR code, in one photo message.
func (a *Activities) SendKey(ctx context.Context, in SendKeyInput) error {
	lang := a.language(ctx, in.UserID)
	sub, err := a.Store.GetSubscription(ctx, in.UserID)
	if err != nil {
		return storeError(fmt.Sprintf("read key of user %d", in.UserID), err)
	}
	key, err := accesskey.Build(a.Config, sub)
	if err != nil {
		return permanent(ErrConfiguration, err)
	}
	png, err := key.QR()
	if err != nil {
		return permanent("Invalid", err)
	}
	_, err = a.Telegram.SendPhoto(ctx, &bot.SendPhotoParams{
		ChatID: in.UserID,
		Photo:  &models.InputFileUpload{Filename: "key.png", Data: bytes.NewReader(png)},
		Caption: a.Texts.T(lang, "key_message", map[string]any{
			"Plan": a.planLabel(lang, sub), "Expires": i18n.FormatDate(lang, sub.ExpiresAt), "Link": key.Link, "Email": key.Email,
		}),
		ParseMode:   models.ParseModeHTML,
		ReplyMarkup: a.buttons(lang, []Button{ButtonMenu}),
	})
	return a.telegramError(ctx, in.UserID, "send key", err)
}

// planLabel names the subscription's plan for people: "Trial", or the
// plan's length ("30 days") rather than its id.
func (a *Activities) planLabel(lang string, sub store.Subscription) string {
	if sub.IsTrial {
		return a.Texts.T(lang, "status_trial", nil)
	}
	if p, ok := a.Config.Plan(sub.PlanID); ok {
		return i18n.FormatDuration(lang, time.Duration(p.Days)*24*time.Hour)
	}
	return sub.PlanID
}

func (a *Activities) language(ctx context.Context, userID int64) string {
	u, err := a.Store.GetUser(ctx, userID)
	if err != nil {
		return store.DefaultLanguage
	}
	return u.Language
}

func (a *Activities) buttons(lang string, names []Button) models.ReplyMarkup {
	if len(names) == 0 {
		return nil
	}
	var row []models.InlineKeyboardButton
	for _, b := range names {
		switch b {
		case ButtonMenu:
			row = append(row, models.InlineKeyboardButton{Text: a.Texts.T(lang, "btn_back", nil), CallbackData: callback.MustEncode(callback.Data{Action: callback.Menu})})
		case ButtonRenew:
			row = append(row, models.InlineKeyboardButton{Text: a.Texts.T(lang, "btn_renew", nil), CallbackData: callback.MustEncode(callback.Data{Action: callback.Renew})})
		case ButtonTopUp:
			row = append(row, models.InlineKeyboardButton{Text: a.Texts.T(lang, "btn_topup", nil), CallbackData: callback.MustEncode(callback.Data{Action: callback.TopUp})})
		}
	}
	return &models.InlineKeyboardMarkup{InlineKeyboard: [][]models.InlineKeyboardButton{row}}
}

// telegramError classifies a Bot API failure: a user who blocked the bot is
// recorded and not retried; a 429 is retried after Telegram's retry_after.
func (a *Activities) telegramError(ctx context.Context, userID int64, op string, err error) error {
	if err == nil {
		return nil
	}
	err = fmt.Errorf("%s to user %d: %w", op, userID, err)
	var tooMany *bot.TooManyRequestsError
	switch {
	case errors.As(err, &tooMany):
		return temporal.NewApplicationErrorWithOptions(err.Error(), "RateLimited", temporal.ApplicationErrorOptions{
			Cause: err, NextRetryDelay: time.Duration(tooMany.RetryAfter+1) * time.Second,
		})
	case errors.Is(err, bot.ErrorForbidden):
		if serr := a.Store.SetBotBlocked(ctx, userID, true); serr != nil {
			return fmt.Errorf("%w (and recording the block failed: %v)", err, serr)
		}
		return permanent(ErrUserBlockedBot, err)
	case errors.Is(err, bot.ErrorBadRequest), errors.Is(err, bot.ErrorUnauthorized), errors.Is(err, bot.ErrorNotFound):
		return permanent("Telegram", err)
	}
	return err
}
