package telegram

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

func sendStarsInvoice(t *testing.T, b *bot.Bot, chatID int64, payload string, stars int) *models.Message {
	t.Helper()
	m, err := b.SendInvoice(waitCtx(t), &bot.SendInvoiceParams{
		ChatID:      chatID,
		Title:       "VPN, 1 month",
		Description: "One month of VPN access",
		Payload:     payload,
		Currency:    "XTR",
		Prices:      []models.LabeledPrice{{Label: "1 month", Amount: stars}},
	})
	if err != nil {
		t.Fatalf("SendInvoice: %v", err)
	}
	return m
}

// payingBot answers pre-checkout queries with decide and reports the
// payment service messages it receives.
func payingBot(t *testing.T, srv *Server, decide func(*models.PreCheckoutQuery) string) (chan *models.Message, chan *models.PreCheckoutQuery) {
	payments := make(chan *models.Message, 8)
	queries := make(chan *models.PreCheckoutQuery, 8)
	runBot(t, srv, bot.WithDefaultHandler(func(ctx context.Context, b *bot.Bot, u *models.Update) {
		switch {
		case u.PreCheckoutQuery != nil:
			queries <- u.PreCheckoutQuery
			reason := decide(u.PreCheckoutQuery)
			_, _ = b.AnswerPreCheckoutQuery(ctx, &bot.AnswerPreCheckoutQueryParams{
				PreCheckoutQueryID: u.PreCheckoutQuery.ID, OK: reason == "", ErrorMessage: reason,
			})
		case u.Message != nil && (u.Message.SuccessfulPayment != nil || u.Message.RefundedPayment != nil):
			payments <- u.Message
		}
	}))
	return payments, queries
}

func TestStarsPaymentAndRefund(t *testing.T) {
	srv := startServer(t, Options{})
	u := addStartedUser(t, srv, "Gus")
	payments, queries := payingBot(t, srv, func(*models.PreCheckoutQuery) string { return "" })
	b := newBot(t, srv)
	ctx := waitCtx(t)
	inv := sendStarsInvoice(t, b, u.ID, "purchase:17", 150)
	if inv.Invoice == nil || inv.Invoice.Currency != "XTR" || inv.Invoice.TotalAmount != 150 {
		t.Fatalf("sendInvoice returned invoice %+v", inv.Invoice)
	}

	charge, err := srv.PayStarsInvoice(ctx, u.ID, inv.ID)
	if err != nil {
		t.Fatalf("PayStarsInvoice: %v", err)
	}
	q := <-queries
	if q.From == nil || q.From.ID != u.ID || q.InvoicePayload != "purchase:17" || q.Currency != "XTR" || q.TotalAmount != 150 {
		t.Errorf("pre_checkout_query %+v", q)
	}
	paid := <-payments
	sp := paid.SuccessfulPayment
	if sp == nil || sp.TelegramPaymentChargeID != charge || sp.InvoicePayload != "purchase:17" || sp.Currency != "XTR" || sp.TotalAmount != 150 || paid.From.ID != u.ID {
		t.Errorf("successful_payment message %+v / %+v, want charge %s from the user", paid, sp, charge)
	}
	if got := srv.Messages(u.ID)[0].Invoice; got == nil || got.ChargeID != charge {
		t.Errorf("invoice after payment %+v, want it marked paid with the charge", got)
	}
	if _, err := srv.PayStarsInvoice(ctx, u.ID, inv.ID); err == nil || !strings.Contains(err.Error(), "already paid") {
		t.Errorf("paying twice: err = %v", err)
	}

	_, err = b.RefundStarPayment(ctx, &bot.RefundStarPaymentParams{UserID: u.ID + 1, TelegramPaymentChargeID: charge})
	if !strings.Contains(errString(err), "USER_ID_INVALID") {
		t.Errorf("refund to another user: err = %v", err)
	}
	if ok, err := b.RefundStarPayment(ctx, &bot.RefundStarPaymentParams{UserID: u.ID, TelegramPaymentChargeID: charge}); err != nil || !ok {
		t.Fatalf("RefundStarPayment = %v, %v", ok, err)
	}
	refund := <-payments
	if refund.RefundedPayment == nil || refund.RefundedPayment.TelegramPaymentChargeID != charge || refund.RefundedPayment.TotalAmount != 150 {
		t.Errorf("refunded_payment message %+v", refund.RefundedPayment)
	}
	_, err = b.RefundStarPayment(ctx, &bot.RefundStarPaymentParams{UserID: u.ID, TelegramPaymentChargeID: charge})
	if !errors.Is(err, bot.ErrorBadRequest) || !strings.Contains(err.Error(), "CHARGE_ALREADY_REFUNDED") {
		t.Errorf("second refund: err = %v", err)
	}
	_, err = b.RefundStarPayment(ctx, &bot.RefundStarPaymentParams{UserID: u.ID, TelegramPaymentChargeID: "stxnope"})
	if !errors.Is(err, bot.ErrorBadRequest) {
		t.Errorf("refund of an unknown charge: err = %v", err)
	}
	charges := srv.Charges()
	if len(charges) != 1 || !charges[0].Refunded || charges[0].Amount != 150 || charges[0].UserID != u.ID {
		t.Errorf("Charges = %+v", charges)
	}
}

func TestStarsPaymentDeclinedByBot(t *testing.T) {
	srv := startServer(t, Options{})
	u := addStartedUser(t, srv, "Hal")
	payingBot(t, srv, func(*models.PreCheckoutQuery) string { return "This plan is sold out" })
	b := newBot(t, srv)
	inv := sendStarsInvoice(t, b, u.ID, "purchase:18", 50)
	_, err := srv.PayStarsInvoice(waitCtx(t), u.ID, inv.ID)
	var declined *PaymentDeclinedError
	if !errors.As(err, &declined) || declined.Message != "This plan is sold out" {
		t.Fatalf("PayStarsInvoice err = %v, want the bot's error_message", err)
	}
	if len(srv.Charges()) != 0 || srv.Messages(u.ID)[0].Invoice.ChargeID != "" {
		t.Error("a declined payment left a charge behind")
	}
}

func TestStarsPaymentWithoutAnswerTimesOut(t *testing.T) {
	srv := startServer(t, Options{PreCheckoutTimeout: 100 * time.Millisecond})
	u := addStartedUser(t, srv, "Ivy")
	b := newBot(t, srv) // not polling: nobody answers
	inv := sendStarsInvoice(t, b, u.ID, "purchase:19", 10)
	_, err := srv.PayStarsInvoice(waitCtx(t), u.ID, inv.ID)
	if !errors.Is(err, ErrPreCheckoutTimeout) {
		t.Fatalf("err = %v, want ErrPreCheckoutTimeout", err)
	}
	// The query was withdrawn: a late answer is refused as Telegram does.
	var queryID string
	var updates []models.Update
	_, resp := postForm(t, srv, "getUpdates", nil)
	decodeResult(t, resp, &updates)
	for _, u := range updates {
		if u.PreCheckoutQuery != nil {
			queryID = u.PreCheckoutQuery.ID
		}
	}
	if queryID == "" {
		t.Fatal("no pre_checkout_query was queued")
	}
	_, err = b.AnswerPreCheckoutQuery(waitCtx(t), &bot.AnswerPreCheckoutQueryParams{PreCheckoutQueryID: queryID, OK: true})
	if !strings.Contains(errString(err), "query is too old") {
		t.Errorf("late answer: err = %v", err)
	}
}

func TestInvoiceValidation(t *testing.T) {
	srv := startServer(t, Options{})
	u := addStartedUser(t, srv, "Jon")
	b := newBot(t, srv)
	ctx := waitCtx(t)
	base := func() *bot.SendInvoiceParams {
		return &bot.SendInvoiceParams{ChatID: u.ID, Title: "t", Description: "d", Payload: "p", Currency: "XTR",
			Prices: []models.LabeledPrice{{Label: "x", Amount: 5}}}
	}
	cases := map[string]func(*bot.SendInvoiceParams){
		"provider token with stars": func(p *bot.SendInvoiceParams) { p.ProviderToken = "123:TEST" },
		"two prices in stars": func(p *bot.SendInvoiceParams) {
			p.Prices = append(p.Prices, models.LabeledPrice{Label: "y", Amount: 1})
		},
		"zero total":            func(p *bot.SendInvoiceParams) { p.Prices[0].Amount = 0 },
		"empty title":           func(p *bot.SendInvoiceParams) { p.Title = "" },
		"long payload":          func(p *bot.SendInvoiceParams) { p.Payload = strings.Repeat("p", 129) },
		"fiat without provider": func(p *bot.SendInvoiceParams) { p.Currency = "USD" },
	}
	for name, mutate := range cases {
		p := base()
		mutate(p)
		if _, err := b.SendInvoice(ctx, p); !errors.Is(err, bot.ErrorBadRequest) {
			t.Errorf("%s: err = %v, want a 400", name, err)
		}
	}
	if _, err := b.SendInvoice(ctx, base()); err != nil {
		t.Errorf("valid invoice: %v", err)
	}
}
