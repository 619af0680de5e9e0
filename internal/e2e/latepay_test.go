package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"vpnflow/internal/botapp"
	"vpnflow/internal/config"
	fakecp "vpnflow/internal/dev/fake/cryptopay"
	faketg "vpnflow/internal/dev/fake/telegram"
	"vpnflow/internal/schedules"
	"vpnflow/internal/shop"
	"vpnflow/internal/store"
	"vpnflow/internal/telemetry"
	"vpnflow/internal/workerapp"
)

// A Crypto Pay webhook for an invoice paid after its purchase's workflow
// closed credits it: it used to be answered 200 and dropped.
func TestLateWebhookCredited(t *testing.T) {
	s := startShop(t, nil)
	s.runInProcess()
	gwen := s.register("Gwen")
	inv := s.buyWithCryptoPay(gwen, "30 days")
	p := s.waitPurchaseStatus(s.latestPurchase(gwen), shop.PurchaseInvoiced)
	s.closePurchase(p)

	if err := s.cp.Pay(inv.InvoiceID); err != nil {
		t.Fatal(err)
	}
	s.assertActive(gwen, 30)
	got := s.waitPurchaseStatus(p, shop.PurchasePaid)
	if got.ProviderInvoiceID != fmt.Sprint(inv.InvoiceID) {
		t.Fatalf("purchase %+v, want paid by invoice %d", got, inv.InvoiceID)
	}
	s.settle(gwen, p.ID.String())
	if n := s.ledgerRows(gwen, store.LedgerPayment); n != 1 {
		t.Fatalf("%d payment ledger rows, want 1", n)
	}
	if n := s.keyMessages(gwen); n != 1 {
		t.Fatalf("%d key messages, want 1", n)
	}
}

// A paid invoice whose webhook never came and whose workflow closed is
// found by the payments sweep's getInvoices(status=paid) and credited.
func TestDroppedLateWebhookFoundBySweep(t *testing.T) {
	s := startShop(t, nil)
	s.runInProcess()
	hana := s.register("Hana")
	inv := s.buyWithCryptoPay(hana, "30 days")
	if err := s.cp.SetInvoiceWebhookBehavior(inv.InvoiceID, fakecp.WebhookBehavior{Drop: true}); err != nil {
		t.Fatal(err)
	}
	p := s.waitPurchaseStatus(s.latestPurchase(hana), shop.PurchaseInvoiced)
	s.closePurchase(p)
	if err := s.cp.Pay(inv.InvoiceID); err != nil {
		t.Fatal(err)
	}

	// The scheduled sweep may get there first; either way a sweep is the
	// only thing that can find this payment.
	res := s.runSweep(schedules.PaymentsSweepInput{})
	t.Logf("sweep: %+v", res)
	s.assertActive(hana, 30)
	s.waitPurchaseStatus(p, shop.PurchasePaid)
	s.settle(hana, p.ID.String())
	if n := s.ledgerRows(hana, store.LedgerPayment); n != 1 {
		t.Fatalf("%d payment ledger rows, want 1", n)
	}
	// A second sweep finds nothing left to do.
	if res := s.runSweep(schedules.PaymentsSweepInput{}); res.InvoicesResent != 0 {
		t.Fatalf("second sweep %+v, want nothing handed over", res)
	}
}

// A Stars payment that arrives while the bot cannot reach Temporal is
// recorded first and credited by the payments sweep once Temporal is back;
// it used to be logged "credit or refund by hand".
func TestStarsPaymentWhileTemporalUnreachable(t *testing.T) {
	t.Parallel() // waits on the shop's clocks most of its time (harness: parallel)
	s := startShop(t, nil)
	proxy := newSwitchProxy(t, s.cfg.TemporalAddress)
	s.startComponent("worker", func(ctx context.Context, cfg config.Config, tel *telemetry.Telemetry) error {
		return workerapp.Run(ctx, cfg, tel)
	})
	s.startComponent("bot", func(ctx context.Context, cfg config.Config, tel *telemetry.Telemetry) error {
		cfg.TemporalAddress = proxy.l.Addr().String()
		return botapp.Run(ctx, cfg, tel)
	})
	s.waitReady()
	ctx := context.Background()

	ivy := s.register("Ivy")
	inv := s.starsInvoice(ivy)
	p := s.latestPurchase(ivy)
	// Temporal goes away right after the bot approved the checkout.
	s.tg.OnPreCheckoutAnswer(func(ok bool) {
		if ok {
			proxy.setUp(false)
		}
	})
	charge, err := s.tg.PayStarsInvoice(ctx, ivy, inv.ID)
	if err != nil {
		t.Fatalf("pay: %v", err)
	}
	s.tg.OnPreCheckoutAnswer(nil)
	s.waitLog("bot", "stars payment recorded but not signalled; the payments sweep credits it", nil)
	if sp, err := s.store.GetStarPayment(ctx, charge); err != nil || sp.HandledAt != nil || sp.PurchaseID == nil || *sp.PurchaseID != p.ID {
		t.Fatalf("star payment %+v, %v: want recorded, unhandled, for the purchase", sp, err)
	}
	if got, _ := s.store.GetPurchase(ctx, p.ID); got.Status == shop.PurchasePaid {
		t.Fatal("credited without a signal?")
	}

	proxy.setUp(true)
	time.Sleep(1500 * time.Millisecond) // past the sweep's grace below
	res := s.runSweep(schedules.PaymentsSweepInput{StarGrace: time.Second})
	if res.StarsResent != 1 || res.StarsFound != 0 {
		// The scheduled sweep cannot have taken it: its grace is minutes.
		t.Fatalf("sweep %+v, want the recorded payment handed over and nothing new in Telegram's list", res)
	}
	s.assertActive(ivy, 30)
	got := s.waitPurchaseStatus(p, shop.PurchasePaid)
	if got.ProviderChargeID != charge {
		t.Fatalf("purchase %+v, want paid with %s", got, charge)
	}
	s.settle(ivy, p.ID.String())
	if n := s.ledgerRows(ivy, store.LedgerPayment); n != 1 {
		t.Fatalf("%d payment ledger rows, want 1", n)
	}
	s.runSweep(schedules.PaymentsSweepInput{StarGrace: time.Second})
	if sp, err := s.store.GetStarPayment(ctx, charge); err != nil || sp.Outcome == nil || *sp.Outcome != store.StarCredited {
		t.Fatalf("star payment %+v, %v: want marked credited", sp, err)
	}
}

// A second Stars invoice for one purchase (a retried sendInvoice): once the
// first is paid the bot refuses its checkout; and a charge that got through
// anyway (approved by an older bot, say) is refunded through
// refundStarPayment, booked and reported, never dropped.
func TestExtraStarsChargeRefunded(t *testing.T) {
	s := startShop(t, nil)
	s.runInProcess()
	ctx := context.Background()

	jay := s.register("Jay")
	inv := s.starsInvoice(jay)
	p := s.latestPurchase(jay)
	// A forwarded copy cannot be paid: its button opens the bot, which
	// shows the menu.
	payable, link, err := s.tg.ForwardedInvoice(jay, inv.ID)
	if err != nil || payable || !strings.Contains(link, "?start=pay_") {
		t.Fatalf("forwarded invoice: payable %v, link %q, %v; want a deep link, no Pay button", payable, link, err)
	}
	after := s.lastID(jay)
	s.say(jay, "/start "+link[strings.Index(link, "=")+1:])
	s.waitText(jay, after, "Jay")
	copyOf := func() faketg.Message {
		var m struct {
			MessageID int `json:"message_id"`
		}
		s.botCall("sendInvoice", url.Values{
			"chat_id": {fmt.Sprint(jay)}, "title": {"VPN"}, "description": {"30 days"}, "payload": {p.ID.String()},
			"currency": {"XTR"}, "prices": {`[{"label":"1m","amount":150}]`},
		}, &m)
		for _, msg := range s.tg.Messages(jay) {
			if msg.ID == m.MessageID {
				return msg
			}
		}
		t.Fatal("invoice copy not found")
		return faketg.Message{}
	}
	second, third := copyOf(), copyOf()

	charge, err := s.tg.PayStarsInvoice(ctx, jay, inv.ID)
	if err != nil {
		t.Fatal(err)
	}
	s.assertActive(jay, 30)
	s.settle(jay, p.ID.String())

	// The copy: the bot refuses, Telegram takes nothing.
	var declined *faketg.PaymentDeclinedError
	if _, err := s.tg.PayStarsInvoice(ctx, jay, second.ID); !errors.As(err, &declined) {
		t.Fatalf("paying a copy of a paid invoice: %v, want the bot to decline", err)
	}

	// The other copy is paid while the bot is away, its checkout approved
	// by something else; the bot comes back to the successful_payment.
	s.stopComponent("bot")
	paid := make(chan string, 1)
	go func() {
		c, err := s.tg.PayStarsInvoice(ctx, jay, third.ID)
		if err != nil {
			t.Errorf("pay the third copy: %v", err)
		}
		paid <- c
	}()
	offset := s.approveAsBot()
	extra := <-paid
	s.botCall("getUpdates", url.Values{"offset": {fmt.Sprint(offset)}, "timeout": {"0"}}, nil) // confirm up to the query
	s.startComponent("bot", func(ctx context.Context, cfg config.Config, tel *telemetry.Telemetry) error {
		return botapp.Run(ctx, cfg, tel)
	})
	s.waitReady()

	s.eventually("the extra charge to be refunded", func() error {
		for _, c := range s.tg.Charges() {
			if c.ID == extra && c.Refunded {
				return nil
			}
		}
		return errors.New("not refunded yet")
	})
	s.settle(jay, p.ID.String())
	for _, c := range s.tg.Charges() {
		if c.ID == charge && c.Refunded {
			t.Fatal("the charge that paid was refunded")
		}
	}
	s.eventually("the refund to be booked", func() error {
		if s.ledgerRows(jay, store.LedgerStarsExtra) != 1 || s.ledgerRows(jay, store.LedgerStarsExtraRefund) != 1 {
			return errors.New("not booked yet")
		}
		return nil
	})
	if sp, err := s.store.GetStarPayment(ctx, extra); err != nil || sp.Outcome == nil || *sp.Outcome != store.StarRefunded {
		t.Fatalf("extra star payment %+v, %v: want refunded", sp, err)
	}
	s.waitFor(jay, 0, "the refund notice", func(m faketg.Message) bool { return strings.Contains(m.Text, "has been refunded") })
	if n := s.ledgerRows(jay, store.LedgerPayment); n != 1 {
		t.Fatalf("%d payment ledger rows, want 1", n)
	}
	if n := s.keyMessages(jay); n != 1 {
		t.Fatalf("%d key messages, want 1", n)
	}
}

// A successful_payment that the bot never handled (taken from getUpdates
// and lost in a restart: Telegram does not send it again) is found in
// getStarTransactions by the payments sweep, recorded and credited.
func TestLostStarsUpdateFoundInTelegramList(t *testing.T) {
	s := startShop(t, nil)
	s.runInProcess()
	ctx := context.Background()

	kim := s.register("Kim")
	inv := s.starsInvoice(kim)
	p := s.latestPurchase(kim)
	s.stopComponent("bot")
	paid := make(chan string, 1)
	go func() {
		c, err := s.tg.PayStarsInvoice(ctx, kim, inv.ID)
		if err != nil {
			t.Errorf("pay: %v", err)
		}
		paid <- c
	}()
	// Approved as the bot would (the workflow's own validation), then the
	// successful_payment is acknowledged and lost.
	if err := approveInWorkflow(ctx, s, p, kim); err != nil {
		t.Fatal(err)
	}
	offset := s.approveAsBot()
	charge := <-paid
	var upds []struct {
		UpdateID int64 `json:"update_id"`
	}
	s.botCall("getUpdates", url.Values{"offset": {fmt.Sprint(offset)}, "timeout": {"1"}}, &upds)
	if len(upds) == 0 {
		t.Fatal("no successful_payment update")
	}
	s.botCall("getUpdates", url.Values{"offset": {fmt.Sprint(upds[len(upds)-1].UpdateID + 1)}, "timeout": {"0"}}, nil)
	s.startComponent("bot", func(ctx context.Context, cfg config.Config, tel *telemetry.Telemetry) error {
		return botapp.Run(ctx, cfg, tel)
	})
	s.waitReady()
	if _, err := s.store.GetStarPayment(ctx, charge); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the lost payment is known to the database already: %v", err)
	}

	time.Sleep(1500 * time.Millisecond)
	res := s.runSweep(schedules.PaymentsSweepInput{StarGrace: time.Second})
	if res.StarsFound != 1 || res.StarsResent != 1 {
		t.Fatalf("sweep %+v, want the payment found in Telegram's list and handed over", res)
	}
	s.assertActive(kim, 30)
	if got := s.waitPurchaseStatus(p, shop.PurchasePaid); got.ProviderChargeID != charge {
		t.Fatalf("purchase %+v, want paid with %s", got, charge)
	}
	s.settle(kim, p.ID.String())
	if n := s.ledgerRows(kim, store.LedgerPayment); n != 1 {
		t.Fatalf("%d payment ledger rows, want 1", n)
	}
	// The next sweep reads on from where this one stopped and finds nothing.
	if res := s.runSweep(schedules.PaymentsSweepInput{StarGrace: time.Second}); res.StarsFound != 0 || res.StarsResent != 0 {
		t.Fatalf("second sweep %+v, want nothing", res)
	}
}
