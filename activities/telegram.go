package activities

import (
	"go.temporal.io/sdk/activity"

	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"

	"vpnflow/internal/accesskey"
	"vpnflow/internal/i18n"
	"vpnflow/internal/notice"
	"vpnflow/internal/shop"
	"vpnflow/internal/store"
	"vpnflow/internal/telegram"
)

// Notify renders a notice in the user's language and sends it. The language
// is read first, in its own short query.
//
// A notice that replaces a message (the bot's "working on it") is an
// edit; if Telegram refuses the edit (the message is gone, or a retry
// finds it already edited) the notice is sent as a new message instead,
// unless the refusal says the message already reads so.
func (a *Activities) Notify(ctx context.Context, n notice.Notice) error {
	ctx, release, err := a.admitTelegram(ctx)
	if err != nil {
		return err
	}
	defer release()
	return a.telegramError(ctx, n.UserID, "notify", a.deliverNotice(ctx, a.language(ctx, n.UserID), n, n.UserID))
}

// deliverNotice renders n in lang and sends it to userID (an edit, when
// it replaces a message); the error is Telegram's, wrapped.
func (a *Activities) deliverNotice(ctx context.Context, lang string, n notice.Notice, userID int64) error {
	if n.UserID == 0 {
		n.UserID = userID
	}
	msg := a.render().Notice(lang, n)
	if n.Replace != 0 {
		err := a.Telegram.Edit(ctx, n.Replace, msg)
		switch {
		case err == nil, telegram.Classify(err).Kind == telegram.NotModified:
			return nil
		case !telegram.Classify(err).Permanent():
			return fmt.Errorf("edit into %s: %w", n.Message, err)
		}
		activity.GetLogger(ctx).Info("edit refused; sending the notice as a new message", "message", n.Message, "error", err)
	}
	if _, err := a.Telegram.Send(ctx, msg); err != nil {
		return fmt.Errorf("send %s: %w", n.Message, err)
	}
	return nil
}

// SendInvoiceMessage sends a Crypto Pay invoice as a message with a pay button.
func (a *Activities) SendInvoiceMessage(ctx context.Context, in InvoiceMessage) error {
	lang := a.language(ctx, in.UserID)
	_, err := a.Telegram.Send(ctx, a.render().InvoiceMessage(lang, telegram.CryptoPayInvoice{
		ChatID: in.UserID, TopUp: in.Kind == shop.KindTopUp, PlanID: in.PlanID,
		Amount: in.Amount, Currency: in.Currency, TTL: in.TTL, PayURL: in.PayURL,
	}))
	return a.telegramError(ctx, in.UserID, "send invoice "+in.PurchaseID, err)
}

// SendStarsInvoice sends a Telegram Stars invoice; its payload is the
// purchase id, which the bot checks at pre-checkout.
func (a *Activities) SendStarsInvoice(ctx context.Context, in StarsInvoice) error {
	lang := a.language(ctx, in.UserID)
	// The start parameter is set, so that a forwarded copy of the invoice
	// has a link to the bot (/start pay_<id>, which opens the menu)
	// instead of a Pay button: only the message the bot sent can be paid.
	inv := a.render().StarsInvoiceFor(lang, in.UserID, in.PlanID, in.Days, in.Stars, in.PurchaseID, shop.StarsStartParameter(in.PurchaseID))
	_, err := a.Telegram.SendStarsInvoice(ctx, inv)
	return a.telegramError(ctx, in.UserID, "send stars invoice "+in.PurchaseID, err)
}

// KeyReasonMoved is the key message of a user moved to another node.
const KeyReasonMoved = "moved"

// SendKey sends the user's current key: the vless:// link as copyable text
// and its QR code, in one photo message.
func (a *Activities) SendKey(ctx context.Context, in SendKeyInput) error {
	lang := a.language(ctx, in.UserID)
	sub, err := a.Store.GetSubscription(ctx, in.UserID)
	if err != nil {
		return storeError(fmt.Sprintf("read key of user %d", in.UserID), err)
	}
	node, err := a.Store.GetNode(ctx, sub.NodeID)
	if err != nil {
		return storeError(fmt.Sprintf("read node of user %d", in.UserID), err)
	}
	key, err := accesskey.Build(a.Config, node, sub)
	if err != nil {
		return permanent(ErrConfiguration, err)
	}
	r := a.render()
	caption := r.KeyCaption(lang, a.planLabel(lang, sub), sub.ExpiresAt, key)
	if in.Reason == KeyReasonMoved {
		// One message says what happened and carries the new link: the
		// subscription URL is unchanged and updates itself.
		caption = r.WithKeyLinks(lang, a.Texts.T(lang, "key_moved", map[string]any{"Server": node.Name}), key)
	}
	photo, err := telegram.KeyMessage(in.UserID, key, caption, r.Buttons(lang, []notice.Button{notice.ButtonMenu}))
	if err != nil {
		return permanent("Invalid", err)
	}
	err = a.Telegram.SendPhoto(ctx, photo)
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

// render renders in the shop's configuration.
func (a *Activities) render() telegram.Renderer {
	return telegram.NewRenderer(a.Texts, a.Config)
}

// errRateLimited is the error type of a send Telegram refused with 429;
// its NextRetryDelay is Telegram's flood wait plus a second.
const errRateLimited = "RateLimited"

// telegramError turns a Bot API failure into the activity's error: a user
// who blocked the bot is recorded and not retried; a 429 is retried after
// Telegram's retry_after; a request Telegram refuses is not retried.
func (a *Activities) telegramError(ctx context.Context, userID int64, op string, err error) error {
	if err == nil {
		return nil
	}
	err = fmt.Errorf("%s to user %d: %w", op, userID, err)
	f := telegram.Classify(err)
	switch {
	case f.Kind == telegram.RateLimited:
		return temporal.NewApplicationErrorWithOptions(err.Error(), errRateLimited, temporal.ApplicationErrorOptions{
			Cause: err, NextRetryDelay: f.RetryAfter + time.Second,
		})
	case f.Kind == telegram.Blocked:
		if serr := a.Store.SetBotBlocked(ctx, userID, true); serr != nil {
			return fmt.Errorf("%w (and recording the block failed: %v)", err, serr)
		}
		return permanent(ErrUserBlockedBot, err)
	case f.Permanent():
		return permanent("Telegram", err)
	}
	return err
}
