package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"vpnflow/internal/callback"
	"vpnflow/internal/dev/stack"
	"vpnflow/internal/store"
)

const webhookSecretHeader = "X-Telegram-Bot-Api-Secret-Token"

// TestTelegramWebhookMode runs the bot with Telegram pushing updates to it
// instead of long polling.
func TestTelegramWebhookMode(t *testing.T) {
	// The webhook URL must name the bot's address, so pick it up front.
	port, err := stack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	s := startShop(t, map[string]string{
		"HTTP_ADDR":            addr,
		"TELEGRAM_MODE":        "webhook",
		"TELEGRAM_WEBHOOK_URL": "http://" + addr + "/webhooks/telegram",
	})
	// devstack points the Crypto Pay stand-in at the port it picked itself.
	s.cp.SetWebhookURL("http://" + addr + "/webhooks/cryptopay")
	s.runInProcess()
	ctx := context.Background()

	// An ordinary conversation arrives by webhook.
	eve := s.register("Eve")

	// An update with a wrong or missing secret is refused before anything
	// reads it.
	trent := s.newUser("Trent") // has never written to the bot
	forgedStart := s.telegramUpdate(map[string]any{"message": map[string]any{
		"message_id": 1, "date": time.Now().Unix(), "text": "/start",
		"from":     map[string]any{"id": trent, "is_bot": false, "first_name": "Trent", "language_code": "en"},
		"chat":     map[string]any{"id": trent, "type": "private", "first_name": "Trent"},
		"entities": []map[string]any{{"type": "bot_command", "offset": 0, "length": 6}},
	}})
	if code := s.postTelegramWebhook(forgedStart, "wrong-secret"); code != http.StatusUnauthorized {
		t.Errorf("wrong secret: HTTP %d, want 401", code)
	}
	if code := s.postTelegramWebhook(forgedStart, ""); code != http.StatusUnauthorized {
		t.Errorf("no secret: HTTP %d, want 401", code)
	}
	s.waitLog("bot", "telegram webhook with a wrong secret refused", nil)

	// A callback no button of ours carries: paying from a balance of zero.
	// Only a modified client sends that, and Telegram delivers it like any
	// other press, so it is posted the way Telegram posts it, with the
	// secret.
	menu := s.waitText(eve, 0, "Eve")
	forgedPay := s.telegramUpdate(map[string]any{"callback_query": map[string]any{
		"id":            "forged-pay",
		"from":          map[string]any{"id": eve, "is_bot": false, "first_name": "Eve", "language_code": "en"},
		"chat_instance": "1",
		"data":          callback.MustEncode(callback.Data{Action: callback.Pay, Plan: "1m", Method: callback.MethodBalance}),
		"message": map[string]any{
			"message_id": menu.ID, "date": menu.Date.Unix(), "text": menu.Text,
			"from": map[string]any{"id": s.tg.Bot().ID, "is_bot": true, "first_name": s.tg.Bot().FirstName},
			"chat": map[string]any{"id": eve, "type": "private", "first_name": "Eve"},
		},
	}})
	after := s.lastID(eve)
	if code := s.postTelegramWebhook(forgedPay, s.cfg.TelegramWebhookToken); code != http.StatusOK {
		t.Fatalf("forged callback with the right secret: HTTP %d, want 200", code)
	}
	s.waitText(eve, after, "Not enough on your balance")
	if ps := s.purchases(eve); len(ps) != 0 {
		t.Fatalf("the refused payment left purchases: %+v", ps)
	}
	if n := s.allLedgerRows(eve); n != 0 {
		t.Fatalf("%d ledger rows, want none", n)
	}
	if b := s.balance(eve); b != 0 {
		t.Fatalf("balance %d, want 0", b)
	}

	// A Stars purchase: pre-checkout and payment arrive by webhook too.
	inv := s.starsInvoice(eve)
	charge, err := s.tg.PayStarsInvoice(ctx, eve, inv.ID)
	if err != nil {
		t.Fatalf("pay stars invoice: %v", err)
	}
	s.assertActive(eve, 30)
	p := s.latestPurchase(eve)
	s.settle(eve, p.ID.String())

	// Telegram delivers the successful_payment again (its confirmation was
	// lost, say). The purchase is credited already: no second credit, and
	// no "something went wrong" for a payment that went right.
	redelivered := s.telegramUpdate(map[string]any{"message": map[string]any{
		"message_id": s.lastID(eve) + 1, "date": time.Now().Unix(),
		"from": map[string]any{"id": eve, "is_bot": false, "first_name": "Eve", "language_code": "en"},
		"chat": map[string]any{"id": eve, "type": "private", "first_name": "Eve"},
		"successful_payment": map[string]any{
			"currency": "XTR", "total_amount": 150, "invoice_payload": p.ID.String(),
			"telegram_payment_charge_id": charge, "provider_payment_charge_id": "",
		},
	}})
	if code := s.postTelegramWebhook(redelivered, s.cfg.TelegramWebhookToken); code != http.StatusOK {
		t.Fatalf("redelivered payment: HTTP %d, want 200", code)
	}
	// It is handed to the purchase again (a late run, as its workflow has
	// closed), which finds it paid with this very charge.
	s.eventually("the bot to handle the redelivered payment", func() error {
		if len(s.logRecords("bot", "stars payment received")) < 2 {
			return errors.New("not yet")
		}
		return nil
	})
	s.settle(eve, p.ID.String())
	if s.countMessages(eve, "Something went wrong") != 0 || s.countMessages(eve, "refunded") != 0 {
		t.Fatalf("a repeated, already credited payment was treated as lost or extra:\n%s", s.conversation(eve))
	}
	if n := s.ledgerRows(eve, store.LedgerPayment); n != 1 {
		t.Fatalf("%d payment ledger rows, want 1", n)
	}
	if n := s.keyMessages(eve); n != 1 {
		t.Fatalf("%d key messages, want 1", n)
	}

	// The refused /start was never handled: the update posted after it was,
	// and Trent is still unknown to the shop.
	if _, err := s.store.GetUser(ctx, trent); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the forged /start registered its sender: %v", err)
	}
	if msgs := s.tg.Messages(trent); len(msgs) != 0 {
		t.Fatalf("the bot wrote to the forged sender: %+v", msgs)
	}
}

func (s *shopEnv) telegramUpdate(kind map[string]any) []byte {
	s.t.Helper()
	upd := map[string]any{"update_id": time.Now().UnixNano() % 1_000_000_000}
	for k, v := range kind {
		upd[k] = v
	}
	body, err := json.Marshal(upd)
	if err != nil {
		s.t.Fatal(err)
	}
	return body
}

// postTelegramWebhook posts an update to the bot's Telegram webhook with
// the given secret header ("" sends none) and returns the HTTP status.
func (s *shopEnv) postTelegramWebhook(body []byte, secret string) int {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+s.cfg.HTTPAddr+"/webhooks/telegram", bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set(webhookSecretHeader, secret)
	}
	return s.do(req)
}
