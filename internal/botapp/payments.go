package botapp

import (
	"context"
	"errors"
	"html"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"

	"vpnflow/internal/cryptopay"
	"vpnflow/internal/shop"
	"vpnflow/internal/store"
	"vpnflow/internal/telegram"
)

// maxWebhookBody caps a Crypto Pay webhook; real ones are a few KiB.
const maxWebhookBody = 64 << 10

// preCheckout answers Telegram's pre_checkout_query (it must be answered
// within 10 seconds) after the Purchase workflow validates it: right user,
// exact amount, still awaiting payment. Only then does Telegram charge.
func (a *App) preCheckout(ctx context.Context, q *telegram.PreCheckoutQuery) {
	ctx, cancel := context.WithTimeout(ctx, 8*time.Second)
	defer cancel()
	err := a.approveCheckout(ctx, q)
	reason := ""
	if err != nil {
		a.log.Warn("pre-checkout refused", "user_id", q.From.ID, "payload", truncate(q.InvoicePayload, 64), "error", err)
		reason = a.checkoutRefusal(ctx, q)
	}
	a.answering(ctx)
	if err := a.tg.AnswerPreCheckout(context.WithoutCancel(ctx), q.ID, err == nil, reason); err != nil {
		a.log.Error("answer pre-checkout", "user_id", q.From.ID, "error", err)
	}
}

// checkoutRefusal is the reason Telegram shows the user for a refused
// payment. Telegram shows it as plain text, so the catalogue's HTML is
// reduced to its text.
func (a *App) checkoutRefusal(ctx context.Context, q *telegram.PreCheckoutQuery) string {
	lang := a.langOf(ctx, q.From)
	if id, err := uuid.Parse(q.InvoicePayload); err == nil {
		if p, err := a.store.GetPurchase(ctx, id); err == nil {
			switch p.Status {
			case shop.PurchasePaid, shop.PurchaseRefunded:
				// Another copy of the invoice was paid already.
				return plainText(a.texts.T(lang, "payment_received", nil))
			case shop.PurchaseExpired, shop.PurchaseFailed:
				return plainText(a.texts.T(lang, "purchase_expired", map[string]any{"Plan": p.PlanID}))
			}
			// Still awaiting payment: an approved checkout may still be
			// paying, or Temporal did not answer in time. The invoice is
			// live, so the user pays it again in a moment.
			return plainText(a.texts.T(lang, "checkout_try_again", nil))
		}
	}
	return plainText(a.texts.T(lang, "error_generic", nil))
}

// plainText strips the tags from catalogue HTML (a small, well-formed
// subset: b, i, code, a) and unescapes its entities.
func plainText(s string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		j := strings.IndexByte(s[i:], '>')
		if j < 0 {
			break
		}
		s = s[i+j+1:]
	}
	return html.UnescapeString(b.String())
}

func (a *App) approveCheckout(ctx context.Context, q *telegram.PreCheckoutQuery) error {
	id, err := uuid.Parse(q.InvoicePayload)
	if err != nil {
		return errors.New("payload is not a purchase id")
	}
	h, err := a.temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: shop.PurchaseWorkflowID(id.String()), UpdateName: shop.UpdateApproveCheckout,
		Args:         []any{shop.CheckoutRequest{UserID: q.From.ID, Amount: int64(q.TotalAmount), Currency: q.Currency}},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return err
	}
	return h.Get(ctx, nil)
}

// successfulPayment hands a Stars payment to its Purchase workflow.
// go-telegram/bot has acknowledged the update before this runs and
// Telegram never sends it again, so the first thing done is one short
// INSERT into star_payments: from then on the payments sweep credits it
// (or refunds it) whatever happens here. Then it is signalled through the
// same signal-with-start path the sweep uses (shop.SendPayment),
// so a purchase whose workflow has closed is still settled. Should even
// the INSERT fail, the sweep's reading of getStarTransactions finds the
// charge.
func (a *App) successfulPayment(ctx context.Context, m *telegram.Incoming) {
	sp := m.SuccessfulPayment
	log := a.log.With("user_id", m.From.ID, "charge_id", sp.TelegramPaymentChargeID, "payload", truncate(sp.InvoicePayload, 64))
	ctx = context.WithoutCancel(ctx)
	rec := store.StarPayment{
		ChargeID: sp.TelegramPaymentChargeID, UserID: m.From.ID, Amount: int64(sp.TotalAmount),
		Currency: sp.Currency, Source: store.StarSourceBot,
	}
	id, perr := uuid.Parse(sp.InvoicePayload)
	if perr == nil {
		rec.PurchaseID = &id
	}
	recorded := a.recordStarPayment(ctx, rec, log)
	lang := a.langOf(ctx, m.From)
	if perr != nil {
		// No purchase to credit: the payments sweep refunds it.
		log.Error("successful payment for an unknown payload; the payments sweep refunds it", "recorded", recorded)
		a.reply(ctx, m.From.ID, a.texts.T(lang, "error_generic", nil), nil)
		return
	}
	pay := shop.Payment{
		Provider: shop.ProviderStars, ChargeID: sp.TelegramPaymentChargeID, Source: shop.SourceTelegram,
		UserID: m.From.ID, Amount: int64(sp.TotalAmount),
	}
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err = shop.SendPayment(sctx, a.temporal, a.cfg.TaskQueue, id.String(), pay)
		cancel()
		if err == nil {
			break
		}
		time.Sleep(time.Duration(attempt) * time.Second)
	}
	switch {
	case err == nil:
		log.Info("stars payment received")
	case recorded:
		log.Warn("stars payment recorded but not signalled; the payments sweep credits it", "error", err)
	default:
		log.Error("stars payment neither recorded nor signalled; the getStarTransactions sweep credits it", "error", err)
	}
	// The payment is the user's either way: credited now or by the sweep.
	a.reply(ctx, m.From.ID, a.texts.T(lang, "payment_received", nil), nil)
}

// recordStarPayment writes the star_payments row, retrying briefly; it
// reports whether the row is there.
func (a *App) recordStarPayment(ctx context.Context, rec store.StarPayment, log *slog.Logger) bool {
	for attempt := 1; ; attempt++ {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := a.store.RecordStarPayment(rctx, rec)
		cancel()
		if err == nil {
			return true
		}
		if attempt == 3 {
			log.Error("stars payment not recorded", "error", err)
			return false
		}
		time.Sleep(time.Duration(attempt) * time.Second)
	}
}

// cryptoPayWebhook receives Crypto Pay's invoice_paid updates. A bad or
// missing signature is refused with 401 and no side effect. The answer is
// 200 only once Temporal has durably accepted the payment signal; if
// Temporal is unavailable it is 503, and Crypto Pay retries.
func (a *App) cryptoPayWebhook(w http.ResponseWriter, r *http.Request) {
	upd, err := cryptopay.ParseWebhook(a.cfg.CryptoPayToken, r, maxWebhookBody)
	switch {
	case errors.Is(err, cryptopay.ErrBadSignature):
		a.log.Warn("crypto pay webhook with a bad signature refused", "remote", r.RemoteAddr)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	case errors.Is(err, cryptopay.ErrBodyTooLarge):
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	case err != nil:
		a.log.Warn("malformed crypto pay webhook", "error", err)
		http.Error(w, "malformed update", http.StatusBadRequest)
		return
	}
	log := a.log.With("update_id", upd.UpdateID, "invoice_id", upd.Payload.InvoiceID)
	if upd.UpdateType != cryptopay.UpdateInvoicePaid {
		log.Info("crypto pay webhook ignored", "type", upd.UpdateType)
		w.WriteHeader(http.StatusOK)
		return
	}
	id, err := uuid.Parse(upd.Payload.Payload)
	if err != nil {
		// Not one of ours (another app on the same account?): nothing to do,
		// and retrying will not change that.
		log.Warn("crypto pay webhook for an invoice we did not create", "payload", truncate(upd.Payload.Payload, 64))
		w.WriteHeader(http.StatusOK)
		return
	}
	// Bounded well inside Crypto Pay's own patience; a timeout is a 503 and
	// Crypto Pay retries.
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	// Signal-with-start: a purchase whose workflow has closed (credited
	// already, or past its grace period) gets a late run that credits it
	// if it is not yet paid.
	err = shop.SendPayment(ctx, a.temporal, a.cfg.TaskQueue, id.String(), shop.Payment{
		Provider: shop.ProviderCryptoPay, InvoiceID: strconv.FormatInt(upd.Payload.InvoiceID, 10), Source: shop.SourceWebhook,
	})
	switch {
	case err == nil:
		log.Info("crypto pay payment signalled", "purchase_id", id)
		w.WriteHeader(http.StatusOK)
	default:
		log.Error("crypto pay webhook not delivered to temporal; asking for a retry", "purchase_id", id, "error", err)
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
	}
}
