package botapp

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"

	"vpnflow/internal/i18n"
	"vpnflow/internal/shop"
	"vpnflow/internal/store"
	"vpnflow/internal/telegram"
)

// A request a workflow carries out (the trial, a new key, auto-renewal) is
// handed over, never waited for: the bot answers at once with a "working
// on it" message, gives the workflow the request and that message's id
// (shop.Reply), and is done. The workflow edits the message into the
// outcome when it has one, however long that takes and whether or not
// this bot is still running. The bot itself says only what it learns
// while handing over: a refusal, or that the request could not be handed
// over at all — never "still working" for something nobody is doing.

const (
	// handOverTimeout bounds handing a request to Temporal, which returns
	// once the workflow has accepted it.
	handOverTimeout = 10 * time.Second
	// replyTimeout bounds each answer the bot sends, on a deadline of its
	// own: an answer is never lost because the work before it was slow.
	replyTimeout = 10 * time.Second
)

// replyContext is ctx without its deadline or cancellation, bounded by
// replyTimeout instead.
func replyContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), replyTimeout)
}

// handOver shows the user a "working on it" message, runs send with a
// Reply naming it, and turns the message into the refusal or the
// hand-over failure when send reports one.
//
// A hand-over that ran out of time may still have reached the workflow,
// which may already have answered in that very message: saying "nothing
// was changed" then overwrites a true answer with a false one (the burst
// test caught it). So, when Temporal answers a health check, such a
// hand-over is asked once more with the same request ID, which Temporal
// takes once, and whose answer is the first one's. Only when that too goes
// unanswered does the bot say so, in a new message that leaves the working
// message to the workflow. When Temporal does not answer at all (it is
// down), no workflow can be answering either, and the bot says plainly
// that the request was not passed on.
func (a *App) handOver(ctx context.Context, u store.User, what string, send func(ctx context.Context, requestID string, reply *shop.Reply) error) {
	lang := u.Language
	working := a.sendWorking(ctx, u)
	requestID := fmt.Sprintf("bot:%s:%d:%s", what, u.TelegramID, uuid.NewString())
	try := func() error {
		hctx, cancel := context.WithTimeout(ctx, handOverTimeout)
		defer cancel()
		return send(hctx, requestID, &shop.Reply{MessageID: working})
	}
	err := try()
	unsure := err != nil && shop.MayHaveArrived(err) && a.temporalAnswers(ctx)
	if unsure {
		a.log.Warn("hand-over unanswered; asking again with the same request id", "user_id", u.TelegramID,
			"request", what, "request_id", requestID, "error", err)
		err = try()
	}
	if err == nil {
		a.log.Info("request handed over", "user_id", u.TelegramID, "request", what, "working_message", working)
		return
	}
	if r := shop.RefusalFrom(err); r.Refused() {
		a.log.Info("request refused", "user_id", u.TelegramID, "request", what, "reason", r.Type)
		a.edit(ctx, u.TelegramID, working, a.texts.T(lang, r.MessageID(), map[string]any{"Wait": i18n.FormatDuration(lang, r.Wait)}), a.render.BackKeyboard(lang))
		return
	}
	if unsure && shop.MayHaveArrived(err) {
		a.log.Error("request may not have been handed over; the user is told it is unsure", "user_id", u.TelegramID,
			"request", what, "request_id", requestID, "error", err)
		a.reply(ctx, u.TelegramID, a.texts.T(lang, "handover_unsure", nil), a.render.BackKeyboard(lang))
		return
	}
	a.log.Error("request not handed over", "user_id", u.TelegramID, "request", what, "error", err)
	a.edit(ctx, u.TelegramID, working, a.texts.T(lang, "busy_try_again", nil), a.render.BackKeyboard(lang))
}

// sendWorking sends the "working on it" message and returns its id, or 0
// when Telegram did not take it (the workflow then answers with a new
// message).
func (a *App) sendWorking(ctx context.Context, u store.User) int {
	a.answering(ctx)
	rctx, cancel := replyContext(ctx)
	defer cancel()
	id, err := a.tg.Send(rctx, telegram.Message{ChatID: u.TelegramID, Text: a.texts.T(u.Language, "working", nil)})
	if err != nil {
		a.log.Warn("send working message", "user_id", u.TelegramID, "error", err)
		return 0
	}
	return id
}

// healthWait bounds the health check that tells a slow Temporal from one
// that is down.
const healthWait = 2 * time.Second

// temporalAnswers reports whether Temporal's frontend answers a health
// check within healthWait.
func (a *App) temporalAnswers(ctx context.Context) bool {
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), healthWait)
	defer cancel()
	_, err := a.temporal.CheckHealth(hctx, &client.CheckHealthRequest{})
	return err == nil
}
