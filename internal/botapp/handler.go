package botapp

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"time"
	"unicode/utf8"

	"vpnflow/internal/callback"
	"vpnflow/internal/i18n"
	"vpnflow/internal/store"
	"vpnflow/internal/telegram"
)

// maxCommandText bounds what the bot reads of a message; Telegram allows
// 4096 characters, and no command of ours needs more.
const maxCommandText = 4096

// handle is the single entry point for updates. Payment updates are served
// first and never rate-limited: a payment must never be dropped.
func (a *App) handle(ctx context.Context, u telegram.Update) {
	defer func() {
		if r := recover(); r != nil {
			a.log.Error("handler panic", "panic", r, "update_id", u.ID, "stack", string(debug.Stack()))
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ctx, stopClock := a.startAnswerClock(ctx, updateKind(u))
	defer stopClock()

	switch {
	case u.PreCheckoutQuery != nil:
		a.preCheckout(ctx, u.PreCheckoutQuery)
		return
	case u.Message != nil && u.Message.SuccessfulPayment != nil:
		a.successfulPayment(ctx, u.Message)
		return
	}

	from := sender(u)
	if from == nil || from.IsBot {
		return
	}
	// Admins are trusted and type commands in bursts; everyone else gets a
	// token bucket of their own.
	if ok, warn := a.limiter.allow(from.ID, time.Now()); !ok && !a.cfg.IsAdmin(from.ID) {
		a.log.Info("rate limited", "user_id", from.ID)
		if warn {
			a.reply(ctx, from.ID, a.texts.T(a.langOf(ctx, from), "rate_limited", nil), nil)
		}
		if u.CallbackQuery != nil {
			a.answer(ctx, u.CallbackQuery.ID, "")
		}
		return
	}
	switch {
	case u.Message != nil:
		a.message(ctx, u.Message)
	case u.CallbackQuery != nil:
		a.callback(ctx, u.CallbackQuery)
	}
}

func updateKind(u telegram.Update) string {
	switch {
	case u.PreCheckoutQuery != nil:
		return updatePreCheckout
	case u.Message != nil && u.Message.SuccessfulPayment != nil:
		return updatePayment
	case u.CallbackQuery != nil:
		return updateButton
	}
	return updateMessage
}

func sender(u telegram.Update) *telegram.User {
	switch {
	case u.Message != nil:
		return u.Message.From
	case u.CallbackQuery != nil:
		return &u.CallbackQuery.From
	}
	return nil
}

// message handles text and commands in private chats.
func (a *App) message(ctx context.Context, m *telegram.Incoming) {
	if !m.Private() {
		return
	}
	text := strings.TrimSpace(m.Text)
	if utf8.RuneCountInString(text) > maxCommandText {
		a.log.Warn("oversize message refused", "user_id", m.From.ID, "runes", utf8.RuneCountInString(text))
		a.reply(ctx, m.From.ID, a.texts.T(a.langOf(ctx, m.From), "message_too_long", nil), nil)
		return
	}
	cmd, args := splitCommand(text)
	nameAnswer(ctx, cmd)
	// /start is the only command that registers a user with a referrer.
	if cmd == "start" {
		a.start(ctx, m.From, args)
		return
	}
	user, err := a.user(ctx, m.From)
	if err != nil {
		a.fail(ctx, m.From.ID, "load user", err)
		return
	}
	if a.cfg.IsAdmin(m.From.ID) {
		if handled := a.admin(ctx, user, cmd, args); handled {
			return
		}
	} else if isAdminCommand(cmd) {
		a.log.Warn("admin command from a non-admin", "user_id", m.From.ID, "command", cmd)
	}
	switch cmd {
	case "menu":
		a.showMenu(ctx, user, 0)
	case "buy":
		if !a.askRegion(ctx, user, callback.Buy, 0) {
			a.showPlans(ctx, user, 0)
		}
	case "sub", "subscription":
		a.showSubscription(ctx, user)
	case "trial":
		if !a.askRegion(ctx, user, callback.Trial, 0) {
			a.startTrial(ctx, user)
		}
	case "balance":
		a.showBalance(ctx, user, 0)
	case "invite":
		a.showInvite(ctx, user, 0)
	case "help":
		a.reply(ctx, user.TelegramID, a.texts.T(user.Language, "help_text", nil), a.render.BackKeyboard(user.Language))
	case "lang", "language":
		a.showLanguages(ctx, user, 0)
	case "promo":
		a.promo(ctx, user, args)
	case "sandbox_expire":
		a.sandboxExpire(ctx, user, args)
	default:
		if cmd != "" {
			a.reply(ctx, user.TelegramID, a.texts.T(user.Language, "unknown_command", nil), nil)
		}
		a.showMenu(ctx, user, 0)
	}
}

// splitCommand reads "/cmd@bot args" into ("cmd", "args"); plain text gives
// ("", text).
func splitCommand(text string) (string, string) {
	if !strings.HasPrefix(text, "/") {
		return "", text
	}
	head, args, _ := strings.Cut(text[1:], " ")
	head, _, _ = strings.Cut(head, "@")
	return strings.ToLower(head), strings.TrimSpace(args)
}

// callback handles inline-button presses. Every press is answered, and a
// malformed or stale button gets a polite note and a fresh menu.
//
// A press that parses is answered before anything else is read, so the
// button stops spinning at once even when the database is slow; only a
// stale button's note waits for the user's language.
func (a *App) callback(ctx context.Context, q *telegram.CallbackQuery) {
	msgID := q.MessageID
	d, perr := callback.Parse(q.Data)
	if perr == nil {
		a.answer(ctx, q.ID, "")
	}
	user, err := a.user(ctx, &q.From)
	if err != nil {
		if perr != nil {
			a.answer(ctx, q.ID, "")
		}
		a.fail(ctx, q.From.ID, "load user", err)
		return
	}
	if perr != nil {
		a.log.Warn("bad callback data", "user_id", q.From.ID, "data", truncate(q.Data, 80), "error", perr)
		a.answer(ctx, q.ID, a.texts.T(user.Language, "stale_button", nil))
		a.showMenu(ctx, user, 0)
		return
	}
	switch d.Action {
	case callback.Menu:
		a.showMenu(ctx, user, msgID)
	case callback.Buy:
		if !a.askRegion(ctx, user, callback.Buy, msgID) {
			a.showPlans(ctx, user, msgID)
		}
	case callback.Renew:
		// Renew is offered on notices (reminders, expiry): keep the notice
		// in the chat and answer below it.
		a.showPlans(ctx, user, 0)
	case callback.Plan:
		a.showPaymentMethods(ctx, user, d.Plan, msgID)
	case callback.Pay:
		a.pay(ctx, user, d.Plan, d.Method, msgID)
	case callback.Trial:
		if !a.askRegion(ctx, user, callback.Trial, msgID) {
			a.startTrial(ctx, user)
		}
	case callback.Region:
		a.chooseRegion(ctx, user, d, msgID)
	case callback.MySub:
		a.showSubscription(ctx, user)
	case callback.Balance:
		a.showBalance(ctx, user, msgID)
	case callback.TopUp:
		if d.Amount == 0 {
			a.showBalance(ctx, user, msgID)
		} else {
			a.topUp(ctx, user, d.Amount, msgID)
		}
	case callback.Invite:
		a.showInvite(ctx, user, msgID)
	case callback.Help:
		a.edit(ctx, user.TelegramID, msgID, a.texts.T(user.Language, "help_text", nil), a.render.BackKeyboard(user.Language))
	case callback.Language:
		a.showLanguages(ctx, user, msgID)
	case callback.SetLang:
		a.setLanguage(ctx, user, d.Lang, msgID)
	case callback.Reissue:
		a.reissue(ctx, user)
	case callback.AutoRenew:
		a.setAutoRenew(ctx, user, d.On)
	default:
		a.showMenu(ctx, user, msgID)
	}
}

// user loads the sender's profile, registering someone who pressed a button
// without /start first. A press on the menu of a /start whose registration
// is still in flight waits for it, so the referrer it carries is kept.
func (a *App) user(ctx context.Context, from *telegram.User) (store.User, error) {
	a.registrations.wait(ctx, from.ID)
	u, err := a.store.GetUser(ctx, from.ID)
	if errors.Is(err, store.ErrNotFound) {
		u, _, err = a.store.UpsertUser(ctx, store.UpsertUserParams{
			TelegramID: from.ID, Username: from.Username, FirstName: from.FirstName, Language: from.LanguageCode,
		})
	}
	if err != nil {
		return store.User{}, fmt.Errorf("user %d: %w", from.ID, err)
	}
	return u, nil
}

// dbLookupTimeout bounds the read langOf makes, whatever context it is
// given: the Stars payment path hands it one without a deadline, and a
// language is not worth waiting for.
const dbLookupTimeout = 3 * time.Second

// langOf is the user's chosen language, or Telegram's language code when
// the database does not answer in time.
func (a *App) langOf(ctx context.Context, from *telegram.User) string {
	ctx, cancel := context.WithTimeout(ctx, dbLookupTimeout)
	defer cancel()
	if u, err := a.store.GetUser(ctx, from.ID); err == nil {
		return u.Language
	}
	return i18n.Normalize(from.LanguageCode)
}

// reply sends a message; failures are logged (the user may have blocked
// the bot) and never stop the handler.
func (a *App) reply(ctx context.Context, chatID int64, text string, kb telegram.Keyboard) {
	a.answering(ctx)
	ctx, cancel := replyContext(ctx)
	defer cancel()
	if _, err := a.tg.Send(ctx, telegram.Message{ChatID: chatID, Text: text, Keyboard: kb, NoPreview: true}); err != nil {
		a.log.Warn("send message", "user_id", chatID, "error", err)
	}
}

// edit replaces a menu message in place (msgID 0 sends a new one), so
// navigating menus does not flood the chat.
func (a *App) edit(ctx context.Context, chatID int64, msgID int, text string, kb telegram.Keyboard) {
	if msgID == 0 {
		a.reply(ctx, chatID, text, kb)
		return
	}
	a.answering(ctx)
	rctx, cancel := replyContext(ctx)
	err := a.tg.Edit(rctx, msgID, telegram.Message{ChatID: chatID, Text: text, Keyboard: kb, NoPreview: true})
	cancel()
	if err != nil {
		// A photo message cannot be edited into text, and an identical edit
		// is refused: send a fresh message instead.
		a.reply(ctx, chatID, text, kb)
	}
}

func (a *App) answer(ctx context.Context, id, text string) {
	a.answering(ctx)
	ctx, cancel := replyContext(ctx)
	defer cancel()
	if err := a.tg.AnswerCallback(ctx, id, text); err != nil {
		a.log.Warn("answer callback", "error", err)
	}
}

// fail logs an error and tells the user something went wrong, without
// details.
func (a *App) fail(ctx context.Context, userID int64, what string, err error) {
	a.log.Error(what, "user_id", userID, "error", err)
	a.reply(ctx, userID, a.texts.T(a.langOf(ctx, &telegram.User{ID: userID}), "error_generic", nil), a.render.BackKeyboard(store.DefaultLanguage))
}

func secretEqual(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
