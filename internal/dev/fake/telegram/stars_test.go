package telegram

import (
	"testing"

	"github.com/go-telegram/bot"
	"github.com/go-telegram/bot/models"
)

// getStarTransactions lists payments and refunds oldest first, pages by
// offset and limit, and decodes with a real client's types.
func TestStarTransactions(t *testing.T) {
	srv := startServer(t, Options{})
	u := addStartedUser(t, srv, "Ida")
	payments, _ := payingBot(t, srv, func(*models.PreCheckoutQuery) string { return "" })
	b := newBot(t, srv)
	ctx := waitCtx(t)

	first, err := srv.PayStarsInvoice(ctx, u.ID, sendStarsInvoice(t, b, u.ID, "p1", 150).ID)
	if err != nil {
		t.Fatal(err)
	}
	<-payments
	second, err := srv.PayStarsInvoice(ctx, u.ID, sendStarsInvoice(t, b, u.ID, "p2", 20).ID)
	if err != nil {
		t.Fatal(err)
	}
	<-payments
	if _, err := b.RefundStarPayment(ctx, &bot.RefundStarPaymentParams{UserID: u.ID, TelegramPaymentChargeID: first}); err != nil {
		t.Fatal(err)
	}

	all, err := b.GetStarTransactions(ctx, &bot.GetStarTransactionsParams{})
	if err != nil {
		t.Fatalf("getStarTransactions: %v", err)
	}
	tx := all.Transactions
	if len(tx) != 3 {
		t.Fatalf("%d transactions, want 3: %+v", len(tx), tx)
	}
	in := func(i int, id string, amount int, payload string) {
		t.Helper()
		s := tx[i].Source
		if tx[i].ID != id || tx[i].Amount != amount || tx[i].Date == 0 || tx[i].Receiver != nil ||
			s == nil || s.Type != models.TransactionPartnerTypeUser || s.User == nil || s.User.User.ID != u.ID || s.User.InvoicePayload != payload {
			t.Errorf("transaction %d: %+v (source %+v), want payment %s of %d for %s", i, tx[i], s, id, amount, payload)
		}
	}
	in(0, first, 150, "p1")
	in(1, second, 20, "p2")
	if r := tx[2].Receiver; tx[2].ID != first || tx[2].Source != nil || r == nil || r.Type != models.TransactionPartnerTypeUser || r.User.User.ID != u.ID {
		t.Errorf("refund transaction %+v, want receiver the user and the payment's id", tx[2])
	}

	page, err := b.GetStarTransactions(ctx, &bot.GetStarTransactionsParams{Offset: 1, Limit: 1})
	if err != nil || len(page.Transactions) != 1 || page.Transactions[0].ID != second {
		t.Fatalf("offset 1 limit 1: %+v, %v", page, err)
	}
	if _, err := b.GetStarTransactions(ctx, &bot.GetStarTransactionsParams{Limit: 101}); err == nil {
		t.Error("limit 101 accepted")
	}
	if charges := srv.Charges(); len(charges) != 2 || !charges[0].Refunded || charges[0].RefundedAt.IsZero() || charges[1].Refunded {
		t.Errorf("charges %+v, want the first refunded", charges)
	}
}

// A forwarded invoice keeps its Pay button only without a start_parameter.
func TestForwardedInvoice(t *testing.T) {
	srv := startServer(t, Options{})
	u := addStartedUser(t, srv, "Jo")
	b := newBot(t, srv)
	plain := sendStarsInvoice(t, b, u.ID, "p1", 1)
	withParam, err := b.SendInvoice(waitCtx(t), &bot.SendInvoiceParams{
		ChatID: u.ID, Title: "VPN", Description: "30 days", Payload: "p2", Currency: "XTR",
		Prices: []models.LabeledPrice{{Label: "1m", Amount: 1}}, StartParameter: "pay_p2",
	})
	if err != nil {
		t.Fatal(err)
	}
	if payable, link, err := srv.ForwardedInvoice(u.ID, plain.ID); err != nil || !payable || link != "" {
		t.Errorf("without start_parameter: payable %v link %q %v, want payable", payable, link, err)
	}
	if payable, link, err := srv.ForwardedInvoice(u.ID, withParam.ID); err != nil || payable || link != "https://t.me/vpnflow_sandbox_bot?start=pay_p2" {
		t.Errorf("with start_parameter: payable %v link %q %v, want a deep link", payable, link, err)
	}
}
